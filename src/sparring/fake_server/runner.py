"""Running the app: in a background thread (tests, the demo) or in the foreground (the CLI).

The background server owns its event loop, so it serves sync clients, async clients on any
pytest-asyncio loop, and other threads alike. Handler cancellation is on: a client that
disconnects cancels its handler at once, which is how the journal sees early exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import warnings
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from aiohttp import web

from sparring.errors import ScenarioError, ServerError
from sparring.fake_server.app import make_app
from sparring.fake_server.connections import ConnectionLimits, GuardedRunner
from sparring.fake_server.context import STATE
from sparring.fake_server.defaults import HEADER_TIMEOUT, IDLE_TIMEOUT
from sparring.fake_server.journal import JOURNAL_LIMIT, Entry
from sparring.fake_server.memory import give_back_large_buffers
from sparring.fake_server.security import own_names, remote_binding
from sparring.fake_server.store import DEFAULT_NAMESPACE, Store
from sparring.scenario._validate import check_speed
from sparring.scenario.model import Scenario

if TYPE_CHECKING:
    from sparring.fake_server.upstream import Passthrough

# How long closing waits for streams still running (a stall, a hang) before cancelling them.
_SHUTDOWN_TIMEOUT = 0.25


def _runner(
    store: Store,
    seed: int | None,
    token: str | None = None,
    names: frozenset[str] = frozenset(),
    limits: ConnectionLimits | None = None,
    passthrough: Passthrough | None = None,
    speed: float = 1.0,
) -> web.AppRunner:
    return GuardedRunner(
        make_app(store, seed=seed, token=token, names=names, passthrough=passthrough, speed=speed),
        limits=limits or ConnectionLimits(),
        handle_signals=False,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
    )


class FakeServer:
    """The fake OpenAI-compatible server, on loopback, in a thread of its own.

        with FakeServer(scenario) as server:
            client = OpenAI(base_url=server.base_url, api_key="sk-test")

    `port=0` (the default) takes a free port; the real one is read back after binding.
    `redact` names headers the journal keeps redacted besides the known credential headers;
    `token`, when set, is required on the control API (`x-sparring-token`).

    A `host` outside loopback needs `allow_remote=True` (and warns): the network could then script
    the server and read every request body. `header_timeout` (a connection must send a complete
    request head within it), `idle_timeout` (between two requests on a kept-alive connection)
    and `max_connections` (default: from the open-file limit) bound what a client that does not
    send can hold; a response being played, a stall included, is never cut by them.
    `journal_limit`: entries each namespace's journal keeps; past it the oldest ended ones
    are dropped (`len(journal)` then stops growing while `Entry.index` goes on).
    `passthrough`: where requests go upstream instead of being answered (`Recorder.passthrough`).
    `speed`: every scripted wait, and the waits replies advise (`retry-after`), divided by it,
    times each scenario's own `speed` (docs: Scenario reference, Speed).
    """

    __test__ = False  # not a test class, whatever pytest's collection patterns say

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        on_request: Callable[[Entry], None] | None = None,
        redact: Iterable[str] = (),
        token: str | None = None,
        allow_remote: bool = False,
        header_timeout: float = HEADER_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int | None = None,
        journal_limit: int = JOURNAL_LIMIT,
        passthrough: Passthrough | None = None,
        speed: float = 1.0,
    ) -> None:
        try:
            check_speed("speed", speed)
        except ScenarioError as exc:
            raise ServerError(f"FakeServer: speed {exc.problems[0].message}") from None
        try:
            warning = remote_binding(
                host,
                allowed=allow_remote,
                token=token,
                shown=f"host={host!r}",
                allow="allow_remote=True",
                with_token="token=...",
            )
            self._limits = ConnectionLimits(header_timeout, idle_timeout, max_connections)
        except ValueError as exc:
            raise ServerError(f"FakeServer: {exc}") from None
        if warning:
            warnings.warn(f"sparring: {warning}", RuntimeWarning, stacklevel=2)
        self.host = host
        self.store = Store(on_end=on_request, redact=redact, journal_limit=journal_limit)
        self._token = token
        if scenario is not None:
            self.store.set_scenario(scenario)
        self._requested_port = port
        self._seed = seed
        self._passthrough = passthrough
        self._speed = speed
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeServer:
        if self._closed:
            raise ServerError("this FakeServer was closed; make a new one")
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="sparring-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise ServerError(
                f"cannot start on {self.host}:{self._requested_port}: {self._startup_error}"
            ) from self._startup_error
        return self

    def close(self) -> None:
        """Stop serving and join the thread. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> FakeServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        runner = _runner(
            self.store, self._seed, self._token, own_names(self.host), self._limits, self._passthrough, self._speed
        )
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self._requested_port)
            loop.run_until_complete(site.start())
            self._port = site.port
        except BaseException as exc:  # reported to start(), in the caller's thread
            self._startup_error = exc
            loop.run_until_complete(runner.cleanup())
            loop.close()
            self._ready.set()
            return
        self._loop = loop
        self._runner = runner
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            runner.app[STATE].closing = True
            try:
                loop.run_until_complete(runner.cleanup())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:  # a cleanup that raised must not leave the loop open (a ResourceWarning later)
                loop.close()

    def activity(self) -> dict[str, int]:
        """Open connections and running tasks on the server's loop: zero of each once every
        client is done, whatever faults were played (a leak check reads this)."""
        loop, runner = self._loop, self._runner
        if loop is None or runner is None or self._closed:
            raise ServerError("the server is not running")

        async def probe() -> dict[str, int]:
            server = runner.server
            connections = len(server.connections) if server is not None else 0
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            return {"connections": connections, "tasks": len(tasks)}

        return asyncio.run_coroutine_threadsafe(probe(), loop).result(timeout=5)

    # -- where it is ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServerError("the server is not started; call start() or use it as a context manager")
        return self._port

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, the root (the control API lives under `/_sparring/`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, what OpenAI clients take as their base URL."""
        return f"{self.url}/v1"

    # -- scripting and reading, thread-safe ------------------------------------------------

    def set_scenario(self, scenario: Scenario, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.store.set_scenario(scenario, namespace)

    def reset(self, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Forget the rules and the journal; the namespace's start fallback and looping come back."""
        self.store.reset(namespace)

    def journal(self, namespace: str = DEFAULT_NAMESPACE) -> list[Entry]:
        return self.store.space(namespace).journal.entries()

    def wait_until(
        self, check: Callable[[list[Entry]], bool], *, timeout: float = 5.0, namespace: str = DEFAULT_NAMESPACE
    ) -> list[Entry]:
        """Wait until `check(journal)` holds, e.g. `lambda j: j and j[-1].outcome`, re-checking
        each time a request ends; the journal after at most `timeout` seconds."""
        return self.store.space(namespace).journal.wait_until(check, timeout)

    def drop_namespace(self, namespace: str) -> list[Entry]:
        """Forget a namespace and end the requests it still has under way (a stall, a hang),
        so nothing from one test lives on into the next. Returns its journal once they have
        ended, each entry with its outcome."""
        space = self.store.drop(namespace)
        if space is None:
            return []
        loop = self._loop
        if space.tasks and loop is not None and not self._closed:
            asyncio.run_coroutine_threadsafe(space.cancel(), loop).result(timeout=10)
        # Cheap copies, not deep ones: the namespace is gone, so nothing changes what its
        # entries hold any more (a deep copy was a third of what a test's fake_llm cost).
        return space.journal.copies()


def serve(
    store: Store,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    seed: int | None = None,
    on_ready: Callable[[str], None] | None = None,
    token: str | None = None,
    limits: ConnectionLimits | None = None,
    passthrough: Passthrough | None = None,
    speed: float = 1.0,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM; `on_ready` gets the base URL. `token`,
    when set, is required on the control API; `limits` bound slow, silent and too many clients;
    `passthrough` sends requests upstream (`sparring record`); `speed` divides scripted waits."""

    async def main() -> None:
        runner = _runner(store, seed, token, own_names(host), limits, passthrough, speed)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            if on_ready is not None:
                on_ready(f"http://{host}:{site.port}/v1")
            await stop.wait()
        finally:
            runner.app[STATE].closing = True
            await runner.cleanup()

    give_back_large_buffers()  # a process of its own, left running: see memory.py
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
