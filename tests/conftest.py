"""Shared fixtures: a fake server per test, and a raw SSE reader that sees exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sparring import FakeServer
from tests.inner_pytest import COVERAGE_VARIABLES

# The pytest runs of pytester leave looptime's own plugins out, as this suite's addopts do
# (docs/timing.md says why users should too): sparring drives looptime itself, and looptime's
# plugin makes an event loop for every sync test that it never closes, whose ResourceWarning
# then fails whichever test the garbage collector happens to run in.
_NO_LOOPTIME = "-p no:looptime_plugin -p no:looptime_chronometers -p no:looptime_timeproxies"


@pytest.fixture(autouse=True)
def _pytester_unmeasured_without_looptimes_plugins(request: pytest.FixtureRequest) -> None:
    if "pytester" not in request.fixturenames:
        return
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    request.getfixturevalue("pytester")  # first: it clears PYTEST_ADDOPTS
    monkeypatch.setenv("PYTEST_ADDOPTS", _NO_LOOPTIME)
    for name in COVERAGE_VARIABLES:  # tests/inner_pytest.py says why
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A started fake server with an empty scenario (every request misses until scripted)."""
    with FakeServer(seed=1234) as fake:
        yield fake


# -- tests near their timeout ---------------------------------------------------------------
# A test that needs more than a third of its timeout alone will time out on a busy CI machine
# (2 shared cores). The summary names every such test with its time (setup, call and
# teardown) and its timeout, so a slow test is seen long before it flakes. Works under
# xdist: the timeout travels in the report's user_properties.

_SLOW: list[tuple[str, float, float]] = []
_TOOK: dict[str, float] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("timeout")
    timeout = marker.args[0] if marker and marker.args else item.config.getini("timeout")
    item.user_properties.append(("timeout", float(timeout or 0)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _TOOK[report.nodeid] = _TOOK.get(report.nodeid, 0.0) + report.duration
    if report.when != "teardown":
        return
    took = _TOOK.pop(report.nodeid)
    timeout = float(dict(report.user_properties).get("timeout", 0.0))
    if timeout and took > timeout / 3:
        _SLOW.append((report.nodeid, took, timeout))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _SLOW:
        return
    terminalreporter.section("tests over a third of their timeout")
    for nodeid, took, timeout in sorted(_SLOW, key=lambda s: -s[1] / s[2]):
        terminalreporter.write_line(f"{took:6.1f}s of {timeout:.0f}s  {nodeid}")
