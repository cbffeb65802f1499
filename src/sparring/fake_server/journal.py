"""What the server saw and did: one entry per request, read by checks and reports.

Entries are written on the server's event loop and read from test threads, so every change
and every read goes through the journal's lock, and readers get copies.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sparring.fake_server.security import redact_headers

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
class Chunk:
    """One write to the socket: when (seconds after the request arrived), how many bytes, and
    what it carried: `event` bytes, a `keepalive` comment, or `garbage`."""

    at: float
    nbytes: int
    kind: str = "event"


@dataclass
class Entry:
    """One request and how its response went."""

    index: int
    namespace: str
    method: str
    path: str
    headers: dict[str, str]
    arrived: float  # time.monotonic() on arrival
    wall_time: float  # time.time() on arrival
    body: Any = None
    stream: bool = False
    retry_count: int | None = None
    answered_by: str | None = None
    rule: int | None = None
    reply: int | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    event_ends: list[int] = field(default_factory=list)  # body offset at which each event ends
    content_events: list[int] = field(default_factory=list)  # which events carry output
    fault: str | None = None  # the scripted fault that fired, and where
    outcome: Outcome | None = None
    detail: str | None = None
    ended: float | None = None  # seconds after arrival

    @property
    def duration(self) -> float | None:
        return self.ended

    @property
    def bytes_sent(self) -> int:
        return sum(c.nbytes for c in self.chunks)

    @property
    def events_sent(self) -> int:
        """Events written in full (keep-alives and garbage are not events)."""
        sent = sum(c.nbytes for c in self.chunks if c.kind == "event")
        return sum(1 for end in self.event_ends if end <= sent)

    @property
    def content_sent(self) -> int:
        """Events with output in them (text, refusal, tool call) written in full."""
        done = self.events_sent
        return sum(1 for i in self.content_events if i < done)

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
        """Every field, plus the derived counts; `Entry.from_json` reads it back."""
        data = asdict(self)
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
        values["chunks"] = [Chunk(**c) for c in values.get("chunks", [])]
        return cls(**values)


class Journal:
    """The entries of one namespace, in arrival order."""

    def __init__(
        self, namespace: str, on_end: Callable[[Entry], None] | None = None, redact: frozenset[str] = frozenset()
    ) -> None:
        self.namespace = namespace
        self.redact = redact  # header names redacted on top of the known credential headers
        self._entries: list[Entry] = []
        # A condition, not a bare lock: readers can wait for the journal to change.
        self._lock = threading.Condition()
        self._version = 0  # counts entries opened and ended: a reader can wait for the next change
        self._watchers: list[Callable[[], object]] = []
        self._on_end = on_end

    def open(self, method: str, path: str, headers: Mapping[str, str]) -> Entry:
        with self._lock:
            entry = Entry(
                index=len(self._entries),
                namespace=self.namespace,
                method=method,
                path=path,
                headers=redact_headers(headers, self.redact),
                arrived=time.monotonic(),
                wall_time=time.time(),
            )
            self._entries.append(entry)
            self._changed()
            return entry

    def update(self, entry: Entry, **fields: Any) -> None:
        if "response_headers" in fields:  # a scripted set-cookie is a credential too
            fields["response_headers"] = redact_headers(fields["response_headers"], self.redact)
        with self._lock:
            for name, value in fields.items():
                setattr(entry, name, value)

    def chunk(self, entry: Entry, nbytes: int, kind: str = "event") -> None:
        with self._lock:
            entry.chunks.append(Chunk(time.monotonic() - entry.arrived, nbytes, kind))

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
            entry.ended = time.monotonic() - entry.arrived
            self._changed()
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
            return copy.deepcopy(self._entries)

    def entries(self) -> list[Entry]:
        with self._lock:
            return copy.deepcopy(self._entries)

    def snapshot(self) -> tuple[int, list[Entry]]:
        """The entries and the version they are at, read together."""
        with self._lock:
            return self._version, copy.deepcopy(self._entries)

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
        self._lock.notify_all()
        for callback in self._watchers:
            callback()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._changed()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
