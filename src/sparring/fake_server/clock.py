"""The clock the journal reads: the process's own, or an event loop's under virtual time.

Journal times (`Entry.arrived`, chunk times, `ended`) and the waits a replay computes from
them must come from the clock that schedules the server's writes. That is `time.monotonic`
for a server on a loop of its own, and the loop's `time()` when a virtual clock
(`looptime`) runs the server on the test's loop: there, a 20 s wait passes in no wall time,
and only the loop's clock says that 20 s went by.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """`monotonic`: for durations (journal times). `wall`: seconds since the epoch, for the
    times a client reads as dates (`Entry.wall_time`)."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time


REAL = Clock()


def loop_clock(loop: asyncio.AbstractEventLoop) -> Clock:
    """The loop's clock; its wall time is the real one at this call, moved on as the loop's is."""
    start, wall_start = loop.time(), time.time()
    return Clock(monotonic=loop.time, wall=lambda: wall_start + (loop.time() - start))
