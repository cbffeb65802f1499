"""The pytest plugin, registered through the `pytest11` entry point.

Kept cheap on purpose: installing sparring must not slow down test runs that never use it,
so the server, the scenario machinery and aiohttp are imported only when a fixture asks.

- `fake_llm`: a function-scoped `FakeLLM` on a server shared by the session (one per xdist
  worker). Measured: a server per test costs about 1.5 ms more per test than a namespace
  per test on a shared server, and a namespace isolates as well (its requests still under
  way are cancelled at teardown).
- `@pytest.mark.sparring(scenario=..., fallback=..., strict=...)`: per-test options.
- `@pytest.mark.sparring_cassette(...)`, `--sparring-record-mode`, `--sparring-upstream`:
  the test's scenario replayed from a file recorded from a real API (`sparring.plugin.cassette`).
- `--sparring-strict`, `--sparring-report`, `--sparring-scenarios`, `--sparring-url` and
  their ini keys. With a URL, `fake_llm` drives that external `sparring serve` over the
  control API instead of starting a server: checked once at startup, so an unreachable one is
  one usage error, not a failure per test.
- Strict teardown: unused replies and unanswered requests fail the test, quietly (in the
  report only) when the test already failed. A failing test's report shows the exchange.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion

    from sparring.fake_server.runner import FakeServer
    from sparring.plugin.backend import Backend
    from sparring.plugin.cassette_use import Cassette
    from sparring.plugin.fake_llm import FakeLLM
    from sparring.plugin.options import Settings
    from sparring.plugin.remote import Remote
    from sparring.plugin.virtual import LoopServer

_SETTINGS: pytest.StashKey[Settings] = pytest.StashKey()
_FAKE: pytest.StashKey[FakeLLM] = pytest.StashKey()
_REMOTE: pytest.StashKey[Remote] = pytest.StashKey()
_CALL = pytest.StashKey[pytest.TestReport]()
_STRICT = pytest.StashKey[bool]()
_CASSETTE: pytest.StashKey[Cassette] = pytest.StashKey()
_VIRTUAL: pytest.StashKey[LoopServer] = pytest.StashKey()
_EXCHANGE = "sparring: exchange with the fake LLM server"
_SAVED = "sparring: cassette"


def pytest_addoption(parser: pytest.Parser) -> None:
    from sparring.plugin.options import add_options

    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    from sparring.plugin.cassette import MARKER_HELP
    from sparring.plugin.options import read_settings
    from sparring.plugin.virtual import MARKER_HELP as VIRTUAL_HELP

    config.addinivalue_line(
        "markers",
        "sparring(scenario=None, fallback='miss', strict=None): options for the fake_llm fixture in this test",
    )
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", VIRTUAL_HELP)
    settings = config.stash[_SETTINGS] = read_settings(config)
    if settings.url is not None and not config.getoption("help", False):
        config.stash[_REMOTE] = _connect(settings)


def pytest_unconfigure(config: pytest.Config) -> None:
    remote = config.stash.get(_REMOTE, None)
    if remote is not None:
        remote.close()


def _connect(settings: Settings) -> Remote:
    from sparring.plugin.remote import ExternalServerError, Remote

    assert settings.url is not None
    try:
        return Remote(settings.url).connect()
    except ExternalServerError as exc:
        raise pytest.UsageError(
            f"sparring: {exc}\n  (the URL comes from {settings.url_from}; start the server with "
            "`sparring serve --port PORT`, fix the URL, or pass --sparring-url= to use the plugin's own server)"
        ) from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    from sparring._version import __version__

    remote = config.stash.get(_REMOTE, None)
    server = remote.describe() if remote is not None else "the plugin's own (one per worker)"
    settings = config.stash[_SETTINGS]
    return [
        f"sparring {__version__}: {settings.header()}",
        f"sparring server: {server}",
        f"sparring cassettes: {settings.cassettes.header()}",
    ]


@pytest.fixture(scope="session")
def sparring_server(pytestconfig: pytest.Config) -> Iterator[FakeServer]:
    """The fake server behind `fake_llm`: one per test session (per xdist worker)."""
    from sparring.fake_server.runner import FakeServer

    with FakeServer(redact=pytestconfig.stash[_SETTINGS].redact) as server:
        yield server


@pytest.fixture(scope="session")
def _sparring_backend(request: pytest.FixtureRequest) -> Backend:
    """The external server when one is given, else the session's own `sparring_server`."""
    from sparring.plugin.backend import InProcess

    remote = request.config.stash.get(_REMOTE, None)
    if remote is not None:
        return remote
    return InProcess(request.getfixturevalue("sparring_server"))


@pytest.fixture
def fake_llm(request: pytest.FixtureRequest, _sparring_backend: Backend) -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible server for this test: script replies, point clients at
    `fake_llm.base_url` with `fake_llm.api_key`, read `fake_llm.journal`."""
    from sparring.plugin.fake_llm import FakeLLM
    from sparring.plugin.options import test_options

    settings = request.config.stash[_SETTINGS]
    options = test_options(request.node)
    virtual = _virtual(request)
    backend = virtual or _sparring_backend
    cassette = _cassette(request.node, settings, backend)
    fake = FakeLLM(backend, name=request.node.nodeid, search=settings.scenario_dirs, fallback=options.fallback)
    request.node.stash[_FAKE] = fake
    request.node.stash[_STRICT] = settings.strict if options.strict is None else options.strict
    if options.scenarios:
        fake.load(*options.scenarios)
    if cassette is not None:
        request.node.stash[_CASSETTE] = cassette
        cassette.start(fake, backend)
    yield fake
    fake.close()
    if virtual is not None:
        virtual.close()
    if cassette is not None:
        cassette.finish()
    problems = _problems(request.node, fake)
    call = request.node.stash.get(_CALL, None)
    # Only a body that passed is failed for leftovers: a failed, skipped or xfailed body
    # already says what happened (its report carries the leftovers, quietly).
    if problems is not None and call is not None and call.passed:
        pytest.fail(problems, pytrace=False)


def _virtual(request: pytest.FixtureRequest) -> LoopServer | None:
    """Under `@pytest.mark.sparring_virtual_time`, this test's own server, to serve on its loop
    (`pytest_runtest_call` starts it there); a setup error for what it cannot run."""
    __tracebackhide__ = True
    from sparring.plugin.virtual import MARKER, SYNC_REFUSED, LoopServer, is_async, refusal

    if request.node.get_closest_marker(MARKER) is None:
        return None
    if not is_async(getattr(request.node, "obj", None)):
        pytest.fail(SYNC_REFUSED, pytrace=False)
    if (why := refusal(request)) is not None:
        pytest.fail(why, pytrace=False)
    if request.node.get_closest_marker("sparring_cassette") is not None:
        message = f"@pytest.mark.{MARKER} does not record or replay cassettes; drop one of the two markers"
        pytest.fail(message, pytrace=False)
    server = request.node.stash[_VIRTUAL] = LoopServer()
    return server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A virtual-time test runs wrapped: its server serving on its loop, the clock virtual."""
    server = item.stash.get(_VIRTUAL, None)
    if server is None or not isinstance(item, pytest.Function):
        return (yield)
    from sparring.plugin.virtual import coroutine_of, on_virtual_loop

    owner, name = coroutine_of(item)  # the test, or under @given each example
    test = getattr(owner, name)
    setattr(owner, name, on_virtual_loop(test, server))
    try:
        return (yield)
    finally:
        setattr(owner, name, test)


def _problems(item: pytest.Item, fake: FakeLLM) -> str | None:
    """What strict teardown says, with the cassette's note (where its file is), and, strict or
    not, the requests a recording could not send upstream."""
    problems = fake.problems() if item.stash.get(_STRICT, False) else None
    cassette = item.stash.get(_CASSETTE, None)
    if cassette is None:
        return problems
    parts = [cassette.unrecorded(fake.journal), problems, cassette.note() if problems else None]
    return "\n".join(p for p in parts if p) or None


def _cassette(item: pytest.Item, settings: Settings, backend: Backend) -> Cassette | None:
    """The test's cassette, if it is marked for one; a setup error if it cannot run as asked."""
    __tracebackhide__ = True  # a mistake in the marker is the message, not these frames
    from sparring.plugin.cassette import cassette_options, plan
    from sparring.plugin.cassette_use import Cassette, why_not

    options = cassette_options(item)
    if options is None:
        return None
    planned = plan(item, options, settings.cassettes, redact=settings.redact)
    problem = why_not(planned, backend)
    if problem:
        pytest.fail(problem, pytrace=False)
    return Cassette(planned)


@pytest.fixture
def sparring_snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's `snapshot`, serializing event sequences as sparring's readable text format,
    ids and timestamps masked: `assert collected == sparring_snapshot`. Needs syrupy
    (`pip install 'sparring[snapshot]'`)."""
    from sparring._optional import MissingExtraError, require

    # syrupy's fixture is taken here, not as a parameter, so a missing syrupy fails with the
    # extra to install rather than pytest's "fixture 'snapshot' not found".
    try:
        require("syrupy", feature="the sparring_snapshot fixture")
    except MissingExtraError as exc:
        pytest.fail(str(exc), pytrace=False)
    from sparring.checks.snapshot import sparring_snapshot as use

    snapshot: SnapshotAssertion = request.getfixturevalue("snapshot")
    return use(snapshot)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL] = report
    fake = item.stash.get(_FAKE, None)
    mode = item.config.stash[_SETTINGS].report
    if fake is None or report.when == "setup":
        return report
    if report.when == "call":
        if mode == "always" or (mode == "failed" and report.failed):
            report.sections.append((_EXCHANGE, fake.exchange()))
        # Said here, not at teardown: under xdist this report has left the worker by then.
        problems = _problems(item, fake) if not report.passed else None
        if problems:
            report.sections.append(("sparring: also (not failing the test, which already failed)", problems))
    elif report.failed and mode != "never":
        report.sections.append((_EXCHANGE, fake.exchange()))
    cassette = item.stash.get(_CASSETTE, None)
    if report.when == "teardown" and cassette is not None and cassette.saved:
        report.sections.append((_SAVED, cassette.saved))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the cassettes of this run recorded, one line per file written (read from the
    teardown reports, so xdist workers' files are listed too)."""
    saved = [
        content
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, content in getattr(report, "sections", ())
        if name == _SAVED
    ]
    if saved:
        terminalreporter.section("sparring cassettes")
        for line in saved:
            terminalreporter.line(line)
