"""A recorded answer: the bytes an upstream sent, as they arrived, to replay chunk for chunk.

Where an `Answer` is dialect-neutral content that sparring renders, a `Recorded` reply is what
one API really sent: its status and headers, and each SSE event exactly as it came, with when
its bytes arrived. Read boundaries are kept by arrival time: bytes that arrived at the same
instant came in one read, and an event whose bytes came in two reads is `torn` at the offset
where the later read began. So a person can edit an event's text and the file stays valid:
a torn offset past the event's end is ignored.

Times are seconds from the moment the request was sent: `headers_at` for the response
headers, `at` for an event's first byte. `speed` scales them all (2 replays twice as fast).
Delivery keys written beside a recording (`timing`, `wire`, `fault`) replace that part of the
recorded delivery, so a real stream can be broken on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sparring.errors import ScenarioError
from sparring.scenario import _cost
from sparring.scenario._validate import check_headers, check_speed, check_uses, closest, count, fail, non_negative
from sparring.scenario.delivery import Fault, RateLimits, Timing, Wire
from sparring.scenario.match import ENDPOINTS


@dataclass(frozen=True)
class RecordedEvent:
    """One SSE event as it arrived (or, for a whole answer, the body).

    Written as `event` (the SSE event name, if any) and `data` (the payload) when its bytes
    are exactly `event: <event>\\ndata: <data>\\n\\n`; otherwise as `raw`, the exact text
    (comments, `id:` lines, CRLF line endings, data over several lines)."""

    at: float = 0.0
    event: str | None = None
    data: str = ""
    raw: str | None = None
    torn: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("data", "event", "raw"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise fail(name, f"must be a string, got {type(value).__name__} {value!r}")
        if self.raw is not None and (self.data or self.event is not None):
            raise fail("raw", "give either `raw` (the exact text) or `event` and `data`, not both")
        if self.event is not None and any(c in self.event for c in "\r\n"):
            raise fail("event", "an SSE event name is one line")
        _cost.check_text("raw" if self.raw is not None else "data", self.raw if self.raw is not None else self.data)
        non_negative("at", self.at)
        last = (0, self.at)
        for i, piece in enumerate(self.torn):
            if not isinstance(piece, tuple) or len(piece) != 2:
                raise fail(f"torn[{i}]", f"must be [byte offset, arrival time], got {piece!r}")
            offset, at = piece
            count(f"torn[{i}]", offset)
            non_negative(f"torn[{i}]", at)
            if offset <= last[0] or at < last[1]:
                raise fail(f"torn[{i}]", "offsets must rise and times must not go back")
            last = piece

    @property
    def frame(self) -> bytes:
        """The exact bytes of the event on the wire."""
        if self.raw is not None:
            return self.raw.encode()
        head = f"event: {self.event}\n" if self.event is not None else ""
        data = "\n".join(f"data: {line}" for line in self.data.split("\n"))
        return f"{head}{data}\n\n".encode()

    @classmethod
    def of(cls, frame: bytes, at: float, torn: tuple[tuple[int, float], ...] = ()) -> RecordedEvent:
        """The event for `frame`'s exact bytes: `event`/`data` when they say it exactly, else `raw`."""
        text = frame.decode("utf-8", "surrogateescape")
        at = round(at, 6)  # microseconds: finer than any network read, and short to read
        torn = tuple((offset, round(t, 6)) for offset, t in torn)
        event, data = _fields_of(text)
        if data is not None:
            made = cls(data=data, event=event, at=at, torn=torn)
            if made.frame == frame:
                return made
        return cls(raw=text, at=at, torn=torn)


def _fields_of(text: str) -> tuple[str | None, str | None]:
    """The event name and data of a frame of `event:` and `data:` lines, or (None, None)."""
    if not text.endswith("\n\n"):
        return None, None
    event: str | None = None
    data: list[str] = []
    for line in text[:-2].split("\n"):
        if line.startswith("event: ") and event is None and not data:
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        else:
            return None, None
    return (event, "\n".join(data)) if data else (None, None)


@dataclass(frozen=True)
class Recorded:
    """A successful answer as an upstream sent it: `events` for a stream, `body` for a whole
    answer. `api` is the endpoint it was recorded from (it answers only that API's requests).
    `timing`, `wire` and `fault`, when given, replace that part of the recorded delivery."""

    api: str
    events: tuple[RecordedEvent, ...] = ()
    body: RecordedEvent | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    headers_at: float = 0.0
    speed: float = 1.0
    timing: Timing | None = None
    wire: Wire = field(default_factory=Wire)
    fault: Fault | None = None
    rate_limits: RateLimits | None = None
    times: int = 1
    repeat: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        if self.api not in ENDPOINTS:
            raise ScenarioError.single(
                f"unknown API {self.api!r}; one of {', '.join(ENDPOINTS)}",
                path="recorded",
                suggestion=closest(str(self.api), list(ENDPOINTS)),
            )
        if (self.body is None) == (not self.events):
            raise fail("recorded", "a recording has either `events` (a stream) or a `body` (a whole answer)")
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 200 <= self.status <= 299:
            raise fail("status", f"a recorded answer is 2xx (errors are `error:` replies), got {self.status!r}")
        check_headers("headers", self.headers)
        non_negative("headers_at", self.headers_at)
        check_speed("speed", self.speed)
        if len(self.events) > _cost.MAX_CHUNKS:
            raise fail("events", f"has {len(self.events):,} events; the limit is {_cost.MAX_CHUNKS:,}")
        check_uses(self.times, self.repeat, self.optional)

    @property
    def streamed(self) -> bool:
        return self.body is None
