"""The examples the docs include are run here, so every one of them works as shown.

- every `docs/examples/*.py` is imported by path and its `main()` run;
- every `docs/examples/*.yaml` must load, and when its first rule matches any request, is
  played once through the openai SDK: the first reply must be what the client gets;
- every `docs/examples/invalid/*.yaml` must fail `sparring validate` with exactly the output
  in the `.txt` file beside it, which the docs show;
- the YAML blocks in README.md must be valid scenarios.
"""

from __future__ import annotations

import importlib.util
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
