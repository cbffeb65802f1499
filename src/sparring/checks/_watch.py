"""Watching the event loop while a check drives a client through one way out.

- The async-generator hooks: which generator the loop's finalizer took (the one under test,
  kept so its state can be read after), and, in strict mode, every *other* generator the
  client left unclosed is held back until the verdict. CPython finalizes such orphans (an
  httpx line iterator, the SDK's inner stream) within a few loop turns, and their own
  cleanup then closes the connection for a client that never did: cleanup that relies on the
  garbage collector reaching an orphan is not cleanup (PEP 533; on PyPy, or in a reference
  cycle, it may take minutes).
- The loop's exception handler: what the loop reports meanwhile ("Task exception was never
  retrieved: async generator ignored GeneratorExit", "Unclosed client session"...).
- Tasks: which ones appeared during the way and are still running.

Hooks and handler are installed for the whole check and restored after, even on error.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import AsyncGenerator, Callable
from types import CodeType, TracebackType
from typing import Any

from sparring.checks._streams import passes_through

Context = dict[str, Any]
_AsyncGen = AsyncGenerator[Any, Any]


def describe_generator(agen: _AsyncGen) -> str:
    return getattr(agen, "__qualname__", type(agen).__name__)


def describe_task(task: asyncio.Task[Any]) -> str:
    if _is_aclose(task):
        return f"{task.get_name()} (the event loop closing an abandoned async generator)"
    coro = task.get_coro()
    return f"{task.get_name()} ({getattr(coro, '__qualname__', coro)!s})"


def _is_aclose(task: asyncio.Task[Any]) -> bool:
    """A task the loop's finalizer started to close an async generator."""
    return type(task.get_coro()).__name__ == "async_generator_athrow"


class Watch:
    """The loop's view of one check; a context manager around the whole check."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, strict: bool) -> None:
        self.loop = loop
        self.strict = strict
        self._hooks = sys.get_asyncgen_hooks()
        self._handler = loop.get_exception_handler()
        self._active = False
        self._holding = False
        self._target: tuple[int, CodeType] | None = None
        self.finalized: _AsyncGen | None = None  # the generator under test, once the finalizer had it
        self.held: list[_AsyncGen] = []  # other generators left unclosed during this way
        self.reports: list[Context] | None = None  # what the loop reported during this way
        self._before: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> Watch:
        sys.set_asyncgen_hooks(firstiter=self._firstiter, finalizer=self._finalizer)
        self.loop.set_exception_handler(self._on_report)
        self._active = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._active = self._holding = False
        sys.set_asyncgen_hooks(firstiter=self._hooks.firstiter, finalizer=self._hooks.finalizer)
        self.loop.set_exception_handler(self._handler)
        self._let_go()

    # -- one way out --------------------------------------------------------------------------

    def begin(self) -> None:
        """Start watching a way: forget the last one, note the tasks already running."""
        self._target, self.finalized, self.reports = None, None, []
        self._before = set(asyncio.all_tasks(self.loop))
        self._holding = self.strict

    def target(self, stream: object) -> None:
        """The stream under test: the loop's finalizer may close it (as in real code)."""
        if inspect.isasyncgen(stream):
            self._target = (id(stream), stream.ag_code)

    def new_tasks(self) -> list[asyncio.Task[Any]]:
        """Tasks started since `begin` and still running (the check's own excepted)."""
        current = asyncio.current_task(self.loop)
        return [t for t in asyncio.all_tasks(self.loop) if t not in self._before and t is not current]

    async def release(self, within: float) -> None:
        """End the way: close the generators held back, one at a time (a nest of them closed
        at once trips over itself: "aclose(): asynchronous generator is already running"),
        along with those they orphan in turn; cancel the tasks still running (already
        reported); wait up to `within` for all that, so nothing of this way spills over."""
        self._target, self.finalized, self.reports = None, None, None
        leftover = self.new_tasks()
        for task in leftover:
            task.cancel()
        deadline = time.monotonic() + within
        while self.held and time.monotonic() < deadline:
            agen = self.held.pop(0)
            try:
                await asyncio.wait_for(agen.aclose(), deadline - time.monotonic())
            except BaseException as exc:  # a close that timed out, anyio's exception groups too
                if passes_through(exc):
                    raise
                self._forward({"message": "closing an async generator the client left unclosed", "exception": exc})
        self._holding = False
        self._let_go()
        while time.monotonic() < deadline:  # polled: nothing signals when a task is done
            if not any(t in leftover or _is_aclose(t) for t in self.new_tasks()):
                return
            await asyncio.sleep(0.01)

    # -- hooks --------------------------------------------------------------------------------

    def _firstiter(self, agen: _AsyncGen) -> None:
        if self._hooks.firstiter is not None:
            self._hooks.firstiter(agen)

    def _finalizer(self, agen: _AsyncGen) -> None:
        # Called as `agen` is about to be collected unfinished; weak references to it are
        # already dead here, hence matching by identity and code.
        if not self._active:
            self._pass_on(agen)
        elif self._target is not None and (id(agen), getattr(agen, "ag_code", None)) == self._target:
            self.finalized = agen  # keep it: its frame tells whether the finalizer closed it
            self._pass_on(agen)
        elif self._holding:
            self.held.append(agen)
        else:
            self._pass_on(agen)

    def _pass_on(self, agen: _AsyncGen) -> None:
        finalizer: Callable[[Any], object] | None = self._hooks.finalizer
        if finalizer is not None:
            finalizer(agen)

    def _let_go(self) -> None:
        held, self.held = self.held, []
        for agen in held:
            self._pass_on(agen)

    def _on_report(self, loop: asyncio.AbstractEventLoop, context: Context) -> None:
        if self._active and self.reports is not None:
            self.reports.append(context)
        else:
            self._forward(context)

    def _forward(self, context: Context) -> None:
        if self._handler is not None:
            self._handler(self.loop, context)
        else:
            self.loop.default_exception_handler(context)
