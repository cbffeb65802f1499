"""pytest run inside this suite's tests (the docs' examples, the tutorial), as a user runs it;
and unmeasured by coverage, as pytester's runs are too (conftest.py).

Under `make test`, coverage follows every subprocess. A pytest run of a docs example spends
most of its time starting up (pytest, its plugins, the SDKs), and coverage's tracer about
doubles that. The plugin code those runs reach is measured in the test processes too, all
but 14 lines (of remote.py, fake_llm.py and pytest_plugin.py: 96 % either way), which the
inner runs still test. `sparring serve` and the other sparring subprocesses stay measured:
theirs is code no test process runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What coverage's subprocess patch sets, and its .pth file reads, to measure a new process.
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def unmeasured(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without what makes coverage measure the process it starts."""
    return {name: value for name, value in env.items() if name not in COVERAGE_VARIABLES}


def run_pytest(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, from the repository root unless `cwd` says, as a user would run
    it (the folder's own pytest.ini applies; none of this run's PYTEST_ variables), plus `env`.
    A fixed width and no colours, for comparable reports."""
    base = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "FORCE_COLOR"))}
    base = unmeasured(base) | {"COLUMNS": "80", "PY_COLORS": "0"} | dict(env or {})
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=cwd, env=base, capture_output=True, text=True, check=False, timeout=timeout)
