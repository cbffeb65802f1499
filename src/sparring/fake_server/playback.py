"""Writing an answer on schedule: the delays, the writes, and the journal of each write.

The server runs with handler cancellation on, so a client that goes away mid-stream cancels
this coroutine at once, even while it sleeps; the journal records the disconnect then, not
at the next write.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence

from aiohttp import web

from sparring.fake_server.dialects.base import Frame
from sparring.fake_server.journal import Entry, Journal
from sparring.scenario.model import Timing

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


def delays(frames: Sequence[Frame], timing: Timing) -> list[float]:
    """Seconds to wait before each frame: `first_chunk` before the first, `gap` +/- jitter
    before each later paced frame, nothing before unpaced ones (usage, terminator)."""
    rng = random.Random(timing.seed)
    waits: list[float] = []
    for i, frame in enumerate(frames):
        if i == 0:
            waits.append(timing.first_chunk)
        elif frame.paced:
            waits.append(
                max(0.0, timing.gap + rng.uniform(-timing.jitter, timing.jitter)) if timing.jitter else timing.gap
            )
        else:
            waits.append(0.0)
    return waits


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def stream(
    request: web.Request,
    journal: Journal,
    entry: Entry,
    frames: Sequence[Frame],
    timing: Timing,
    headers: Mapping[str, str],
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": SSE_CONTENT_TYPE, **headers})
    await response.prepare(request)
    journal.update(entry, status=200)
    sent = 0
    try:
        for frame, wait in zip(frames, delays(frames, timing), strict=True):
            await pause(wait)
            await response.write(frame.data)
            sent += 1
            journal.chunk(entry, len(frame.data))
        await response.write_eof()
    except asyncio.CancelledError:
        journal.end(entry, "client_disconnected", f"after chunk {sent} of {len(frames)}")
        raise
    except ConnectionResetError:
        journal.end(entry, "client_disconnected", f"after chunk {sent} of {len(frames)}")
        return response
    journal.end(entry, "completed")
    return response
