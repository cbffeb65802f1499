"""The examples the docs include are run here, so every one of them works as shown.

- every `docs/examples/*.py` is imported by path and its `main()` run;
- every `docs/examples/*.yaml` must load, and when its first rule matches any request, is
  played once through the openai SDK: the first reply must be what the client gets;
- every `docs/examples/invalid/*.yaml` must fail `sparring validate` with exactly the output
  in the `.txt` file beside it, which the docs show;
- the YAML blocks in README.md must be valid scenarios;
- the pytest plugin examples, `docs/examples/plugin/test_*.py`, are user test files: pytest
  runs the folder in a subprocess, under the folder's own `pytest.ini`, and every test passes
  (the snapshots in its `__snapshots__` included);
- `docs/examples/plugin/failing/` fails on purpose: its report must show the `.txt` files
  beside it, which the docs show (times and byte counts aside; `...` stands for any lines).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from sparring import ErrorReply, FakeServer, Match, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
PYTHON_EXAMPLES = sorted(EXAMPLES.glob("*.py"))
YAML_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.yaml"))
PLUGIN_EXAMPLES = EXAMPLES / "plugin"


def test_examples_exist() -> None:
    assert PYTHON_EXAMPLES
    assert YAML_EXAMPLES
    assert INVALID_EXAMPLES


@pytest.mark.parametrize("path", PYTHON_EXAMPLES, ids=lambda p: p.name)
def test_python_example_runs(path: Path) -> None:
    name = f"sparring_docs_example_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        module.main()
    finally:
        del sys.modules[name]


@pytest.mark.parametrize("path", YAML_EXAMPLES, ids=lambda p: p.name)
def test_yaml_example_loads_and_plays(path: Path) -> None:
    scenario = load_scenario(path)
    first_rule = scenario.rules[0]
    if first_rule.match != Match():
        return  # its requests need a particular shape; loading it is the check
    first_reply = first_rule.replies[0]
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        request = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if isinstance(first_reply, ErrorReply):
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(**request)
            assert caught.value.status_code >= 400
        else:
            with client.chat.completions.create(**request) as stream:
                chunks = list(stream)
            finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
            assert finish
            assert chunks[-1].usage is not None
        entry = server.journal()[0]
    assert entry.answered_by is not None
    assert entry.answered_by.startswith("rule 1, reply 1: ")


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_invalid_example_output(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    result = subprocess.run(
        [sys.executable, "-m", "sparring", "validate", relative],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == path.with_suffix(".txt").read_text(encoding="utf-8")


def test_readme_yaml_blocks_are_scenarios() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        assert parse_scenario(block, source="README.md").rules


def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, from the repository root, as a user would run it: the plugin
    examples' own pytest.ini applies. A fixed width and no colours, for comparable reports."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "FORCE_COLOR"))}
    env.update(COLUMNS="80", PY_COLORS="0")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=50)


def test_plugin_examples_pass() -> None:
    tests = sum(
        len(re.findall(r"^(?:async )?def test_", path.read_text(encoding="utf-8"), flags=re.MULTILINE))
        for path in PLUGIN_EXAMPLES.glob("test_*.py")
    )
    assert tests
    result = run_pytest(PLUGIN_EXAMPLES.relative_to(ROOT).as_posix(), "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"^{tests} passed in ", result.stdout, flags=re.MULTILINE), result.stdout
    snapshots = len(list((PLUGIN_EXAMPLES / "__snapshots__").rglob("*.txt")))
    assert f"{snapshots} snapshots passed." in result.stdout


def comparable(lines: list[str]) -> list[str]:
    return [re.sub(r"\d+ bytes", "N bytes", re.sub(r"\d+\.\d{3}s\b", "T.TTTs", line)) for line in lines]


def shown_in(expected: list[str], output: list[str]) -> bool:
    """Whether `output` has the lines of `expected` in order, each run of them consecutive;
    a line `...` in `expected` stands for any number of lines."""
    runs: list[list[str]] = [[]]
    for line in expected:
        if line == "...":
            runs.append([])
        else:
            runs[-1].append(line)
    start = 0
    for run in runs:
        found = next(
            (i for i in range(start, len(output) - len(run) + 1) if output[i : i + len(run)] == run),
            None,
        )
        if found is None:
            return False
        start = found + len(run)
    return True


def test_plugin_failure_reports_are_what_the_docs_show() -> None:
    failing = PLUGIN_EXAMPLES / "failing"
    result = run_pytest((failing / "strict_teardown.py").relative_to(ROOT).as_posix())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "= 1 failed, 1 passed, 1 error in " in result.stdout
    output = comparable(result.stdout.splitlines())
    shown = sorted(failing.glob("*.txt"))
    assert shown
    for path in shown:
        assert shown_in(comparable(path.read_text(encoding="utf-8").splitlines()), output), (
            f"{path.name} is not in the report:\n{result.stdout}"
        )
