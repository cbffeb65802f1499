"""Writing a response on schedule, in the scripted shape, with the scripted fault.

`plan` turns events into writes (line endings applied, grouped, cut to size), each with the
wait before it, taking events only as the writes need them: a stream's headers go out before
its events are rendered. Unshaped events with no wait between them share a write. A
mid-stream fault needs the events' sizes, so its stream is rendered whole first; the fault's
kind (`faults.KINDS`) changes the events, or splits the writes at its byte offset and acts
there. Writes go out against absolute deadlines from the stream's start, so a write that went
out late does not delay the ones after it (they catch up, at half their waits at most).

The server runs with handler cancellation on, so a client that goes away cancels this
coroutine at once, even while it sleeps; the exchange records the disconnect then.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from sparring.fake_server import faults
from sparring.fake_server.dialects.base import Frame
from sparring.fake_server.exchange import Exchange
from sparring.fake_server.journal import Entry
from sparring.fake_server.offload import off_loop
from sparring.scenario.delivery import LINE_ENDINGS, Fault, Timing, Wire

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
_YIELD_EVERY = 64  # events (or writes) sent back to back before other tasks get a turn
_COALESCE_BYTES = 64 * 1024  # the most unshaped events one write carries, in bytes...
_COALESCE_EVENTS = _YIELD_EVERY  # ...and in events
# A late write catches up with its deadline, but goes out at least this part of its wait
# after the write before it: after the process stalled (a garbage collection in the test
# process, a blocked loop), a stream resumes paced instead of rushing out what it owed.
_CATCH_UP = 0.5
ErrorFrames = faults.ErrorFrames


@dataclass(slots=True)
class Write:
    data: bytes
    wait: float = 0.0  # seconds before it goes out, after the write before it was due
    boundary: bool = True  # ends between two events, where a keep-alive comment may follow
    events: int = 0  # events that start in it
    final: bool = False  # the last write of the body


class Gaps:
    """The scripted wait before each event, drawn in order from the timing's seeded generator:
    `first_chunk` before the first event, a gap before each later paced event, nothing before
    unpaced ones (usage, terminator)."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self.rng: random.Random | None = None  # made at the first draw: most timings draw none
        self.taken = 0

    def before(self, frame: Frame) -> float:
        self.taken += 1
        if self.taken == 1:
            return self.timing.first_chunk
        return self.gap() if frame.paced else 0.0

    def gap(self) -> float:
        timing = self.timing
        if timing.distribution != "lognormal" and not timing.jitter:
            return timing.gap
        if self.rng is None:
            self.rng = random.Random(timing.seed)
        if timing.distribution == "lognormal":
            return timing.gap * self.rng.lognormvariate(0.0, timing.sigma)
        return max(0.0, timing.gap + self.rng.uniform(-timing.jitter, timing.jitter))


def whole_wait(timing: Timing, paced: int) -> float:
    """How long a whole answer waits: as long as its stream of `paced` paced events would
    have, `first_chunk` before the first and a drawn gap before each later one."""
    gaps = Gaps(timing)
    return timing.first_chunk + sum(gaps.gap() for _ in range(max(0, paced - 1)))


def unshaped(wire: Wire) -> bool:
    """No wire shaping scripted: how many writes carry the events is sparring's to choose."""
    return wire.events_per_write == 1 and not wire.sizes and wire.line_ending == "lf"


def plan(
    frames: Iterable[Frame],
    timing: Timing,
    wire: Wire,
    taken: Callable[[list[Frame]], None] | None = None,
    waits: Callable[[Frame], float] | None = None,
) -> Iterator[Write]:
    """The writes that carry `frames`, made as they are taken: groups of `events_per_write`
    events (unshaped, every run of events with no wait between them, up to a cap), cut into
    pieces of `write_size` bytes (cycling through a list of sizes), each group after the
    wait before its first event. `taken` hears of each group's events before its writes.
    `waits` gives the wait before each event (a recording's pace) in place of the timing's."""
    ending = LINE_ENDINGS[wire.line_ending]
    coalesce = unshaped(wire)
    per_write = _COALESCE_EVENTS if coalesce else wire.events_per_write
    sizes = wire.sizes
    before = waits if waits is not None else Gaps(timing).before
    source = iter(frames)
    turn = 0
    ahead = next(source, None)
    wait_ahead = before(ahead) if ahead is not None else 0.0
    while ahead is not None:
        group, wait, nbytes = [ahead], wait_ahead, len(ahead.data)
        ahead = next(source, None)
        while ahead is not None:
            wait_ahead = before(ahead)  # drawn for every event, grouped or not: the same draws
            if len(group) == per_write or (coalesce and (wait_ahead or nbytes >= _COALESCE_BYTES)):
                break
            group.append(ahead)
            nbytes += len(ahead.data)
            ahead = next(source, None)
        if taken is not None:
            taken(group)
        data = b"".join(f.data for f in group)
        if ending != b"\n":
            data = data.replace(b"\n", ending)
        if not sizes:
            yield Write(data, wait, events=len(group), final=ahead is None)
            continue
        at = 0
        while at < len(data):
            size = sizes[turn % len(sizes)]
            turn += 1
            piece = data[at : at + size]
            at += len(piece)
            first = at == len(piece)
            done = at == len(data)
            yield Write(piece, wait if first else 0.0, done, len(group) if first else 0, done and ahead is None)


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
        head.append(Write(write.data[:cut], write.wait, boundary=False, events=write.events))
        return head, [Write(write.data[cut:], 0.0, write.boundary, final=write.final), *writes[i + 1 :]]
    return head, []


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


class Player:
    """Sends writes on one prepared response, each at its deadline, and journals each."""

    def __init__(
        self,
        exchange: Exchange,
        response: web.StreamResponse,
        timing: Timing,
        line_ending: bytes,
        start: float | None = None,
    ) -> None:
        """`start`: the loop time the first write's wait counts from (now by default; a replay
        counts from when its recorded headers were due, so a late start is caught up)."""
        self.exchange = exchange
        self.request = exchange.request
        self.response = response
        self.keepalive = timing.keepalive
        self.comment = b": ping" + line_ending * 2
        self.stalled = False
        self.at_boundary = True  # the last write ended between two events
        self.loop = asyncio.get_running_loop()
        self.due = self.loop.time() if start is None else start  # when the next write is due, before its own wait
        self.last = self.due  # when the last write of the body went out (keep-alives aside)
        self.unyielded = 0  # events sent since other tasks last had a turn

    async def send(self, writes: Iterable[Write], *, last: bool = False) -> None:
        """Send writes on schedule. With `last`, these end the body: the entry is ended as
        completed (its final chunk counted) just before the final write, so a client holding
        the whole body always finds it final. ("Completed" means every byte was handed to the
        socket.)"""
        for write in writes:
            if write.wait and self.keepalive is None:  # wait(), inlined: the common case
                self.due += write.wait
                delay = max(self.due, self.last + write.wait * _CATCH_UP) - self.loop.time()
                if delay > 0:
                    self.unyielded = 0
                    await asyncio.sleep(delay)
            elif write.wait:
                await self.wait(write.wait)
            self.unyielded += max(1, write.events)
            if self.unyielded >= _YIELD_EVERY:
                self.unyielded = 0
                await asyncio.sleep(0)  # a write seldom waits for the socket: let other clients in
            await self.put(write.data, ends=last and write.final)
            self.at_boundary = write.boundary
            self.last = self.loop.time()
        if last and self.exchange.entry.outcome is None:  # nothing was final: an empty body
            self.exchange.finish("completed")

    async def stall(self, seconds: float | None) -> None:
        """Hold the response back (the `stall` fault): a client giving up meanwhile stalled."""
        self.stalled = True
        await self.wait(seconds)
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
            if self.response.content_length is None:  # chunked: the last chunk and the terminator in one send
                await self.response.write_eof(data)
                return
        await self.response.write(data)

    async def wait(self, seconds: float | None) -> None:
        """Wait `seconds` past the last deadline (forever if None), sending keep-alive
        comments meanwhile when scripted and between events."""
        keepalive = self.keepalive if self.at_boundary else None
        if seconds is None:  # until the client gives up: a keep-alive every interval, forever
            if keepalive is None:
                await faults.wait(None)
            while keepalive is not None:
                await asyncio.sleep(keepalive)
                await self.put(self.comment, "keepalive")
            return
        start, self.due = self.due, self.due + seconds
        if keepalive is not None:
            # Counted, not subtracted: float drift would add a stray keep-alive before the event.
            for k in range(1, math.ceil(seconds / keepalive - 1e-9)):
                await self.until(start + k * keepalive)
                await self.put(self.comment, "keepalive")
        await self.until(max(self.due, self.last + seconds * _CATCH_UP))

    async def until(self, deadline: float) -> None:
        delay = deadline - self.loop.time()
        if delay > 0:
            self.unyielded = 0
            await asyncio.sleep(delay)


def shape(
    frames: list[Frame],
    timing: Timing,
    wire: Wire,
    fault: Fault,
    error_frames: ErrorFrames,
    writes_of: Callable[[list[Frame]], Iterable[Write]] | None = None,
) -> tuple[list[Frame], list[Write], list[Write]]:
    """The events sent, the writes before the fault strikes, and the writes after it.
    `writes_of` makes the writes of the events sent (a recording's reads) in place of `plan`."""
    kind = faults.kind_of(fault)
    sizes = faults.sizes_on_wire(frames, len(LINE_ENDINGS[wire.line_ending]) - 1)
    frames = kind.events(frames, fault, sizes, error_frames)
    writes = list(writes_of(frames) if writes_of is not None else plan(frames, timing, wire))
    if not kind.cuts_in:
        return frames, writes, []
    offset = kind.offset(fault, sizes)
    head, tail = split(writes, offset)
    edges = itertools.accumulate(faults.sizes_on_wire(frames, len(LINE_ENDINGS[wire.line_ending]) - 1))
    if head and offset in edges:  # cut between two events (inside a coalesced write): keep-alives may follow
        head[-1].boundary = True
    return frames, head, tail


async def stream(
    exchange: Exchange,
    frames: Iterable[Frame],
    *,
    timing: Timing,
    wire: Wire,
    fault: Fault | None,
    error_frames: ErrorFrames,
    headers: Mapping[str, str],
    big: bool = False,
    writes_of: Callable[[list[Frame]], Iterable[Write]] | None = None,
    status: int = 200,
    content_type: str = SSE_CONTENT_TYPE,
    start: float | None = None,
) -> web.StreamResponse:
    """Send `frames` as the body of an event stream, as scripted. Without a fault, events
    are taken (and rendered) as they go out; a fault needs them all first, in a worker thread
    for a `big` reply. `writes_of` makes the writes of the events sent in place of `plan`
    (a recording's reads, at their recorded times)."""
    extra = len(LINE_ENDINGS[wire.line_ending]) - 1
    if fault is None and writes_of is None:
        writes = plan(frames, timing, wire, lambda group: exchange.frames(group, extra))
        return await _send(exchange, writes, None, headers, content_type, timing, wire, status=status)

    def shaped() -> tuple[list[Frame], list[Write], list[Write]]:
        if fault is None:
            assert writes_of is not None
            events = list(frames)
            return events, list(writes_of(events)), []
        return shape(list(frames), timing, wire, fault, error_frames, writes_of)

    sent, head, tail = await off_loop(shaped) if big else shaped()
    exchange.frames(sent, extra)
    cut = (fault, tail) if fault is not None else None
    return await _send(exchange, head, cut, headers, content_type, timing, wire, status=status, start=start)


async def whole(
    exchange: Exchange,
    body: bytes,
    *,
    content: bool,
    fault: Fault | None,
    write_size: int | tuple[int, ...] | list[int] | None,
    headers: Mapping[str, str],
    status: int = 200,
    content_type: str = "application/json",
    writes_of: Callable[[list[Frame]], Iterable[Write]] | None = None,
    start: float | None = None,
) -> web.StreamResponse:
    """Send a whole (non-streamed) answer's JSON `body`, cut in `write_size` pieces (or as
    `writes_of` cuts it: a recording's reads), with what the fault does to a whole body
    (`faults.Kind.whole`)."""
    if fault is not None:
        done = faults.kind_of(fault).whole(fault, body)
        body, fault = done.body, done.fault
        if done.recorded is not None:
            exchange.fault(done.recorded)
        if done.note is not None:
            exchange.note(done.note)
    frame, timing, wire = Frame(body, content=content), Timing(), Wire(write_size=write_size)
    exchange.frames([frame])
    length = len(body) + (faults.kind_of(fault).extra_bytes(fault) if fault is not None else 0)
    if fault is None:
        writes = writes_of([frame]) if writes_of is not None else plan([frame], timing, wire)
        return await _send(exchange, writes, None, headers, content_type, timing, wire, length, status, start)
    _, head, tail = shape([frame], timing, wire, fault, lambda sent: [], writes_of)
    return await _send(exchange, head, (fault, tail), headers, content_type, timing, wire, length, status, start)


async def _send(
    exchange: Exchange,
    head: Iterable[Write],
    cut: tuple[Fault, list[Write]] | None,
    headers: Mapping[str, str],
    content_type: str,
    timing: Timing,
    wire: Wire,
    content_length: int | None = None,
    status: int = 200,
    start: float | None = None,
) -> web.StreamResponse:
    """Send the headers, then `head`; with a fault, let it strike and send the writes after
    it (`cut`) if the connection is still there; journal how it ended."""
    request, entry = exchange.request, exchange.entry
    kind = faults.kind_of(cut[0]) if cut is not None else None
    if cut is not None:
        exchange.fault(cut[0].describe())
    all_headers = {"Content-Type": content_type, **headers}
    response = web.StreamResponse(status=status, headers=all_headers)
    if content_length is not None:
        response.content_length = content_length
    player: Player | None = None
    try:
        await response.prepare(request)
        exchange.headers_sent(all_headers, status=status)
        player = Player(exchange, response, timing, LINE_ENDINGS[wire.line_ending], start)
        cuts_in = kind is not None and kind.cuts_in
        await player.send(head, last=not cuts_in)
        if cut is not None and kind is not None and cuts_in:
            fault, tail = cut
            if not await kind.strike(fault, player):
                return response
            await player.send(tail, last=True)
        await response.write_eof()
    except (asyncio.CancelledError, ConnectionError) as exc:  # a client gone is its doing, not a bug
        exchange.cut_short(exc, _where(response, entry), stalled=player is not None and player.stalled)
        if isinstance(exc, asyncio.CancelledError):
            raise
    return response


def _where(response: web.StreamResponse, entry: Entry) -> str:
    """Where a response stopped: before its headers went out, or after some writes."""
    if not response.prepared:
        return "before the headers were sent"
    return f"after {entry.writes} writes, {entry.bytes_sent} bytes"
