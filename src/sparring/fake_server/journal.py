"""What the server saw and did: one entry per request, read by checks and reports.

Entries are written on the server's event loop and read from test threads, so every change
and every read goes through the journal's lock, and readers get copies.

Bounded, so a server left running stays small: a journal keeps at most `limit` entries (the
oldest ended ones go first, counted in `dropped`), an entry at most `WRITES_KEPT` write
records and `EVENTS_KEPT` event offsets, with its byte and event totals kept exact. Bodies
are bounded where they are parsed (`sparring.fake_server.bodies`). And small: an entry keeps
its headers, body and event lists packed (`sparring.fake_server.packed`) and its write
records in one buffer (`sparring.fake_server.writes`), about 1.6 KB for a clean stream.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sparring.fake_server import memory, packed
from sparring.fake_server.clock import REAL, Clock
from sparring.fake_server.defaults import JOURNAL_LIMIT as JOURNAL_LIMIT  # re-exported, as before
from sparring.fake_server.security import redact_headers
from sparring.fake_server.writes import Chunk as Chunk  # re-exported: users import it from here
from sparring.fake_server.writes import Writes

WRITES_KEPT = 2_000  # write records an entry keeps; later writes only add to its totals
EVENTS_KEPT = 2_000  # event offsets an ended entry keeps; its event counts stay exact

Outcome = Literal[
    "completed",
    "client_disconnected",
    "fault",
    "stalled",
    "rejected",
    "unmatched",
    "callback_error",
    "scenario_error",
    "server_closed",
]


@dataclass
class Entry:
    """One request and how its response went."""

    index: int
    namespace: str
    method: str
    path: str
    headers: dict[str, str]
    arrived: float  # time.monotonic() on arrival (the loop's clock under virtual time: clock.py)
    wall_time: float  # time.time() on arrival (moved on as the loop's clock is, under virtual time)
    body: Any = None
    stream: bool = False
    retry_count: int | None = None
    asked: str | None = None  # the request in one line (`Request.describe`), once parsed
    answered_by: str | None = None
    rule: int | None = None
    reply: int | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    chunks: Writes = field(default_factory=Writes)  # a list of `Chunk`s, packed
    event_ends: list[int] = field(default_factory=list)  # body offset at which each event ends
    content_events: list[int] = field(default_factory=list)  # which events carry output
    fault: str | None = None  # the scripted fault that fired, and where
    outcome: Outcome | None = None
    detail: str | None = None
    ended: float | None = None  # seconds after arrival
    # Past WRITES_KEPT, writes are not recorded one by one; their count and bytes are.
    writes_omitted: int = 0
    bytes_omitted: int = 0
    event_bytes_omitted: int = 0  # of `bytes_omitted`, the bytes of events
    # Set when an ended entry's `event_ends`/`content_events` were cut to EVENTS_KEPT.
    events_total: int | None = None
    content_total: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.chunks, Writes):  # a list of chunks given
            self.chunks = Writes(self.chunks)

    @property
    def duration(self) -> float | None:
        return self.ended

    @property
    def writes(self) -> int:
        """Writes to the socket, recorded in `chunks` or not."""
        return len(self.chunks) + self.writes_omitted

    @property
    def bytes_sent(self) -> int:
        return self.chunks.total() + self.bytes_omitted

    @property
    def events_sent(self) -> int:
        """Events written in full (keep-alives and garbage are not events)."""
        if self.events_total is not None:
            return self.events_total
        sent = self.chunks.total("event") + self.event_bytes_omitted
        return bisect.bisect_right(self.event_ends, sent)  # the ends are cumulative offsets

    @property
    def content_sent(self) -> int:
        """Events with output in them (text, refusal, tool call) written in full."""
        if self.content_total is not None:
            return self.content_total
        done = self.events_sent
        return sum(1 for i in self.content_events if i < done)

    def _seal(self) -> None:
        """Fix the event counts and cut the event lists, once nothing more is written."""
        self.chunks.freeze()
        if len(self.event_ends) > EVENTS_KEPT or len(self.content_events) > EVENTS_KEPT:
            self.events_total, self.content_total = self.events_sent, self.content_sent
            self.event_ends = self.event_ends[:EVENTS_KEPT]
            self.content_events = self.content_events[:EVENTS_KEPT]
        packed.settle(self, "event_ends")
        packed.settle(self, "content_events")

    def _copy(self) -> Entry:
        """A copy safe to read outside the lock: the journal replaces an entry's other fields
        whole and only ever appends to `chunks` and the event lists, so those are copied."""
        twin = copy.copy(self)
        twin.chunks = self.chunks.copy()
        twin.event_ends, twin.content_events = self.event_ends[:], self.content_events[:]
        return twin

    def __deepcopy__(self, memo: dict[int, Any]) -> Entry:
        """The cheap copy, with anything mutable in it copied deeply (packed fields are not:
        they are read fresh each time)."""
        twin = self._copy()
        stored = vars(twin)
        for name, value in stored.items():
            if not isinstance(value, _UNCHANGING):
                stored[name] = copy.deepcopy(value, memo)
        return twin

    def describe(self) -> str:
        """One line: what came in, what answered, how it ended."""
        retry = f" (retry {self.retry_count})" if self.retry_count else ""
        parts = [f"#{self.index + 1} {self.method} {self.path}{retry} -> {self.status or '-'}", self.answered_by or "-"]
        if self.fault:
            parts.append(f"fault: {self.fault}")
        ending: str = self.outcome or "under way"
        ended_early = (
            "fault",
            "client_disconnected",
            "stalled",
            "rejected",
            "callback_error",
            "scenario_error",
            "server_closed",
        )
        if self.detail and self.outcome in ended_early:
            ending += f" ({self.detail.split('. ')[0]})"
        parts.append(ending)
        if self.event_ends and self.stream:
            events = f"{self.events_sent} event{'' if self.events_sent == 1 else 's'}"
            parts.append(f"{events} ({self.content_sent} with output), {self.bytes_sent} bytes")
        elif self.event_ends:
            parts.append(f"a whole answer, {self.bytes_sent} bytes")
        parts.append(f"{self.ended:.3f}s" if self.ended is not None else "...")
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """Every field (copies: the caller's to change), plus the derived counts;
        `Entry.from_json` reads it back. Built field by field: `asdict` is many times slower
        on an entry with thousands of write records."""
        data = {name: getattr(self, name) for name in _FIELDS}  # packed fields read fresh
        data["chunks"] = self.chunks.to_json()
        data["bytes_sent"] = self.bytes_sent
        data["events_sent"] = self.events_sent
        data["content_sent"] = self.content_sent
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        """An entry from `to_json()`'s output (the control API's journal), equal to the one
        that wrote it. Derived counts are recomputed; unknown keys are ignored, so a client
        reads a newer server's journal."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["chunks"] = Writes(Chunk(**c) for c in values.get("chunks", []))
        return cls(**values)


_LABELS = ("namespace", "method", "path", "answered_by", "fault")
# Stored packed, read as the types declared above (sparring.fake_server.packed): the request's
# and response's headers and body, the event lists; labels interned.
packed.install(
    Entry,
    {
        "headers": packed.Packed(packed.pack_headers, packed.unpack_headers),
        "response_headers": packed.Packed(packed.pack_headers, packed.unpack_headers),
        "body": packed.Packed(packed.pack_json, packed.unpack_json),
        "event_ends": packed.Packed(packed.pack_ints, packed.unpack_ints),
        "content_events": packed.Packed(packed.pack_ints, packed.unpack_ints),
        **{name: packed.Packed(packed.pack_name, packed.same) for name in _LABELS},
    },
)
_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))
_UNCHANGING = (str, bytes, int, float, type(None), Writes, packed.Kept)


def dropped_from(entries: Sequence[Entry]) -> int:
    """How many entries a whole journal, as read, lacks: indexes run from 0 with no gaps
    until the journal's limit drops the oldest ended entries."""
    return entries[-1].index + 1 - len(entries) if entries else 0


class Journal:
    """The entries of one namespace, in arrival order, at most `limit` of them."""

    def __init__(
        self,
        namespace: str,
        on_end: Callable[[Entry], None] | None = None,
        redact: frozenset[str] = frozenset(),
        *,
        limit: int = JOURNAL_LIMIT,
    ) -> None:
        if limit < 1:
            raise ValueError(f"a journal limit must be at least 1, got {limit}")
        self.namespace = namespace
        self.redact = redact  # header names redacted on top of the known credential headers
        self.limit = limit
        self._entries: list[Entry] = []
        self._dropped = 0  # ended entries forgotten to stay within the limit
        self._next = 0  # the next entry's index: indexes stay unique and increasing across drops
        self.changed_at = time.monotonic()
        # A condition, not a bare lock: readers can wait for the journal to change.
        self._lock = threading.Condition()
        self._version = 0  # counts entries opened and ended: a reader can wait for the next change
        self._watchers: list[Callable[[], object]] = []
        self._on_end = on_end
        self.clock: Clock = REAL  # a virtual one when the server runs on a test's loop (clock.py)

    def open(self, method: str, path: str, headers: Mapping[str, str]) -> Entry:
        with self._lock:
            entry = Entry(
                index=self._next,
                namespace=self.namespace,
                method=method,
                path=path,
                headers=redact_headers(headers, self.redact),
                arrived=self.clock.monotonic(),
                wall_time=self.clock.wall(),
            )
            self._next += 1
            self._entries.append(entry)
            self._trim()
            self._changed()
            return entry

    # -- typed records: what the server learnt about a request, as it learnt it ------------

    def record_body(self, entry: Entry, body: Any) -> None:
        """The request body as journaled (`sparring.fake_server.bodies`)."""
        with self._lock:
            entry.body = body

    def record_request(self, entry: Entry, *, stream: bool, retry_count: int | None) -> None:
        """What the parsed request asked for: a stream or not, and which attempt it says it is."""
        with self._lock:
            entry.stream, entry.retry_count = stream, retry_count

    def record_asked(self, entry: Entry, description: str | None) -> None:
        """The request in one line, as the miss message, teardown and report describe it."""
        with self._lock:
            entry.asked = description

    def record_answer(
        self, entry: Entry, answered_by: str | None, rule: int | None = None, reply: int | None = None
    ) -> None:
        """What answered: a label, and the scripted rule and reply when one did."""
        with self._lock:
            entry.answered_by, entry.rule, entry.reply = answered_by, rule, reply

    def record_headers(self, entry: Entry, headers: Mapping[str, str], status: int | None = None) -> None:
        """The response's headers (names lower-cased, credentials redacted: a scripted
        set-cookie is one too), and its status once the status line went out."""
        redacted = redact_headers({k.lower(): v for k, v in headers.items()}, self.redact)
        with self._lock:
            entry.response_headers = redacted
            if status is not None:
                entry.status = status

    def record_fault(self, entry: Entry, description: str) -> None:
        """The scripted fault that fires on this response, and where."""
        with self._lock:
            entry.fault = description

    def record_note(self, entry: Entry, detail: str) -> None:
        """A remark on how the answer went; an ending's own detail replaces it."""
        with self._lock:
            entry.detail = detail

    def record_events(self, entry: Entry, sizes: Sequence[int], content: Sequence[bool]) -> None:
        """Events about to go out, in order: each one's size on the wire and whether it carries
        output. Appended as a stream goes, so `events_sent` needs no list made up front."""
        with self._lock:
            ends = packed.growing(entry, "event_ends")
            first = len(ends)
            at = ends[-1] if first else 0
            for size in sizes:
                at += size
                ends.append(at)
            packed.growing(entry, "content_events").extend(first + i for i, shows in enumerate(content) if shows)

    def chunk(self, entry: Entry, nbytes: int, kind: str = "event") -> None:
        with self._lock:
            if len(entry.chunks) < WRITES_KEPT:
                entry.chunks.add(self.clock.monotonic() - entry.arrived, nbytes, kind)
                return
            entry.writes_omitted += 1
            entry.bytes_omitted += nbytes
            if kind == "event":
                entry.event_bytes_omitted += nbytes

    def end(self, entry: Entry, outcome: Outcome, detail: str | None = None, status: int | None = None) -> None:
        """Close an entry once; the first ending wins (a disconnect after an error stays an error)."""
        with self._lock:
            if entry.outcome is not None:
                return
            entry.outcome = outcome
            if detail is not None:  # keep a note made earlier (e.g. a fault that did not apply)
                entry.detail = detail
            if status is not None:
                entry.status = status
            entry.ended = self.clock.monotonic() - entry.arrived
            entry._seal()
            self._trim()
            self._changed()
        memory.served()
        if self._on_end is not None:
            self._on_end(entry)

    def wait_until(self, check: Callable[[list[Entry]], bool], timeout: float) -> list[Entry]:
        """Block until `check(entries)` holds (re-checked whenever an entry ends), or `timeout`
        seconds pass; return the entries either way. Synchronization for tests, not a sleep."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not check(self._entries):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            taken = self.copies()
        return copy.deepcopy(taken)  # outside the lock: the server writes on meanwhile

    def entries(self) -> list[Entry]:
        """Deep copies of the entries, the caller's to change."""
        return copy.deepcopy(self.copies())

    def copies(self) -> list[Entry]:
        """Cheap copies, read under the lock, safe to read (not change) outside it."""
        with self._lock:
            return [e._copy() for e in self._entries]

    def page(self, since_index: int = 0, limit: int | None = None) -> tuple[int, int, list[Entry], bool]:
        """The version, the dropped count, up to `limit` entries from index `since_index` on
        (cheap copies), and whether more follow, all read together."""
        with self._lock:
            start = bisect.bisect_left(self._entries, since_index, key=lambda e: e.index)
            stop = len(self._entries) if limit is None else min(len(self._entries), start + limit)
            taken = [e._copy() for e in self._entries[start:stop]]
            return self._version, self._dropped, taken, stop < len(self._entries)

    @property
    def dropped(self) -> int:
        """Ended entries forgotten to keep the journal within its limit (since the last clear)."""
        with self._lock:
            return self._dropped

    def _trim(self) -> None:  # holding the lock
        """Forget the oldest ended entries beyond the limit; entries under way stay."""
        while len(self._entries) > self.limit:
            oldest = next((i for i, e in enumerate(self._entries) if e.outcome is not None), None)
            if oldest is None:
                return
            del self._entries[oldest]
            self._dropped += 1
            memory.let_go(1)

    @property
    def version(self) -> int:
        """Grows by one each time an entry opens or ends (or the journal is cleared)."""
        with self._lock:
            return self._version

    def watch(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` (quick, non-blocking: it runs under the journal's lock) at each
        change; returns what stops it. How the control API's long poll waits without a thread."""
        with self._lock:
            self._watchers.append(callback)

        def stop() -> None:
            with self._lock:
                self._watchers.remove(callback)

        return stop

    def _changed(self) -> None:  # holding the lock
        self._version += 1
        self.changed_at = time.monotonic()
        self._lock.notify_all()
        for callback in self._watchers:
            callback()

    def clear(self) -> None:
        with self._lock:
            memory.let_go(len(self._entries))
            self._entries.clear()
            self._dropped = self._next = 0
            self._changed()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
