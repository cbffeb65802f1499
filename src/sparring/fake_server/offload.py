"""Work too heavy for the event loop, in a thread of its own that a shutdown never waits for.

Parsing a scenario of thousands of replies or rendering a 100,000-chunk reply takes a second
or more of pure Python: on the loop, every other client would wait. `asyncio.to_thread`
would move it off the loop, but its executor's threads are joined when the process exits, so
`sparring serve` would sit on a SIGTERM until the work was done. A daemon thread is not: the
server stops at once and the abandoned result goes nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def off_loop(work: Callable[[], T]) -> T:
    """The result of `work()`, run in a daemon thread; cancelling the wait abandons the work.

    On a loop under a virtual clock (looptime: `@pytest.mark.sparring_virtual_time`), inline:
    the clock cannot see a thread's work, and would jump to the next timer (a client's read
    timeout) while the thread was still at it."""
    loop = asyncio.get_running_loop()
    if getattr(loop, "looptime_on", False):
        return work()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():  # the request was cancelled meanwhile
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # handed to the awaiting task, which reports it
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed first: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="sparring-work", daemon=True).start()
    return await done
