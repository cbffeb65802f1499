"""The README, as someone who found sparring on PyPI reads it: install, then a first test.

Every Python block in the README is a whole test file a reader can copy: each is written to a
fresh project, beside nothing else (no ini file, no conftest), and pytest runs it in a
subprocess with what `pip install 'sparring[openai]'` brings; every test in it must pass.
"""

from __future__ import annotations

import re

import pytest

from tests.test_docs_examples import ROOT

pytest_plugins = ["pytester"]

README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
CONSOLE_BLOCKS = re.findall(r"^```console\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


def test_readme_leads_with_installing() -> None:
    assert README.index("## Install") < README.index("```python")
    assert "pip install 'sparring[openai]'" in CONSOLE_BLOCKS[0]
    # Every extra is named with what it brings.
    for extra in ("openai", "snapshot", "client"):
        assert re.search(rf"^\| `{extra}` \| .+ \| .+ \|$", README, flags=re.MULTILINE), extra


def test_readme_keeps_the_two_commands_for_contributors() -> None:
    commands = [line.split()[:2] for block in CONSOLE_BLOCKS for line in block.splitlines()]
    assert ["make", "demo"] in commands
    assert ["make", "test"] in commands


def masked(lines: list[str]) -> list[str]:
    return [re.sub(r" in \d+\.\d+s", " in T", line) for line in lines if line.strip()]


# A pytest run in a subprocess: 5-6 s alone, up to 28 s on a loaded 2-core machine: 180 s keeps 6x spare.
@pytest.mark.timeout(180)
def test_the_first_test_runs_as_the_readme_shows(pytester: pytest.Pytester) -> None:
    """Block 1 is `test_first.py`; the console block after it is the command and what it prints."""
    shown = next(block for block in CONSOLE_BLOCKS if block.startswith("$ pytest"))
    command, *output = shown.splitlines()
    assert command.split()[-1] == "test_first.py"
    pytester.makepyfile(test_first=PYTHON_BLOCKS[0])
    # No ini, no conftest, no -p no:...: the reader's plain `pytest`.
    result = pytester.runpytest_subprocess(*command.split()[2:], "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert masked(result.outlines)[-len(output) :] == masked(output)


@pytest.mark.timeout(180)  # as above
@pytest.mark.parametrize("number", range(1, len(PYTHON_BLOCKS)), ids=lambda n: f"block {n + 1}")
def test_readme_test_runs_as_written(pytester: pytest.Pytester, number: int) -> None:
    code = PYTHON_BLOCKS[number]
    tests = re.findall(r"^def (test_\w+)\(", code, flags=re.MULTILINE)
    assert tests, "every Python block in the README is a whole test file"
    pytester.makepyfile(**{f"test_readme_{number + 1}": code})
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(tests))
