"""Virtual time for async tests (`@pytest.mark.sparring_virtual_time`): the fake server runs
on the test's own event loop, and `looptime` fast-forwards that loop's clock whenever
nothing is ready, so scripted waits and the client's own sleeps take no wall time.

One clock rules both sides: the server's delays, the client's backoff and the journal's
times are all read from the loop. The sockets stay real (127.0.0.1): looptime polls them
before moving its clock, and loopback bytes are readable as soon as they are written, so
a fast-forward never overtakes a message in flight.

The socket is bound when the `fake_llm` fixture is made (a client can be given its URL at
once); it starts serving when the test's coroutine starts, on the test's loop, and stops
when the coroutine ends. A hypothesis test (`@given` on an `async def`) is wrapped example by
example: pytest-asyncio runs each example's coroutine on the loop, and each is served and
clocked like a test of its own, on one virtual clock that only goes forward.

`time.time()` reads the virtual clock while the test runs: the SDKs turn a `retry-after`
given as an HTTP date into a wait with `date - time.time()`, and the server writes that
date, and the journal its `wall_time`, on the same clock, so the client waits the scripted
seconds and the checks see the date as the client did.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sparring._optional import require
from sparring.errors import ServerError
from sparring.fake_server import memory
from sparring.fake_server.clock import Clock, loop_clock
from sparring.fake_server.context import NAMESPACE_PREFIX, STATE
from sparring.fake_server.journal import Entry
from sparring.fake_server.runner import _runner
from sparring.fake_server.store import DEFAULT_NAMESPACE, Store
from sparring.scenario.model import Fallback, Scenario

if TYPE_CHECKING:
    import pytest

MARKER = "sparring_virtual_time"
MARKER_HELP = (
    f"{MARKER}: run this async test's fake_llm server on the test's event loop under a virtual clock "
    "(looptime): scripted waits and the client's sleeps take no wall time. Async clients only."
)
SYNC_REFUSED = (
    f"@pytest.mark.{MARKER} needs an async test with async clients: the server runs on the test's "
    "event loop, which a sync client would block until it times out. Use fake_llm.async_openai() / "
    "async_anthropic(), or drop the marker (the server then runs on a thread of its own, in real time)."
)
ASYNCIO_ONLY = (
    f"@pytest.mark.{MARKER} needs an asyncio event loop, and this test runs under {{library}}: the virtual "
    "clock (looptime) fast-forwards asyncio's loop, and {library} keeps a clock of its own. Run the test on "
    "asyncio (with anyio: @pytest.mark.parametrize('anyio_backend', ['asyncio'])), or drop the marker and "
    "divide the scripted waits instead: Scenario(speed=...) (the server then runs on a thread, in real time)."
)


class LoopServer:
    """A fake server for one test, served on the test's loop: the `fake_llm` backend under
    virtual time. Scripted and read like the plugin's own server (the store, directly)."""

    def __init__(self) -> None:
        self.store = Store()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self._socket.setblocking(False)
        self.port: int = self._socket.getsockname()[1]
        self.virtual = True  # FakeLLM refuses sync clients on it
        self.clocked: asyncio.AbstractEventLoop | None = None  # the loop whose clock this test made virtual

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.asynccontextmanager
    async def serving(self, clock: Clock | None = None) -> AsyncIterator[None]:
        """Serve on the running loop, the journal on `clock` (the loop's), until the block ends."""
        self.store.use_clock(clock or loop_clock(asyncio.get_running_loop()))
        runner = _runner(self.store, None)
        # No memory trimmer: its timer ticks every 2 s, and under looptime each tick costs a few
        # dozen loop cycles (0.5 s of wall time per virtual hour); a test has no burst to give back.
        runner.app.cleanup_ctx.remove(memory.trimming)
        await runner.setup()
        try:
            # A copy of the socket: stopping the site closes the one it serves, and a hypothesis
            # test serves once per example. The bound port (the clients' URL) stays.
            await web.SockSite(runner, self._socket.dup()).start()
            yield
        finally:
            runner.app[STATE].closing = True
            await runner.cleanup()  # ends the streams still running (a stall, a hang)

    def close(self) -> None:
        self._socket.close()

    # -- the Backend protocol (sparring.plugin.backend) ------------------------------------

    def api_root(self, namespace: str) -> str:
        return f"{self.url}{NAMESPACE_PREFIX}/{namespace}"

    def create(self, namespace: str, *, fallback: Fallback, api_key: str) -> None:
        self.store.set_scenario(Scenario(fallback=fallback), namespace)
        self.store.route(api_key, namespace)
        self.store.default = namespace

    def extend(self, namespace: str, scenario: Scenario) -> None:
        self.store.extend(scenario, namespace)

    def reset(self, namespace: str) -> None:
        self.store.reset(namespace)

    def scenario(self, namespace: str) -> Scenario:
        return self.store.space(namespace).scenario

    def journal(self, namespace: str) -> list[Entry]:
        return self.store.space(namespace).journal.entries()

    def wait_until(self, namespace: str, check: Callable[[list[Entry]], bool], timeout: float) -> list[Entry]:
        raise ServerError(
            f"fake_llm.wait_until blocks the event loop, and under @pytest.mark.{MARKER} the server runs "
            "on it: use `await fake_llm.wait_for(check)`"
        )

    async def wait_for(self, namespace: str, check: Callable[[list[Entry]], bool], timeout: float) -> list[Entry]:
        """`wait_until` on the loop: woken at each journal change, `timeout` on the loop's clock."""
        journal = self.store.space(namespace).journal
        changed = asyncio.Event()
        stop = journal.watch(changed.set)  # called on this loop's thread: the server's

        async def until() -> None:
            while not check(journal.copies()):
                changed.clear()
                await changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            stop()
        return journal.entries()

    def unused(self, namespace: str) -> list[str]:
        return self.store.unused(namespace)

    def drop(self, namespace: str) -> tuple[list[Entry], list[str]]:
        unused = self.store.unused(namespace)
        space = self.store.drop(namespace)
        self.store.default = DEFAULT_NAMESPACE
        return (space.journal.copies() if space is not None else []), unused


def on_virtual_loop(test: Callable[..., Awaitable[Any]], server: LoopServer) -> Callable[..., Awaitable[Any]]:
    """`test`, run with `server` serving on its loop and the loop's clock virtual."""
    require("looptime", feature=f"@pytest.mark.{MARKER}")
    import looptime

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio (anyio's trio backend): no asyncio loop to make virtual
            raise ServerError(ASYNCIO_ONLY.format(library=_async_library())) from None
        patched = looptime.patch_event_loop(loop)  # type: ignore[arg-type]  # asyncio's loops are BaseEventLoops
        if patched.looptime_on:  # already virtual (e.g. @pytest.mark.looptime): keep its clock
            enabled: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        else:
            if server.clocked is not loop:  # a later hypothesis example goes on from the last one's time
                patched.setup_looptime(start=loop.time())  # go on from now: timers already set stay due
                server.clocked = loop
            enabled = patched.looptime_enabled()
        with enabled:
            clock = loop_clock(loop)
            async with server.serving(clock):
                with _wall_clock(clock):
                    return await test(*args, **kwargs)

    return run


@contextlib.contextmanager
def _wall_clock(clock: Clock) -> Iterator[None]:
    """`time.time()` on `clock` while the block runs: the SDKs read it to turn an HTTP-date
    `retry-after` into a wait, and it must agree with the date the server wrote on `clock`.
    (`time.monotonic`, `perf_counter` and `datetime.now()` stay real.)"""
    real = time.time
    time.time = clock.wall
    try:
        yield
    finally:
        time.time = real


def refusal(request: pytest.FixtureRequest) -> str | None:
    """Why this test cannot run under the marker, if it cannot: an anyio test on trio."""
    if request.node.get_closest_marker("anyio") is None or "anyio_backend" not in request.fixturenames:
        return None  # pytest-asyncio's, or anyio's on a backend it picks some other way (run() checks)
    backend = request.getfixturevalue("anyio_backend")
    name = backend if isinstance(backend, str) else backend[0]
    return None if name == "asyncio" else ASYNCIO_ONLY.format(library=name)


def _async_library() -> str:
    try:
        import sniffio

        return sniffio.current_async_library()
    except Exception:  # sniffio missing, or no library it knows of
        return "an event loop that is not asyncio's"


def is_async(test: object) -> bool:
    """An async test, or a hypothesis test of an async function."""
    return inspect.iscoroutinefunction(_hypothesis(test) or test)


def coroutine_of(item: object) -> tuple[object, str]:
    """Where a test item's coroutine function is, as (owner, attribute), to wrap it in place:
    the item's `obj`, or for `@given` the inner test hypothesis calls once per example (which
    pytest-asyncio also wraps there, to run each example on the loop)."""
    test = getattr(item, "obj", None)
    if _hypothesis(test) is not None:
        return getattr(test, "hypothesis", None), "inner_test"
    return item, "obj"


def _hypothesis(test: object) -> object | None:
    """The coroutine function of a hypothesis test of an `async def` (`test.hypothesis.inner_test`)."""
    handle = getattr(test, "hypothesis", None)
    inner = getattr(handle, "inner_test", None)
    return inner if getattr(test, "is_hypothesis_test", False) and inspect.iscoroutinefunction(inner) else None
