"""Writing a response on schedule, in the scripted shape, with the scripted fault.

The events become a plan of writes (line endings applied, coalesced, cut to size), each with
the wait before it. A mid-stream fault splits the plan at its byte offset and acts there.

The server runs with handler cancellation on, so a client that goes away cancels this
coroutine at once, even while it sleeps; the journal records the disconnect then.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from sparring.fake_server import faults
from sparring.fake_server.dialects.base import Frame
from sparring.fake_server.exchange import Exchange
from sparring.fake_server.journal import Entry
from sparring.fake_server.offload import off_loop
from sparring.scenario.delivery import LINE_ENDINGS, Fault, Timing, Wire

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
_YIELD_EVERY = 64  # writes sent back to back before other tasks get a turn
# Makes the in-band error events from the events sent before them (the `error_event` fault).
ErrorFrames = Callable[[list[Frame]], list[Frame]]


@dataclass(frozen=True)
class Write:
    data: bytes
    wait: float = 0.0  # seconds before it goes out
    boundary: bool = True  # ends between two events, where a keep-alive comment may follow


def delays(frames: Sequence[Frame], timing: Timing) -> list[float]:
    """Seconds before each frame: `first_chunk` before the first, a drawn gap before each later
    paced frame, nothing before unpaced ones (usage, terminator)."""
    rng = random.Random(timing.seed)
    waits: list[float] = []
    for i, frame in enumerate(frames):
        if i == 0:
            waits.append(timing.first_chunk)
        else:
            waits.append(_gap(timing, rng) if frame.paced else 0.0)
    return waits


def whole_wait(timing: Timing, paced: int) -> float:
    """How long a whole answer waits: as long as its stream of `paced` paced events would
    have, `first_chunk` before the first and a drawn gap before each later one."""
    rng = random.Random(timing.seed)
    return timing.first_chunk + sum(_gap(timing, rng) for _ in range(max(0, paced - 1)))


def _gap(timing: Timing, rng: random.Random) -> float:
    if timing.distribution == "lognormal":
        return timing.gap * rng.lognormvariate(0.0, timing.sigma)
    if timing.jitter:
        return max(0.0, timing.gap + rng.uniform(-timing.jitter, timing.jitter))
    return timing.gap


def plan(frames: Sequence[Frame], timing: Timing, wire: Wire) -> list[Write]:
    """The writes that carry `frames`: groups of `events_per_write` events, cut into pieces of
    `write_size` bytes (cycling through a list of sizes), each group after its first wait."""
    ending = LINE_ENDINGS[wire.line_ending]
    waits = delays(frames, timing)
    sizes = wire.sizes
    turn = 0
    writes: list[Write] = []
    for start in range(0, len(frames), wire.events_per_write):
        data = b"".join(f.data for f in frames[start : start + wire.events_per_write])
        if ending != b"\n":
            data = data.replace(b"\n", ending)
        if not sizes:
            writes.append(Write(data, waits[start]))
            continue
        at = 0
        while at < len(data):
            size = sizes[turn % len(sizes)]
            turn += 1
            piece = data[at : at + size]
            at += len(piece)
            writes.append(Write(piece, waits[start] if at == len(piece) else 0.0, boundary=at == len(data)))
    return writes


def split(writes: Sequence[Write], offset: int) -> tuple[list[Write], list[Write]]:
    """The writes before body byte `offset` and those after, cutting one write if needed."""
    head: list[Write] = []
    sent = 0
    for i, write in enumerate(writes):
        if sent + len(write.data) <= offset:
            head.append(write)
            sent += len(write.data)
            continue
        cut = offset - sent
        if cut == 0:
            return head, list(writes[i:])
        head.append(Write(write.data[:cut], write.wait, boundary=False))
        return head, [Write(write.data[cut:], 0.0, write.boundary), *writes[i + 1 :]]
    return head, []


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


class Player:
    """Sends writes on one prepared response and keeps the journal of each."""

    def __init__(self, exchange: Exchange, response: web.StreamResponse, timing: Timing, line_ending: bytes) -> None:
        self.exchange = exchange
        self.request = exchange.request
        self.response = response
        self.keepalive = timing.keepalive
        self.comment = b": ping" + line_ending * 2
        self.stalled = False
        self.at_boundary = True  # the last write ended between two events

    async def send(self, writes: Sequence[Write], *, after_boundary: bool = True, last: bool = False) -> None:
        """Send writes on schedule. With `last`, these end the body: the entry is ended as
        completed (its final chunk counted) just before the final write, so a client holding
        the whole body always finds it final. ("Completed" means every byte was handed to the
        socket.)"""
        at_boundary = after_boundary
        for i, write in enumerate(writes):
            if not write.wait and i % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a write seldom waits for the socket: let other clients in
            await self.wait(write.wait, at_boundary)
            await self.put(write.data, ends=last and i == len(writes) - 1)
            at_boundary = self.at_boundary = write.boundary
        if last and not writes:
            self.exchange.finish("completed")

    async def stall(self, seconds: float | None) -> None:
        """Hold the response back (the `stall` fault): a client giving up meanwhile stalled."""
        self.stalled = True
        await self.wait(seconds, self.at_boundary)
        self.stalled = False

    def check_open(self) -> None:
        """Raise if the client has closed or reset the connection: aiohttp would refuse the
        write, and the journal must not count bytes that never reached the socket."""
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client closed the connection")

    async def put(self, data: bytes, kind: str = "event", *, ends: bool = False) -> None:
        self.check_open()  # a client already gone: nothing counted, nothing completed
        # Journal first: once write() returns the client may already hold these bytes.
        self.exchange.wrote(len(data), kind)
        if ends:
            self.exchange.finish("completed")
        await self.response.write(data)

    async def wait(self, seconds: float | None, at_boundary: bool) -> None:
        """Wait, sending keep-alive comments meanwhile when scripted and between events."""
        if self.keepalive is None or not at_boundary:
            await faults.wait(seconds)
            return
        if seconds is None:  # until the client gives up: a keep-alive every interval, forever
            while True:
                await asyncio.sleep(self.keepalive)
                await self.put(self.comment, "keepalive")
        # Counted, not subtracted: float drift would add a stray keep-alive before the event.
        pings = math.ceil(seconds / self.keepalive - 1e-9) - 1
        for _ in range(max(0, pings)):
            await asyncio.sleep(self.keepalive)
            await self.put(self.comment, "keepalive")
        await asyncio.sleep(max(0.0, seconds - max(0, pings) * self.keepalive))


def shape(
    frames: list[Frame], timing: Timing, wire: Wire, fault: Fault | None, error_frames: ErrorFrames
) -> tuple[list[Frame], list[Write], list[Write]]:
    """The events sent, the writes before the fault strikes, and the writes after it."""
    if fault is None:
        return frames, plan(frames, timing, wire), []
    kind = faults.kind_of(fault)
    sizes = faults.sizes_on_wire(frames, len(LINE_ENDINGS[wire.line_ending]) - 1)
    frames = kind.events(frames, fault, sizes, error_frames)
    writes = plan(frames, timing, wire)
    if not kind.cuts_in:
        return frames, writes, []
    return frames, *split(writes, kind.offset(fault, sizes))


async def stream(
    exchange: Exchange,
    frames: list[Frame],
    *,
    timing: Timing,
    wire: Wire,
    fault: Fault | None,
    error_frames: ErrorFrames,
    headers: Mapping[str, str],
    content_type: str = SSE_CONTENT_TYPE,
    content_length: bool = False,
    big: bool = False,
) -> web.StreamResponse:
    """Send `frames` as the body of a 200 response, as scripted; journal how it ended. With
    `big`, the writes are planned in a worker thread: a big reply's plan takes a while."""
    request, entry = exchange.request, exchange.entry
    if big:
        frames, head, tail = await off_loop(lambda: shape(frames, timing, wire, fault, error_frames))
    else:
        frames, head, tail = shape(frames, timing, wire, fault, error_frames)
    exchange.frames(frames, len(LINE_ENDINGS[wire.line_ending]) - 1)
    if fault is not None:
        exchange.fault(fault.describe())
    all_headers = {"Content-Type": content_type, **headers}
    response = web.StreamResponse(status=200, headers=all_headers)
    kind = faults.kind_of(fault) if fault is not None else None
    if content_length:
        extra = kind.extra_bytes(fault) if kind is not None and fault is not None else 0
        response.content_length = sum(len(w.data) for w in head + tail) + extra
    player = Player(exchange, response, timing, LINE_ENDINGS[wire.line_ending])
    try:
        await response.prepare(request)
        exchange.headers_sent(all_headers, status=200)
        cuts_in = kind is not None and kind.cuts_in
        await player.send(head, last=not cuts_in)
        if kind is not None and fault is not None and cuts_in:
            if not await kind.strike(fault, player):
                return response
            await player.send(tail, after_boundary=player.at_boundary, last=True)
        await response.write_eof()
    except (asyncio.CancelledError, ConnectionError) as exc:  # the client reset or closed: its doing
        exchange.cut_short(exc, _where(response, entry), stalled=player.stalled)
        if isinstance(exc, asyncio.CancelledError):
            raise
    return response


def _where(response: web.StreamResponse, entry: Entry) -> str:
    """Where a response stopped: before its headers went out, or after some writes."""
    if not response.prepared:
        return "before the headers were sent"
    return f"after {entry.writes} writes, {entry.bytes_sent} bytes"


async def whole(
    exchange: Exchange,
    body: bytes,
    *,
    content: bool,
    fault: Fault | None,
    write_size: int | tuple[int, ...] | list[int] | None,
    headers: Mapping[str, str],
) -> web.StreamResponse:
    """Send a whole (non-streamed) answer's JSON `body`, cut in `write_size` pieces, with what
    the fault does to a whole body (`faults.Kind.whole`)."""
    if fault is not None:
        done = faults.kind_of(fault).whole(fault, body)
        body, fault = done.body, done.fault
        if done.recorded is not None:
            exchange.fault(done.recorded)
        if done.note is not None:
            exchange.note(done.note)
    return await stream(
        exchange,
        [Frame(body, content=content)],
        timing=Timing(),
        wire=Wire(write_size=write_size),
        fault=fault,
        error_frames=lambda sent: [],
        headers=headers,
        content_type="application/json",
        content_length=True,
    )
