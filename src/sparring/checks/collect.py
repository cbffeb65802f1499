"""`collect`: drive an async stream to its end and keep what happened, failures included.

    got = await collect(client.chat(...), limit=3, timeout=1.0)
    assert got.events == ["Hel", "lo", "!"] and got.error is None and got.closed

The stream's own exception is recorded, never raised: a test asserts on it like on any other
outcome, a `GeneratorExit` or an exception group out of its close included. Only Ctrl-C,
`SystemExit` and a cancellation of the task running `collect` itself propagate, since
swallowing those would be the very bug these checks look for. `collect_sync` does the same
for a sync stream. `collect` runs under asyncio and trio.
"""

from __future__ import annotations

import asyncio
import inspect
import reprlib
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sparring.checks._streams import async_stream, passes_through, sync_stream

T = TypeVar("T")

_short = reprlib.Repr()
_short.maxlist = 5
_short.maxstring = 40
_short.maxother = 40


@dataclass(frozen=True)
class Collected(Generic[T]):
    """What an async stream yielded, when, and how it ended.

    `times[i]` is when `events[i]` arrived, in seconds since `collect` started (monotonic; on
    the virtual clock under `@pytest.mark.sparring_virtual_time`).
    `error` is the exception the stream ended with (a per-event timeout is a `TimeoutError`).
    `closed` says whether the stream was left finished: for a generator, that its frame is
    gone (its `finally` ran to the end); for another iterator, that its `aclose()` (for a
    sync stream, `close()`) returned.
    """

    events: list[T]
    times: list[float]
    error: BaseException | None
    closed: bool
    duration: float

    @property
    def ok(self) -> bool:
        """Ended without an error and was closed."""
        return self.error is None and self.closed

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        ending = "no error" if self.error is None else f"error={self.error!r}"
        state = "closed" if self.closed else "NOT closed"
        return (
            f"Collected({len(self.events)} event{'' if len(self.events) == 1 else 's'} in {self.duration:.3f} s: "
            f"{_short.repr(self.events)}, "
            f"{ending}, {state})"
        )


class _NoEventInTime(Exception):
    """The per-event timeout fired (as opposed to a TimeoutError of the stream's own)."""


def _trio() -> Any:
    """The trio module when trio runs this task, else None."""
    trio = sys.modules.get("trio")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return trio
    return None


def _clock() -> Callable[[], float]:
    """`time.monotonic`, or the loop's clock when it is virtual (looptime, as under
    `@pytest.mark.sparring_virtual_time`): the times then follow the scripted schedule."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return time.monotonic
    return loop.time if getattr(loop, "looptime_on", False) else time.monotonic


async def _next(stream: AsyncIterator[T], timeout: float | None) -> T:
    if timeout is None:
        return await anext(stream)
    trio = _trio()
    if trio is not None:
        with trio.move_on_after(timeout) as moved:
            return await anext(stream)
        assert moved.cancelled_caught  # the only way out of the block without a return
        raise _NoEventInTime
    return await _next_asyncio(stream, timeout)


if sys.version_info >= (3, 11):

    async def _next_asyncio(stream: AsyncIterator[T], timeout: float) -> T:
        # In the consuming task itself: generators holding a cancel scope across yields break
        # if each step runs in a task of its own, as `wait_for` did before 3.12.
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await anext(stream)
        except TimeoutError:
            if scope.expired():
                raise _NoEventInTime from None
            raise

else:  # pragma: no cover - exercised on 3.10 only

    async def _next_asyncio(stream: AsyncIterator[T], timeout: float) -> T:
        try:
            return await asyncio.wait_for(anext(stream), timeout)
        except asyncio.TimeoutError:
            raise _NoEventInTime from None  # 3.10 cannot tell it from the stream's own


async def collect(
    stream: AsyncIterator[T] | AsyncIterable[T], *, limit: int | None = None, timeout: float | None = None
) -> Collected[T]:
    """Drive `stream` and record each event with its arrival time, and how it ended.

    With `limit`, stop after that many events. With `timeout`, give up on any one event
    after that many seconds (recorded as a `TimeoutError`). Whenever it stops early, the
    stream is closed with `aclose()`, as `contextlib.aclosing` would.
    """
    _check_limit(limit)
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds or None, got {timeout!r}")
    iterator: AsyncIterator[T] = async_stream(stream, "collect() was given")
    events: list[T] = []
    times: list[float] = []
    error: BaseException | None = None
    now = _clock()
    start = now()
    try:
        while limit is None or len(events) < limit:
            try:
                event = await _next(iterator, timeout)
            except StopAsyncIteration:
                break
            times.append(now() - start)
            events.append(event)
    except _NoEventInTime:
        error = TimeoutError(f"no event within {timeout} s (waiting for event #{len(events) + 1})")
    except BaseException as exc:
        if passes_through(exc):  # Ctrl-C, exit, a cancellation of the task running collect
            raise
        error = exc  # the stream's own doing, a GeneratorExit or exception group too: record it
    closed, close_error = await _close(iterator)
    if error is None:
        error = close_error
    return Collected(events, times, error, closed, now() - start)


async def _close(iterator: AsyncIterator[Any]) -> tuple[bool, BaseException | None]:
    """Close the stream as `aclosing` would (a no-op on a finished generator): whether it
    ended closed, and what closing raised."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return False, None
    try:
        await aclose()
    except BaseException as exc:  # "async generator ignored GeneratorExit"; anyio's exception groups
        if passes_through(exc):
            raise
        return inspect.isasyncgen(iterator) and iterator.ag_frame is None, exc
    return not inspect.isasyncgen(iterator) or iterator.ag_frame is None, None


def collect_sync(stream: Iterator[T] | Iterable[T], *, limit: int | None = None) -> Collected[T]:
    """`collect` for a sync stream (the openai SDK's `Stream`, a generator): the same
    `Collected`, its events, times, error and whether it was left closed. Whenever it stops
    early, at `limit` or on an error, the stream is closed with `close()`. There is no
    per-event timeout: a sync read cannot be interrupted, so give the client its own."""
    _check_limit(limit)
    iterator: Iterator[T] = sync_stream(stream, "collect_sync() was given")
    events: list[T] = []
    times: list[float] = []
    error: BaseException | None = None
    start = time.monotonic()
    try:
        while limit is None or len(events) < limit:
            try:
                event = next(iterator)
            except StopIteration:
                break
            times.append(time.monotonic() - start)
            events.append(event)
    except BaseException as exc:
        if passes_through(exc):  # Ctrl-C, exit
            raise
        error = exc
    closed, close_error = _close_sync(iterator)
    if error is None:
        error = close_error
    return Collected(events, times, error, closed, time.monotonic() - start)


def _close_sync(iterator: Iterator[Any]) -> tuple[bool, BaseException | None]:
    close = getattr(iterator, "close", None)
    if close is None:
        return False, None
    try:
        close()
    except BaseException as exc:  # "generator ignored GeneratorExit": a yield in finally
        if passes_through(exc):
            raise
        return inspect.isgenerator(iterator) and iterator.gi_frame is None, exc
    return not inspect.isgenerator(iterator) or iterator.gi_frame is None, None


def _check_limit(limit: object) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be an integer >= 0 or None, got {limit!r}")
