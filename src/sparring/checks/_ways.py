"""The ways out of a stream, each driven the way real consuming code takes it.

Every consumer runs in a task of its own and writes what it saw into a `Run`; none of them
keeps a strong reference to the stream it leaves behind, so the ways that end with the
stream orphaned (`consumer_error`, `abandon`) leave it to the event loop's finalizer, as real
code does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import time
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sparring.checks._streams import NotAStream, async_stream, cancelling_us, interrupts
from sparring.checks._watch import Watch

WAYS_OUT: tuple[str, ...] = ("complete", "break", "cancel", "consumer_error", "server_fault", "abandon")

StreamFactory = Callable[[], AsyncIterator[Any]]


@dataclass
class Run:
    """What happened while the consumer took one way out."""

    first: asyncio.Future[None]  # set on the first event (or when the consumer ends)
    events: int = 0
    left: float | None = None  # time.monotonic() when the consumer left the stream
    error: BaseException | None = None  # what the stream raised to its consumer
    close_error: BaseException | None = None  # what an explicit aclose() raised
    generator: bool = False  # the stream is a native async generator
    ref: weakref.ReferenceType[Any] | None = field(default=None, repr=False)
    cancel_sent: bool = False
    after_cancel: int = 0  # events the consumer got after it was cancelled
    cancelled: bool | None = None  # whether the cancelled consumer ended cancelled
    stuck: str | None = None  # the consumer never got through: why


class _ConsumerFailed(Exception):
    """The exception the `consumer_error` way raises in its loop body."""


def _signal(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _open(make: StreamFactory, watch: Watch, run: Run) -> AsyncIterator[Any]:
    iterator = async_stream(make(), "stream() returned")
    watch.target(iterator)
    run.generator = inspect.isasyncgen(iterator)
    with contextlib.suppress(TypeError):  # not every iterator takes weak references
        run.ref = weakref.ref(iterator)
    return iterator


def _client_did(exc: BaseException) -> BaseException:
    """`exc`, when it is the client's doing (to record), or raise it on: Ctrl-C, exit, and the
    check's own cancellation of this consumer, when it comes through as it is. Wrapped in an
    exception group, that cancellation is the client's doing: it changed what its consumer got."""
    if interrupts(exc) or (isinstance(exc, asyncio.CancelledError) and cancelling_us()):
        raise exc
    return exc


async def _to_the_end(make: StreamFactory, watch: Watch, run: Run) -> None:
    """`complete` and `server_fault`: consume until the stream ends or fails."""
    try:
        async for _ in _open(make, watch, run):
            run.events += 1
    except BaseException as exc:
        run.error = _client_did(exc)
    run.left = time.monotonic()


async def _break(make: StreamFactory, watch: Watch, run: Run) -> None:
    """Leave the loop after the first event; `aclosing` closes the stream at once."""
    try:
        iterator = _open(make, watch, run)
        aclose = getattr(iterator, "aclose", None)
        async with contextlib.AsyncExitStack() as closing:
            if aclose is not None:
                closing.push_async_callback(aclose)  # what contextlib.aclosing does
            async for _ in iterator:
                run.events += 1
                run.left = time.monotonic()
                break
    except BaseException as exc:  # anyio task groups raise GeneratorExit in a BaseExceptionGroup here
        if run.left is None:
            run.error = _client_did(exc)
        else:
            run.close_error = _client_did(exc).with_traceback(None)  # its frames would keep the generator alive


async def _cancel(make: StreamFactory, watch: Watch, run: Run) -> None:
    """Consume until cancelled from outside (`drive` cancels this task after one event)."""
    try:
        async for _ in _open(make, watch, run):
            run.events += 1
            if run.left is not None:
                run.after_cancel += 1
            _signal(run.first)
    except asyncio.CancelledError:
        raise  # what the way expects: the cancellation reached the consumer
    except BaseException as exc:
        run.error = _client_did(exc)
    finally:
        _signal(run.first)


async def _consumer_error(make: StreamFactory, watch: Watch, run: Run) -> None:
    """Raise in the loop body: the stream, held only by the loop, is orphaned."""
    try:
        async for _ in _open(make, watch, run):
            run.events += 1
            run.left = time.monotonic()
            raise _ConsumerFailed
    except _ConsumerFailed:
        pass
    except BaseException as exc:
        run.error = _client_did(exc)


async def _abandon(make: StreamFactory, watch: Watch, run: Run) -> None:
    """Take one event, then drop the stream without closing it."""
    iterator = _open(make, watch, run)
    try:
        await anext(iterator)
    except BaseException as exc:
        run.error = _client_did(exc)
        return
    run.events = 1
    del iterator
    gc.collect()  # a stream caught in a reference cycle reaches the finalizer too
    run.left = time.monotonic()  # after the collection: its time is the check's, not the client's


_CONSUMERS: dict[str, Callable[[StreamFactory, Watch, Run], Coroutine[Any, Any, None]]] = {
    "complete": _to_the_end,
    "break": _break,
    "cancel": _cancel,
    "consumer_error": _consumer_error,
    "server_fault": _to_the_end,
    "abandon": _abandon,
}


async def _finish(task: asyncio.Task[None], timeout: float) -> bool:
    """Wait for `task`; whether it ended. Re-raises what no consumer may swallow
    (KeyboardInterrupt, SystemExit)."""
    done, _ = await asyncio.wait({task}, timeout=timeout)
    error = task.exception() if done and not task.cancelled() else None
    if error is not None:
        raise error
    return bool(done)


async def drive(way: str, make: StreamFactory, watch: Watch, run: Run, *, limit: float, bound: float) -> None:
    """Take `way` out of a fresh stream from `make`, giving up after `limit` seconds."""
    task = asyncio.create_task(_CONSUMERS[way](make, watch, run), name=f"sparring-cleanup-{way}")
    try:
        await _drive(way, task, run, limit, bound)
    except BaseException:
        task.cancel()  # the check itself was cancelled or interrupted: take its consumer along
        raise
    if isinstance(run.error, NotAStream):
        raise run.error


async def _drive(way: str, task: asyncio.Task[None], run: Run, limit: float, bound: float) -> None:
    if way != "cancel":
        ended = await _finish(task, limit)
    else:
        await asyncio.wait({task, run.first}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        if run.first.done() and not task.done():
            run.left = time.monotonic()
            run.cancel_sent = task.cancel()
            if await _finish(task, bound):
                run.cancelled = task.cancelled()
            else:
                run.stuck = f"the cancelled consumer was still running {bound:g} s later: it ignores cancellation"
            return
        ended = await _finish(task, 0)  # over before its first event, or no event came at all
    if not ended:
        run.stuck = f"the consumer was still inside the stream after {limit:g} s: the client hangs"
        task.cancel()
        await _finish(task, bound)
