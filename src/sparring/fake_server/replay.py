"""Replaying a recorded answer (`Recorded`) as its upstream sent it, through sparring's playback.

The recorded status and headers go out `headers_at` after the request arrived; then the
body, in the recorded reads (bytes that arrived together go out in one write; an event torn
across two reads goes out in two writes) at the recorded times, against deadlines from the
request's arrival as `playback.Player` keeps them. `speed` divides every recorded time.

What is given beside the recording replaces that part of it: `timing` the recorded pace
(`headers_delay` for `headers_at`; events then go out as sparring paces any answer, grouped
as it groups them), `wire` the recorded reads (at the recorded times of each group's first
event); `fault` and `rate_limits` act as on any answer. A fault that changes the events (a
malformed copy, an in-band error) sends its own events at the time of the recorded event in
their place. The events are playback's `Frame`s, told by `recorded_events` which one ends
the stream and which carry output, so `no_done` and the journal's counts work as for any
stream.

A stream is replayed only to a request asking for a stream, and a whole answer only to one
asking for a whole answer: the other way round, the client would get a body it cannot
parse, so it gets sparring's 500 instead (`mismatch`), which no SDK retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence

from aiohttp import web

from sparring.fake_server import playback
from sparring.fake_server.dialects.base import Dialect, Frame, ParsedRequest
from sparring.fake_server.exchange import Exchange
from sparring.fake_server.offload import off_loop
from sparring.fake_server.playback import Write
from sparring.fake_server.recorded_events import body_shows, frame_of
from sparring.scenario.delivery import Timing, Wire
from sparring.scenario.recording import Recorded

# Headers about the recorded connection and encoding, not the answer: aiohttp sets its own.
HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive"})
_BIG = 2_000  # events: classifying more takes a few milliseconds, done in a worker thread
Arrival = tuple[float, Sequence[tuple[int, float]]]  # when an event's first byte came, and its tears


def mismatch(recorded: Recorded, api: str, stream: bool) -> str | None:
    """Why `recorded` cannot answer a request to `api` that asked for a stream (or not), if so."""
    if recorded.api != api:
        return f"sparring: this recording is of the {recorded.api!r} API; the request was sent to {api!r}"
    if recorded.streamed == stream:
        return None
    if recorded.streamed:
        return (
            f"sparring: the recording that answers this request is a stream ({len(recorded.events)} events), "
            "but the request asked for a whole answer (no `stream: true`); record it again without streaming, "
            "or send `stream: true`"
        )
    return (
        "sparring: the recording that answers this request is a whole answer, but the request asked for a "
        "stream (`stream: true`); record it again streamed, or ask without `stream`"
    )


async def until_headers(exchange: Exchange, recorded: Recorded) -> None:
    """Wait until the headers are due: `headers_at` (scaled) after the request arrived, or
    `timing.headers_delay` when a timing replaces the recorded pace."""
    if recorded.timing is not None:
        await playback.pause(recorded.timing.headers_delay)
        return
    await playback.pause(
        exchange.entry.arrived + recorded.headers_at / recorded.speed - exchange.journal.clock.monotonic()
    )


def _origin(exchange: Exchange, recorded: Recorded) -> float | None:
    """When the recorded headers were due, on the loop's clock: the body's writes are timed
    from there, so headers that went out late do not make every write late."""
    if recorded.timing is not None:
        return None
    due = exchange.entry.arrived + recorded.headers_at / recorded.speed  # on the journal's clock
    return asyncio.get_running_loop().time() + (due - exchange.journal.clock.monotonic())


def headers_of(recorded: Recorded, dialect: Dialect) -> tuple[dict[str, str], str]:
    """The headers to send, and the content type (kept as recorded)."""
    added = dialect.rate_limit_headers(recorded.rate_limits) if recorded.rate_limits is not None else {}
    replaced = HOP_BY_HOP | {name.lower() for name in added}  # a recorded X-RateLimit-... too
    headers = {k: v for k, v in recorded.headers.items() if k.lower() not in replaced}
    content_type = next((headers.pop(k) for k in list(headers) if k.lower() == "content-type"), None)
    headers.update(added)
    # A recording without one (written by hand) gets the API's own: Ollama streams NDJSON.
    return headers, content_type or (dialect.stream_content_type if recorded.streamed else "application/json")


async def play(exchange: Exchange, dialect: Dialect, parsed: ParsedRequest, recorded: Recorded) -> web.StreamResponse:
    """Send the recording's body once its headers are due (`until_headers` was awaited)."""
    headers, content_type = headers_of(recorded, dialect)
    if recorded.streamed:
        return await _stream(exchange, dialect, parsed, recorded, headers, content_type)
    return await _whole(exchange, recorded, headers, content_type)


async def _stream(
    exchange: Exchange,
    dialect: Dialect,
    parsed: ParsedRequest,
    recorded: Recorded,
    headers: Mapping[str, str],
    content_type: str,
) -> web.StreamResponse:
    events, fault, timing, wire = recorded.events, recorded.fault, recorded.timing, recorded.wire
    big = len(events) > _BIG

    def classified() -> list[Frame]:
        return [frame_of(recorded.api, e.frame) for e in events]

    frames = await off_loop(classified) if big else classified()
    known = {id(frame): (e.at, e.torn) for frame, e in zip(frames, events, strict=True)}

    def arrivals(sent: list[Frame]) -> list[Arrival]:
        """When each event sent arrived; one a fault made, when the event in its place did."""
        times: list[Arrival] = []
        for i, frame in enumerate(sent):
            arrival = known.get(id(frame))
            if arrival is None:
                arrival = (events[min(i, len(events) - 1)].at, ())
            times.append(arrival)
        return times

    def writes_of(sent: list[Frame]) -> Iterator[Write]:
        if timing is None and wire == Wire():
            return reads(sent, arrivals(sent), recorded.speed, recorded.headers_at)
        if timing is None:
            return playback.plan(sent, Timing(), wire, waits=paced_by(arrivals(sent), recorded))
        return playback.plan(sent, timing, wire)

    def errors(sent: list[Frame]) -> list[Frame]:
        return dialect.error_events(fault, parsed, exchange.rng, sent) if fault is not None else []

    return await playback.stream(
        exchange,
        frames,
        timing=timing or Timing(),
        wire=wire,
        fault=fault,
        error_frames=errors,
        headers=headers,
        big=big,
        writes_of=writes_of,
        status=recorded.status,
        content_type=content_type,
        start=_origin(exchange, recorded),
    )


async def _whole(
    exchange: Exchange, recorded: Recorded, headers: Mapping[str, str], content_type: str
) -> web.StreamResponse:
    body = recorded.body
    assert body is not None
    data, timing, wire = body.frame, recorded.timing, recorded.wire

    def writes_of(sent: list[Frame]) -> Iterator[Write]:
        if wire.write_size is None:
            return reads(sent, [(body.at, body.torn)], recorded.speed, recorded.headers_at)
        return playback.plan(sent, Timing(), wire, waits=paced_by([(body.at, ())], recorded))

    if timing is not None:  # as any whole answer: ready after its first chunk's wait, sent at once
        await playback.pause(playback.whole_wait(timing, 1))
    return await playback.whole(
        exchange,
        data,
        content=body_shows(recorded.api, data),
        fault=recorded.fault,
        write_size=wire.write_size,
        headers=headers,
        status=recorded.status,
        content_type=content_type,
        writes_of=writes_of if timing is None else None,
        start=_origin(exchange, recorded),
    )


def reads(frames: Sequence[Frame], arrivals: Sequence[Arrival], speed: float, start: float) -> Iterator[Write]:
    """The writes of `frames` as they were read: each event cut where it was torn (an offset
    past its end, after an edit, is ignored), and the pieces that arrived at the same time
    joined in one write, which waits for its arrival time (divided by `speed`) after the
    write before it (the first, after `start`: when the headers came)."""
    last = start
    pending: list[bytes] = []
    pending_at, events, boundary = start, 0, True

    def write() -> Write:
        return Write(b"".join(pending), max(0.0, pending_at - last) / speed, boundary, events)

    for frame, (at, torn) in zip(frames, arrivals, strict=True):
        data = frame.data
        cuts = [(offset, t) for offset, t in torn if offset < len(data)]
        starts = [0, *(offset for offset, _ in cuts)]
        ends = [*starts[1:], len(data)]
        for piece, (begin, end, came) in enumerate(zip(starts, ends, [at, *(t for _, t in cuts)], strict=True)):
            if pending and came != pending_at:
                yield write()
                last = max(last, pending_at)
                pending, events = [], 0
            if not pending:
                pending_at = came
            pending.append(data[begin:end])
            events += piece == 0
            boundary = end == len(data)
    if pending:
        done = write()
        done.final = True
        yield done


def paced_by(arrivals: Sequence[Arrival], recorded: Recorded) -> Callable[[Frame], float]:
    """The wait before each event, in turn, from its recorded arrival (for `plan`, when a
    `wire` given beside the recording replaces its reads but not its pace)."""
    times = iter(arrivals)
    last = recorded.headers_at

    def wait(frame: Frame) -> float:
        nonlocal last
        at = next(times, (last, ()))[0]
        gap, last = max(0.0, at - last), max(last, at)
        return gap / recorded.speed

    return wait
