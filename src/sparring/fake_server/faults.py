"""The faults: one object per kind, saying when it strikes and what it does.

A kind acts in one or more phases:
- `before_headers`: instead of a response (`reset`, `empty_response`, `garbage`, `hang`);
- `at_offset`: at a byte offset of the body, on the connection: cut it (`reset`, `close`,
  `truncate`), pause it (`stall`) or corrupt it (`garbage`);
- `events`: on which events are sent at all (`malformed_chunk`, `error_event`, `no_done`).
Each kind also says what it does to a whole (non-streamed) body. `KINDS` maps each name of
the model's `FAULT_KINDS` to its object: adding a fault is a class here and a name there.

How aiohttp behaves here (wire-format.md §7): closing or aborting the transport and then
returning from the handler sends nothing more; the client sees an incomplete chunked body
(FIN) or a connection reset (RST, from SO_LINGER 0 then abort).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from aiohttp import web

from sparring.fake_server.dialects.base import Frame
from sparring.fake_server.exchange import Exchange
from sparring.scenario.delivery import FAULT_KINDS, Fault

Phase = Literal["before_headers", "at_offset", "events"]
# Makes the in-band error events from the events sent before them (the `error_event` fault).
ErrorFrames = Callable[[list[Frame]], list[Frame]]


class Connection(Protocol):
    """What a fault acting mid-response needs of playback's player."""

    exchange: Exchange

    async def put(self, data: bytes, kind: str = "event") -> None: ...

    async def stall(self, seconds: float | None) -> None: ...


@dataclass(frozen=True)
class Whole:
    """A whole (non-streamed) body as a fault leaves it: the bytes, the fault that still acts
    on the connection, and what the journal is told."""

    body: bytes
    fault: Fault | None
    recorded: str | None = None  # the fault as journaled, when it changed the body itself
    note: str | None = None  # why it did nothing


class Kind:
    """A fault kind. The defaults are those of a kind that acts at a byte offset."""

    name: ClassVar[str]
    phases: ClassVar[tuple[Phase, ...]] = ("at_offset",)

    @property
    def cuts_in(self) -> bool:
        """Whether it acts at a byte offset (else mid-response it only changes the events)."""
        return "at_offset" in self.phases

    async def instead(self, request: web.Request, fault: Fault) -> None:
        """Before the headers: deal with the connection; no response follows."""
        raise AssertionError(f"{self.name} does not strike before the headers")

    def events(self, frames: list[Frame], fault: Fault, sizes: Sequence[int], errors: ErrorFrames) -> list[Frame]:
        """The events sent."""
        return frames

    def offset(self, fault: Fault, sizes: Sequence[int]) -> int:
        """The body byte at which it strikes: `after_byte`, or the end of event `after_chunk`
        (halfway through the events if neither is given)."""
        if fault.after_byte is not None:
            return min(fault.after_byte, sum(sizes))
        return sum(sizes[: events_before(fault, sizes)])

    async def strike(self, fault: Fault, connection: Connection) -> bool:
        """Act at the offset; whether the rest of the body is sent after."""
        raise AssertionError(f"{self.name} does not strike at an offset")

    def extra_bytes(self, fault: Fault) -> int:
        """Bytes it adds to the body (for a whole answer's Content-Length)."""
        return 0

    def whole(self, fault: Fault, body: bytes) -> Whole:
        """On a whole body: strike halfway through it unless a byte was given."""
        if fault.after_byte is not None:
            return Whole(body, fault)
        return Whole(body, dataclasses.replace(fault, after_chunk=None, after_byte=len(body) // 2))


class _Cut(Kind):
    """Ends the connection at the offset; the journal says where."""

    async def strike(self, fault: Fault, connection: Connection) -> bool:
        exchange = connection.exchange
        self.cut(exchange.request)
        exchange.finish("fault", f"{fault.describe()}: cut after {exchange.entry.bytes_sent} bytes")
        return False

    def cut(self, request: web.Request) -> None:
        fin(request)


class Reset(_Cut):
    """A TCP RST: before the headers, or at an offset."""

    name = "reset"
    phases = ("before_headers", "at_offset")

    async def instead(self, request: web.Request, fault: Fault) -> None:
        rst(request)

    def cut(self, request: web.Request) -> None:
        rst(request)


class Close(_Cut):
    """A clean FIN without the rest of the body or its chunked terminator."""

    name = "close"


class Truncate(_Cut):
    """A FIN in the middle of an event: half of the event after chunk k goes out first."""

    name = "truncate"

    def offset(self, fault: Fault, sizes: Sequence[int]) -> int:
        if fault.after_byte is not None:
            return super().offset(fault, sizes)
        k = events_before(fault, sizes)
        return sum(sizes[:k]) + (max(1, sizes[k] // 2) if k < len(sizes) else 0)


class Stall(Kind):
    """Stops sending for `duration` seconds (or until the client gives up), then goes on."""

    name = "stall"

    async def strike(self, fault: Fault, connection: Connection) -> bool:
        await connection.stall(fault.duration)
        return True


class Garbage(Kind):
    """`size` random bytes: instead of a response (then a FIN), or in the body."""

    name = "garbage"
    phases = ("before_headers", "at_offset")

    async def instead(self, request: web.Request, fault: Fault) -> None:
        if request.transport is not None:
            request.transport.write(garbage(fault))
        fin(request)

    async def strike(self, fault: Fault, connection: Connection) -> bool:
        await connection.put(garbage(fault), "garbage")
        return True

    def extra_bytes(self, fault: Fault) -> int:
        return fault.size


class EmptyResponse(Kind):
    """A FIN before any byte."""

    name = "empty_response"
    phases = ("before_headers",)

    async def instead(self, request: web.Request, fault: Fault) -> None:
        fin(request)


class Hang(Kind):
    """No answer: a FIN after `duration` seconds, or never (the client gives up)."""

    name = "hang"
    phases = ("before_headers",)

    async def instead(self, request: web.Request, fault: Fault) -> None:
        await wait(fault.duration)
        fin(request)


class MalformedChunk(Kind):
    """The event after chunk k with its JSON cut in half; on a whole body, the body cut in half."""

    name = "malformed_chunk"
    phases = ("events",)

    def events(self, frames: list[Frame], fault: Fault, sizes: Sequence[int], errors: ErrorFrames) -> list[Frame]:
        k = events_before(fault, sizes)
        return [*frames[:k], malformed(frames[k]), *frames[k + 1 :]] if k < len(frames) else frames

    def whole(self, fault: Fault, body: bytes) -> Whole:
        return Whole(body[: len(body) // 2], None, recorded="malformed_chunk: the JSON body cut in half")


class _StreamsOnly(Kind):
    phases = ("events",)

    def whole(self, fault: Fault, body: bytes) -> Whole:
        return Whole(body, None, note=f"{self.name} applies to streams only; the whole answer was sent")


class ErrorEvent(_StreamsOnly):
    """The API's in-band error after chunk k, then a clean end."""

    name = "error_event"

    def events(self, frames: list[Frame], fault: Fault, sizes: Sequence[int], errors: ErrorFrames) -> list[Frame]:
        k = events_before(fault, sizes)
        return frames[:k] + errors(frames[:k])


class NoDone(_StreamsOnly):
    """A clean end without the terminator event."""

    name = "no_done"

    def events(self, frames: list[Frame], fault: Fault, sizes: Sequence[int], errors: ErrorFrames) -> list[Frame]:
        return [f for f in frames if not f.terminal]


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Reset(),
        Close(),
        Truncate(),
        Stall(),
        Garbage(),
        EmptyResponse(),
        Hang(),
        MalformedChunk(),
        ErrorEvent(),
        NoDone(),
    )
}
if set(KINDS) != set(FAULT_KINDS):  # the model's names and these objects go together
    raise ImportError(f"fault kinds out of step: {sorted(set(KINDS) ^ set(FAULT_KINDS))}")


def kind_of(fault: Fault) -> Kind:
    return KINDS[fault.kind]


# -- the pieces the kinds are made of ----------------------------------------------------------


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


def malformed(frame: Frame) -> Frame:
    """The same event with its JSON cut in half: framing intact, payload unparseable. An SSE
    event keeps its `data:` line; a bare JSON line (NDJSON) is cut the same way. A frame that
    says how its format breaks (`Frame.malform`: a binary frame's bad checksum) is broken so."""
    if frame.malform is not None:
        return Frame(frame.malform(frame.data), paced=frame.paced)
    body = frame.data.rstrip(b"\n")
    ending = frame.data[len(body) :]
    found = body.rfind(b"data:")
    at = found + len(b"data:") if found >= 0 else 0
    payload = body[at:]
    return Frame(body[:at] + payload[: max(2, len(payload) // 2)] + ending, paced=frame.paced)
