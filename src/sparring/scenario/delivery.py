"""How an answer is delivered: its timing, its shape on the wire, the fault it suffers, and
the rate-limit headers it carries. Dialect-neutral, like the rest of the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sparring.errors import ScenarioError
from sparring.scenario._validate import MAX_HEADER_SECONDS, closest, count, fail, non_negative, positive_int

MAX_SIGMA = 10.0  # a log-normal gap at 3 sigma is already e^30 times the median; more overflows
MAX_GARBAGE = 1024 * 1024  # garbage bytes per fault: enough to fill any parser's buffer

Distribution = Literal["uniform", "lognormal"]
LineEnding = Literal["lf", "crlf", "cr"]
LINE_ENDINGS: dict[str, bytes] = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}

# Dialect-neutral names; each dialect renders a preset in its own API's status and body.
ERROR_PRESETS: tuple[str, ...] = (
    "rate_limit",
    "insufficient_quota",
    "server_error",
    "bad_gateway",
    "unavailable",
    "overloaded",
    "timeout",
    "bad_request",
    "context_length_exceeded",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
)

# Faults that happen instead of a response: the client never sees a status line.
BEFORE_HEADERS = ("reset", "empty_response", "garbage", "hang")
# Faults that happen to a response under way, after chunk k or byte n.
MID_STREAM = ("reset", "close", "stall", "malformed_chunk", "error_event", "truncate", "no_done", "garbage")
FAULT_KINDS: tuple[str, ...] = tuple(dict.fromkeys(BEFORE_HEADERS + MID_STREAM))


@dataclass(frozen=True)
class Timing:
    """When things happen, in seconds.

    `headers_delay` passes before the status line; `first_chunk` between the headers and the
    first chunk; `gap` between later chunks. Gaps vary by up to +/- `jitter` (`uniform`), or
    follow a log-normal law with median `gap` and shape `sigma` (`lognormal`), drawn from an
    RNG seeded with `seed`, so a scenario plays the same way every time. With `keepalive`,
    a comment line (`: ping`) goes out every that many seconds while the stream waits.
    """

    headers_delay: float = 0.0
    first_chunk: float = 0.0
    gap: float = 0.0
    jitter: float = 0.0
    distribution: Distribution = "uniform"
    sigma: float = 0.5
    keepalive: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("headers_delay", "first_chunk", "gap", "jitter"):
            non_negative(f"timing.{name}", getattr(self, name))
        non_negative("timing.sigma", self.sigma, MAX_SIGMA)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise fail("timing.seed", f"must be an integer, got {self.seed!r}")
        if self.distribution not in ("uniform", "lognormal"):
            raise ScenarioError.single(
                f"unknown distribution {self.distribution!r}; use 'uniform' or 'lognormal'",
                path="timing.distribution",
                suggestion=closest(str(self.distribution), ("uniform", "lognormal")),
            )
        if self.keepalive is not None:
            non_negative("timing.keepalive", self.keepalive)
            if self.keepalive == 0:
                raise fail("timing.keepalive", "must be > 0 seconds (or left out)")


@dataclass(frozen=True)
class Wire:
    """The bytes' shape on the socket.

    `write_size` cuts each write into pieces of that many bytes (a list is cycled, so
    `[1, 7, 3]` gives irregular reads) — down to 1, which splits UTF-8 characters and CR from
    LF. `events_per_write` coalesces events into one write first. `line_ending` is how
    every line ends: `lf` (what the real APIs send), `crlf` or `cr`.
    """

    write_size: int | tuple[int, ...] | list[int] | None = None
    events_per_write: int = 1
    line_ending: LineEnding = "lf"

    def __post_init__(self) -> None:
        if isinstance(self.write_size, list):  # a list reads naturally; stored as a tuple, hashable
            object.__setattr__(self, "write_size", tuple(self.write_size))
        sizes = self.write_size if isinstance(self.write_size, tuple) else (self.write_size,)
        if self.write_size is not None:
            if not sizes:
                raise fail("wire.write_size", "needs at least one size")
            for size in sizes:
                positive_int("wire.write_size", size)  # type: ignore[arg-type]
        positive_int("wire.events_per_write", self.events_per_write)
        if self.line_ending not in LINE_ENDINGS:
            raise ScenarioError.single(
                f"unknown line ending {self.line_ending!r}; use lf, crlf or cr",
                path="wire.line_ending",
                suggestion=closest(str(self.line_ending), tuple(LINE_ENDINGS)),
            )

    @property
    def sizes(self) -> tuple[int, ...]:
        if self.write_size is None:
            return ()
        return tuple(self.write_size) if isinstance(self.write_size, (tuple, list)) else (self.write_size,)


@dataclass(frozen=True)
class Fault:
    """Something going wrong on the wire.

    Before the headers (no position given): `reset` (TCP RST), `empty_response` (close with
    no bytes), `garbage` (random bytes, then close), `hang` (never answer; give up after
    `duration` if set). During the stream, after `after_chunk` events or `after_byte` body
    bytes (halfway through the events if neither is given): `reset`, `close` (FIN without
    the chunked terminator), `truncate` (half an event, then FIN), `stall` (stop sending for
    `duration` seconds, or until the client gives up), `malformed_chunk` (the next event's
    JSON cut short), `garbage` (`size` random bytes in the body), `error_event` (the API's
    in-band error, from the `error` preset, then a clean end), `no_done` (a clean end
    without the terminator event).
    """

    kind: str
    after_chunk: int | None = None
    after_byte: int | None = None
    duration: float | None = None
    error: str = "server_error"
    message: str | None = None
    size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ScenarioError.single(
                f"unknown fault {self.kind!r}; faults: {', '.join(FAULT_KINDS)}",
                path="fault.kind",
                suggestion=closest(str(self.kind), FAULT_KINDS),
            )
        if self.after_chunk is not None and self.after_byte is not None:
            raise fail("fault", "give after_chunk or after_byte, not both")
        if self.after_chunk is not None:
            count("fault.after_chunk", self.after_chunk)
        if self.after_byte is not None:
            count("fault.after_byte", self.after_byte)
        if self.positioned and self.kind in ("empty_response", "hang"):
            raise fail("fault", f"{self.kind} happens before the headers; it takes no after_chunk or after_byte")
        if self.positioned and self.kind == "no_done":
            raise fail("fault", "no_done always happens at the end; it takes no after_chunk or after_byte")
        if self.duration is not None:
            non_negative("fault.duration", self.duration)
            if self.kind not in ("stall", "hang"):
                raise fail("fault.duration", f"only stall and hang take a duration, not {self.kind}")
        positive_int("fault.size", self.size, MAX_GARBAGE)
        if self.message is not None and not isinstance(self.message, str):
            raise fail("fault.message", f"must be a string, got {self.message!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise fail("fault.seed", f"must be an integer, got {self.seed!r}")
        if self.error not in ERROR_PRESETS:
            raise ScenarioError.single(
                f"unknown error preset {self.error!r}; presets: {', '.join(ERROR_PRESETS)}",
                path="fault.error",
                suggestion=closest(str(self.error), ERROR_PRESETS),
            )

    @property
    def positioned(self) -> bool:
        return self.after_chunk is not None or self.after_byte is not None

    @property
    def before_headers(self) -> bool:
        return self.kind in ("empty_response", "hang") or (self.kind in ("reset", "garbage") and not self.positioned)

    def describe(self) -> str:
        if self.before_headers:
            return f"{self.kind} before the headers"
        if self.after_byte is not None:
            return f"{self.kind} after byte {self.after_byte}"
        if self.after_chunk is not None:
            return f"{self.kind} after chunk {self.after_chunk}"
        return self.kind if self.kind == "no_done" else f"{self.kind} halfway"


@dataclass(frozen=True)
class RateLimits:
    """`x-ratelimit-*` headers, for answers as well as errors; resets in seconds, sent as the
    Go-style durations the real API uses (`6ms`, `1s`, `1m0.5s`)."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            if name.startswith("reset_"):
                non_negative(f"rate_limits.{name}", value, MAX_HEADER_SECONDS)
            else:
                count(f"rate_limits.{name}", value)
