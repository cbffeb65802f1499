"""`collect`: drive an async stream to its end and keep what happened, failures included.

    got = await collect(client.chat(...), limit=3, timeout=1.0)
    assert got.events == ["Hel", "lo", "!"] and got.error is None and got.closed

The stream's own exception is recorded, never raised: a test asserts on it like on any other
outcome. Only a cancellation of the task running `collect` itself propagates, since
swallowing that would be the very bug these checks look for.
"""

from __future__ import annotations

import asyncio
import inspect
import reprlib
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_short = reprlib.Repr()
_short.maxlist = 5
_short.maxstring = 40
_short.maxother = 40


@dataclass(frozen=True)
class Collected(Generic[T]):
    """What an async stream yielded, when, and how it ended.

    `times[i]` is when `events[i]` arrived, in seconds since `collect` started (monotonic).
    `error` is the exception the stream ended with (a per-event timeout is a `TimeoutError`).
    `closed` says whether the stream was left finished: for an async generator, that its
    frame is gone (its `finally` ran to the end); for another iterator, that its `aclose()`
    returned.
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


if sys.version_info >= (3, 11):

    async def _next(stream: AsyncIterator[T], timeout: float | None) -> T:
        # In the consuming task itself: generators holding a cancel scope across yields break
        # if each step runs in a task of its own, as `wait_for` did before 3.12.
        if timeout is None:
            return await anext(stream)
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await anext(stream)
        except TimeoutError:
            if scope.expired():
                raise _NoEventInTime from None
            raise

    def _cancelling_us() -> bool:
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

else:  # pragma: no cover - exercised on 3.10 only

    async def _next(stream: AsyncIterator[T], timeout: float | None) -> T:
        if timeout is None:
            return await anext(stream)
        try:
            return await asyncio.wait_for(anext(stream), timeout)
        except asyncio.TimeoutError:
            raise _NoEventInTime from None  # 3.10 cannot tell it from the stream's own

    def _cancelling_us() -> bool:
        return True  # 3.10 cannot tell whose cancellation it is: let it through


async def collect(
    stream: AsyncIterator[T] | AsyncIterable[T], *, limit: int | None = None, timeout: float | None = None
) -> Collected[T]:
    """Drive `stream` and record each event with its arrival time, and how it ended.

    With `limit`, stop after that many events. With `timeout`, give up on any one event
    after that many seconds (recorded as a `TimeoutError`). Whenever it stops early, the
    stream is closed with `aclose()`, as `contextlib.aclosing` would.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be an integer >= 0 or None, got {limit!r}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds or None, got {timeout!r}")
    iterator: AsyncIterator[T] = stream if isinstance(stream, AsyncIterator) else aiter(stream)
    events: list[T] = []
    times: list[float] = []
    error: BaseException | None = None
    start = time.monotonic()
    try:
        while limit is None or len(events) < limit:
            try:
                event = await _next(iterator, timeout)
            except StopAsyncIteration:
                break
            times.append(time.monotonic() - start)
            events.append(event)
    except _NoEventInTime:
        error = TimeoutError(f"no event within {timeout} s (waiting for event #{len(events) + 1})")
    except asyncio.CancelledError as exc:
        if _cancelling_us():
            raise
        error = exc  # the stream's own doing: record it like any other ending
    except Exception as exc:
        error = exc
    closed, close_error = await _close(iterator)
    if error is None:
        error = close_error
    return Collected(events, times, error, closed, time.monotonic() - start)


async def _close(iterator: AsyncIterator[Any]) -> tuple[bool, BaseException | None]:
    """Close the stream as `aclosing` would (a no-op on a finished generator): whether it
    ended closed, and what closing raised."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return False, None
    try:
        await aclose()
    except Exception as exc:  # e.g. "async generator ignored GeneratorExit": a yield in finally
        return inspect.isasyncgen(iterator) and iterator.ag_frame is None, exc
    return not inspect.isasyncgen(iterator) or iterator.ag_frame is None, None
