"""pytest runs inside this suite's tests (the docs' examples, the tutorial, pytester) run
unmeasured by coverage.

Under `make test`, coverage follows every subprocess. A pytest run of a docs example spends
most of its time starting up (pytest, its plugins, the SDKs), and coverage's tracer about
doubles that. The plugin code those runs reach is measured in the test processes too, all
but 14 lines (of remote.py, fake_llm.py and pytest_plugin.py: 96 % either way), which the
inner runs still test. `sparring serve` and the other sparring subprocesses stay measured:
theirs is code no test process runs.
"""

from __future__ import annotations

from collections.abc import Mapping

# What coverage's subprocess patch sets, and its .pth file reads, to measure a new process.
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def unmeasured(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without what makes coverage measure the process it starts."""
    return {name: value for name, value in env.items() if name not in COVERAGE_VARIABLES}
