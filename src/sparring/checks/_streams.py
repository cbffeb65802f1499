"""What the checks take a stream as, and what they let through.

- One set of messages for every slip in handing a check its stream (a coroutine, a sync
  iterator, an async context manager, a stream where a function that makes one is needed),
  worded the same in `collect`, `collect_sync` and `check_cleanup`.
- `passes_through`: which exceptions out of a client's stream or its close must propagate
  (Ctrl-C, `sys.exit()`, the check's own cancellation), as opposed to being recorded as what
  the client did: anyio task groups raise `GeneratorExit` or a `BaseExceptionGroup` out of
  `aclose()`, and that is a finding, not a reason to crash the check.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from sparring.errors import SparringError

_WRAP = (
    "\n    async def stream():\n"
    "        async with await client.chat.completions.create(..., stream=True) as chunks:\n"
    "            async for chunk in chunks:\n"
    "                yield chunk"
)
_ENTER = (
    "\n    async def stream():\n        async with make_stream(...) as events:\n"
    "            async for event in events:\n                yield event"
)
_SYNC = (
    "for a sync stream (the openai SDK's Stream, a generator) use collect_sync(); check_cleanup needs an async client"
)


class NotAStream(SparringError, TypeError):
    """A check was handed something it cannot iterate: a mistake in the test, not a leak."""


def _name(value: object) -> str:
    return getattr(value, "__qualname__", None) or type(value).__qualname__


def describe(value: object) -> str:
    """What `value` is, in the words the messages use: "a coroutine (chat)", "a list"..."""
    if inspect.iscoroutine(value):
        return f"a coroutine ({_name(value)})"
    if inspect.isasyncgen(value):
        return f"an async generator ({_name(value)})"
    if inspect.isgenerator(value):
        return f"a generator ({_name(value)})"
    if isinstance(value, (AsyncIterator, AsyncIterable)):
        return f"an async iterator ({type(value).__qualname__})"
    if isinstance(value, Iterator):
        return f"a sync iterator ({type(value).__qualname__})"
    if isinstance(value, Iterable):
        return f"a sync iterable ({type(value).__qualname__})"
    if hasattr(value, "__aenter__"):
        return f"an async context manager ({type(value).__qualname__})"
    if value is None:
        return "None"
    name = type(value).__qualname__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _discard(value: object) -> None:
    if inspect.iscoroutine(value):
        value.close()  # never to be awaited: no "coroutine was never awaited" warning on top


def async_stream(value: object, subject: str) -> AsyncIterator[Any]:
    """`value` as an async iterator, or `NotAStream` naming what it is and what to do.
    `subject` starts the message: "collect() was given", "stream() returned"."""
    if isinstance(value, AsyncIterator):
        return value
    if isinstance(value, AsyncIterable):
        return aiter(value)
    what = describe(value)
    _discard(value)
    if inspect.iscoroutine(value):
        advice = f"await it inside an async generator:{_WRAP}"
    elif isinstance(value, Iterable):
        advice = _SYNC
    elif hasattr(value, "__aenter__"):
        advice = f"enter it inside an async generator:{_ENTER}"
    else:
        advice = "give an async generator, or an object with __aiter__"
    raise NotAStream(f"{subject} {what}, not an async iterator; {advice}")


def sync_stream(value: object, subject: str) -> Iterator[Any]:
    """`value` as a sync iterator, or `NotAStream`, worded like `async_stream`."""
    if isinstance(value, Iterator):
        return value
    if isinstance(value, Iterable) and not isinstance(value, (AsyncIterator, AsyncIterable)):
        return iter(value)
    what = describe(value)
    _discard(value)
    if isinstance(value, (AsyncIterator, AsyncIterable)) or inspect.iscoroutine(value):
        advice = "for an async stream use `await collect(...)`"
    else:
        advice = "give a generator, or an object with __iter__"
    raise NotAStream(f"{subject} {what}, not a sync iterator; {advice}")


def stream_factory(value: object, subject: str) -> Callable[[], Any]:
    """`value` if it can make a fresh stream each time, else `NotAStream`."""
    if callable(value):
        return value
    what = describe(value)
    _discard(value)
    raise NotAStream(
        f"{subject} must be a function that makes a fresh stream each time (e.g. lambda: client.chat(...)), "
        f"got {what}; each way out takes a new stream"
    )


if sys.version_info >= (3, 11):

    def cancelling_us() -> bool:
        """Whether the running task is being cancelled (outside asyncio: assume so)."""
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return True
        return task is not None and task.cancelling() > 0

else:  # pragma: no cover - exercised on 3.10 only

    def cancelling_us() -> bool:
        return True  # 3.10 cannot tell whose cancellation it is: let it through


def interrupts(exc: BaseException) -> bool:
    """Ctrl-C or `sys.exit()`, also inside an exception group: never a check's to swallow."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return True
    inner = getattr(exc, "exceptions", None)  # an exception group (3.11+, or the backport on 3.10)
    return isinstance(inner, (list, tuple)) and any(isinstance(e, BaseException) and interrupts(e) for e in inner)


def passes_through(exc: BaseException) -> bool:
    """Whether `exc` must propagate rather than be recorded as the client's doing: Ctrl-C,
    `sys.exit()`, trio's `Cancelled`, and asyncio's cancellation of the running task (the
    check's own) — also inside an exception group."""
    if interrupts(exc):
        return True
    if isinstance(exc, asyncio.CancelledError):
        return cancelling_us()
    if type(exc).__name__ == "Cancelled" and type(exc).__module__.startswith("trio"):
        return True  # trio delivers it only for a scope being cancelled: never the client's to raise
    inner = getattr(exc, "exceptions", None)
    return isinstance(inner, (list, tuple)) and any(isinstance(e, BaseException) and passes_through(e) for e in inner)
