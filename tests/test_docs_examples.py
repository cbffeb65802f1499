"""The examples the docs include are run here, so every one of them works as shown.

- every `docs/examples/*.py` and `docs/examples/explanation/*.py` is imported by path and its
  `main()` run;
- every `docs/examples/*.yaml` must load, and when its first rule matches any request, is
  played once through the openai SDK: the first reply must be what the client gets;
- every `docs/examples/invalid/*.yaml` must fail `sparring validate` with exactly the output
  in the `.txt` file beside it, which the docs show;
- the YAML blocks in README.md must be valid scenarios;
- the pytest plugin examples, `docs/examples/plugin/test_*.py`, are user test files: pytest
  runs the folder in a subprocess, under the folder's own `pytest.ini`, and every test passes
  (the snapshots in its `__snapshots__` included);
- `docs/examples/plugin/failing/` fails on purpose: its report must show the `.txt` files
  beside it, which the docs show (times and byte counts aside; `...` stands for any lines);
- the tutorial's project, `docs/examples/tutorial/`, passes as committed, under pytest-xdist
  too; and built up step by step as the tutorial page builds it, from the snippet sections of
  its test file, each step's run shows what the page shows (`tutorial/output/*.txt`);
- the scenario file schema the docs include, `docs/generated/scenario-schema.md`, is what
  `docs/gen_schema.py` makes from the model now; every key has a meaning and an example, every
  example loads, and the reference page shows every table.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import openai
import pytest
from openai import OpenAI

from sparring import ErrorReply, FakeServer, Match, load_scenario, parse_scenario
from tests.inner_pytest import run_pytest
from tests.legs import main_leg_only

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
PYTHON_EXAMPLES = sorted(EXAMPLES.glob("*.py")) + sorted(EXAMPLES.glob("explanation/*.py"))
YAML_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))
INVALID_EXAMPLES = sorted((EXAMPLES / "invalid").glob("*.yaml"))
PLUGIN_EXAMPLES = EXAMPLES / "plugin"
TUTORIAL = EXAMPLES / "tutorial"


def test_examples_exist() -> None:
    assert PYTHON_EXAMPLES
    assert YAML_EXAMPLES
    assert INVALID_EXAMPLES


def import_path(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@pytest.mark.parametrize("path", PYTHON_EXAMPLES, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_python_example_runs(path: Path) -> None:
    name = "sparring_docs_example_" + "_".join(path.relative_to(EXAMPLES).with_suffix("").parts)
    module = import_path(path, name)
    try:
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


# Whole pytest runs in subprocesses: 7-16 s each alone, up to 4x that on a busy 2-core
# machine. Their limits (run_pytest's 120 s, 240 s a test) leave room for that, and a third again.
SESSIONS = pytest.mark.timeout(240)


@SESSIONS
def test_plugin_examples_pass() -> None:
    tests = sum(
        len(re.findall(r"^(?:async )?def test_", path.read_text(encoding="utf-8"), flags=re.MULTILINE))
        for path in PLUGIN_EXAMPLES.glob("test_*.py")
    )
    assert tests
    result = run_pytest(PLUGIN_EXAMPLES.relative_to(ROOT).as_posix(), "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    # Every test passed, none skipped; parametrized ones (anyio's backends: asyncio, and trio
    # where it is installed) more than once.
    passed = re.search(r"^(\d+) passed in ", result.stdout, flags=re.MULTILINE)
    assert passed, result.stdout
    assert int(passed[1]) >= tests, result.stdout
    snapshots = len(list((PLUGIN_EXAMPLES / "__snapshots__").rglob("*.txt")))
    assert f"{snapshots} snapshots passed." in result.stdout


def comparable(lines: list[str]) -> list[str]:
    """Lines with times and byte counts masked, and pytest's summary line without its padding."""
    masked = [re.sub(r"\d+ bytes", "N bytes", re.sub(r"\d+\.\d{2,3}s\b", "T.TTTs", line)) for line in lines]
    return [re.sub(r"^=+ (.+ in T\.TTTs) =+$", r"= \1 =", line) for line in masked]


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
    main_leg_only("the plugin's failure report")
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


@SESSIONS
def test_tutorial_passes_as_committed() -> None:
    """The tutorial's project, snapshot included, as a CI job would run it: with pytest-xdist."""
    tests = len(re.findall(r"^async def test_", (TUTORIAL / "test_chat_client.py").read_text(), flags=re.MULTILINE))
    result = run_pytest(TUTORIAL.relative_to(ROOT).as_posix(), "-q", "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    # Every test passed, none skipped; parametrized ones (anyio's backends: asyncio, and trio
    # where it is installed) more than once.
    passed = re.search(r"^(\d+) passed in ", result.stdout, flags=re.MULTILINE)
    assert passed, result.stdout
    assert int(passed[1]) >= tests, result.stdout
    assert "1 snapshot passed." in result.stdout


def tutorial_sections() -> dict[str, str]:
    """The snippet sections of the tutorial's test file, which the page shows one by one."""
    text = (TUTORIAL / "test_chat_client.py").read_text(encoding="utf-8")
    pattern = r"# --8<-- \[start:(?P<name>\w+)\]\n(?P<body>.*?)# --8<-- \[end:(?P=name)\]\n"
    return {m["name"]: m["body"] for m in re.finditer(pattern, text, flags=re.DOTALL)}


def shows(result: subprocess.CompletedProcess[str], shown: str) -> None:
    expected = comparable((TUTORIAL / "output" / shown).read_text(encoding="utf-8").splitlines())
    assert shown_in(expected, comparable(result.stdout.splitlines())), f"{shown} is not in:\n{result.stdout}"


@SESSIONS
def test_tutorial_step_by_step(tmp_path: Path) -> None:
    """The tutorial as a reader follows it, in a fresh folder, with what each run prints."""
    main_leg_only("following the tutorial step by step (its project runs as committed in both legs)")
    for name in ("chat_client.py", "pytest.ini"):
        shutil.copy(TUTORIAL / name, tmp_path)
    sections = tutorial_sections()
    test_file = tmp_path / "test_chat_client.py"

    def write(*names: str) -> None:
        test_file.write_text("\n\n".join(sections[name] for name in names), encoding="utf-8")

    write("head", "first")
    shows(run_pytest(cwd=tmp_path), "first-test.txt")

    write("head", "first", "snapshot")
    result = run_pytest(cwd=tmp_path)
    assert result.returncode == 1
    shows(result, "missing-snapshot.txt")
    shows(run_pytest("--snapshot-update", cwd=tmp_path), "snapshot-update.txt")
    snapshot = Path("__snapshots__", "test_chat_client", "test_event_sequence.txt")
    assert (tmp_path / snapshot).read_text(encoding="utf-8") == (TUTORIAL / snapshot).read_text(encoding="utf-8")

    write("head", "first", "snapshot", "retries")
    shows(run_pytest(cwd=tmp_path), "all-pass.txt")

    test_file.write_text(test_file.read_text(encoding="utf-8").replace("max_retries=2", "max_retries=0"))
    result = run_pytest(cwd=tmp_path)
    assert result.returncode == 1
    shows(result, "no-retries.txt")


def load_schema() -> ModuleType:
    """`docs/gen_schema.py`, the schema's generator, as a module."""
    spec = importlib.util.spec_from_file_location("sparring_docs_gen_schema", ROOT / "docs" / "gen_schema.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema() -> ModuleType:
    return load_schema()


def test_schema_is_current(schema: ModuleType) -> None:
    """Regenerate with `python docs/gen_schema.py > docs/generated/scenario-schema.md`."""
    assert (ROOT / schema.GENERATED).read_text(encoding="utf-8") == schema.markdown()


def test_schema_describes_every_key(schema: ModuleType) -> None:
    """A key the loader accepts without a meaning in docs/gen_schema.py fails here: document it."""
    for section in schema.SECTIONS:
        described = set(schema.DOCS[section.name])
        assert described == set(section.keys), (
            f"{section.name}: undocumented {sorted(set(section.keys) - described)},"
            f" documented but gone {sorted(described - set(section.keys))}"
        )


SCHEMA_KEYS = [(section, key) for section, keys in load_schema().DOCS.items() for key in keys]


@pytest.mark.parametrize(("section", "key"), SCHEMA_KEYS, ids=[f"{s}.{k}" for s, k in SCHEMA_KEYS])
def test_schema_example_loads(schema: ModuleType, section: str, key: str) -> None:
    parse_scenario(schema.example_scenario(section, key), source=f"the example of {section}.{key}")


def test_schema_page_shows_every_table(schema: ModuleType) -> None:
    page = (ROOT / "docs" / "reference" / "scenario-schema.md").read_text(encoding="utf-8")
    for name in [section.name for section in schema.SECTIONS] + ["names"]:
        assert f'--8<-- "{schema.GENERATED}:{name}"' in page, f"the schema page does not show the {name} table"
