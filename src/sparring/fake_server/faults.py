"""The faults, each one small named unit.

Before the headers a fault replaces the response: `reset`, `empty_response`, `garbage`,
`hang`. During a response a fault acts at a byte offset of the body: it cuts the connection
(`reset`, `close`, `truncate`), pauses it (`stall`), or corrupts it (`garbage`,
`malformed_chunk`); `error_event` and `no_done` change which events are sent at all.

How aiohttp behaves here (wire-format.md §7): closing or aborting the transport and then
returning from the handler sends nothing more; the client sees an incomplete chunked body
(FIN) or a connection reset (RST, from SO_LINGER 0 then abort).
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Callable, Sequence

from aiohttp import web

from sparring.fake_server.dialects.base import Frame
from sparring.scenario.delivery import Fault


def rst(request: web.Request) -> None:
    """Close with a TCP RST: linger 0 makes the kernel reset instead of a FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def fin(request: web.Request) -> None:
    """Close cleanly with a FIN, without whatever framing the response still owed."""
    if request.transport is not None:
        request.transport.close()


def garbage(fault: Fault) -> bytes:
    return random.Random(fault.seed).randbytes(fault.size)


async def wait(seconds: float | None) -> None:
    """Sleep, or forever: the client giving up (or the server closing) cancels it."""
    if seconds is None:
        await asyncio.Event().wait()
    elif seconds > 0:
        await asyncio.sleep(seconds)


# -- before the headers: each returns nothing, having dealt with the connection itself --------


async def before_headers(request: web.Request, fault: Fault) -> None:
    if fault.kind == "reset":
        rst(request)
    elif fault.kind == "empty_response":
        fin(request)
    elif fault.kind == "garbage":
        if request.transport is not None:
            request.transport.write(garbage(fault))
        fin(request)
    elif fault.kind == "hang":
        await wait(fault.duration)
        fin(request)


# -- during the response: where it strikes, and what it does to the events -------------------


def sizes_on_wire(frames: Sequence[Frame], ending_bytes: int) -> list[int]:
    """Each event's length in bytes once its line endings are applied."""
    return [len(f.data) + f.data.count(b"\n") * ending_bytes for f in frames]


def events_before(fault: Fault, sizes: Sequence[int]) -> int:
    """How many whole events go out before the fault: `after_chunk`, or the events that end
    by `after_byte`, or half of them."""
    if fault.after_byte is not None:
        total, k = 0, 0
        while k < len(sizes) and total + sizes[k] <= fault.after_byte:
            total += sizes[k]
            k += 1
        return k
    return len(sizes) // 2 if fault.after_chunk is None else min(fault.after_chunk, len(sizes))


def offset(fault: Fault, sizes: Sequence[int]) -> int:
    """The body byte at which a fault acting on the connection strikes. `truncate` after
    chunk k goes half an event further, into the middle of the next one."""
    if fault.after_byte is not None:
        return min(fault.after_byte, sum(sizes))
    k = events_before(fault, sizes)
    at = sum(sizes[:k])
    if fault.kind == "truncate" and k < len(sizes):
        at += max(1, sizes[k] // 2)
    return at


def reshape(
    frames: list[Frame], fault: Fault, sizes: Sequence[int], error_frames: Callable[[list[Frame]], list[Frame]]
) -> list[Frame]:
    """The events actually sent, for the faults that change events rather than the connection."""
    if fault.kind == "no_done":
        return [f for f in frames if not f.terminal]
    k = events_before(fault, sizes)
    if fault.kind == "error_event":
        return frames[:k] + error_frames(frames[:k])
    if fault.kind == "malformed_chunk" and k < len(frames):
        return [*frames[:k], malformed(frames[k]), *frames[k + 1 :]]
    return frames


def malformed(frame: Frame) -> Frame:
    """The same event with its JSON cut in half: framing intact, payload unparseable."""
    body = frame.data.rstrip(b"\n")
    at = body.rfind(b"data:") + len(b"data:")
    payload = body[at:]
    return Frame(body[:at] + payload[: max(2, len(payload) // 2)] + b"\n\n", paced=frame.paced)
