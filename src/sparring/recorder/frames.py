"""Reads of a streamed body, as they arrived, cut into events that remember their reads.

In an SSE body an event ends at a blank line (LF LF, CRLF CRLF or CR CR, as the SSE spec
allows); in an NDJSON body (Ollama's streams, `application/x-ndjson`) each line is an event,
ending at its LF. Each event keeps when its first byte arrived and, if a later read carried
the rest of it, the offset where that read began (`torn`): so replaying the events gives the
same writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sparring.scenario.recording import RecordedEvent

_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE_END = re.compile(rb"\n")  # NDJSON: a CR before it stays part of its line
NDJSON = re.compile(r"^\s*application/(x-)?ndjson", re.IGNORECASE)  # Ollama's; `json-seq` is another format


class Framer:
    """Feed reads in order with `feed`; take the events they complete; `close` for the rest.
    `ndjson`: each line is an event (else SSE's blank lines end them)."""

    def __init__(self, *, ndjson: bool = False) -> None:
        self.end = _LINE_END if ndjson else _END
        self.buffer = b""
        self.start: float | None = None  # arrival of the pending event's first byte
        self.torn: list[tuple[int, float]] = []

    def feed(self, data: bytes, at: float) -> list[RecordedEvent]:
        events: list[RecordedEvent] = []
        if not data:
            return events
        if self.buffer:
            self.torn.append((len(self.buffer), at))
        else:
            self.start = at
        self.buffer += data
        while (end := self.end.search(self.buffer)) is not None:
            cut = end.end()
            frame, self.buffer = self.buffer[:cut], self.buffer[cut:]
            assert self.start is not None
            events.append(RecordedEvent.of(frame, self.start, tuple(t for t in self.torn if t[0] < cut)))
            rest = [(offset - cut, t) for offset, t in self.torn if offset >= cut]
            # The rest of the buffer came with the read that began last before it.
            later = [t for offset, t in self.torn if offset <= cut]
            self.start = later[-1] if later else self.start
            self.torn = [(offset, t) for offset, t in rest if offset > 0]
            if rest and rest[0][0] == 0:
                self.start = rest[0][1]
        if not self.buffer:
            self.start, self.torn = None, []
        return events

    def close(self) -> RecordedEvent | None:
        """The bytes after the last complete event (a stream cut mid-event), if any."""
        if not self.buffer:
            return None
        assert self.start is not None
        left = RecordedEvent.of(self.buffer, self.start, tuple(self.torn))
        self.buffer, self.start, self.torn = b"", None, []
        return left


def frames_of(
    reads: Iterable[tuple[bytes, float]], *, ndjson: bool = False
) -> tuple[list[RecordedEvent], RecordedEvent | None]:
    """The events in `reads` (bytes, arrival time), and the unfinished tail if the body ended
    mid-event."""
    framer = Framer(ndjson=ndjson)
    events = [event for data, at in reads for event in framer.feed(data, at)]
    return events, framer.close()
