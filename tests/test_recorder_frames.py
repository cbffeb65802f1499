"""Reads of an SSE or NDJSON body cut into events that remember their reads: the events give
back the exact body, and grouping their bytes by arrival time gives back the exact reads."""

from __future__ import annotations

import random

import pytest

from sparring.recorder.frames import frames_of
from sparring.scenario.recording import RecordedEvent

BODY = b'data: {"a":1}\n\nevent: content_block_delta\ndata: {"b":"\xc3\xa9"}\n\n: keep-alive\n\ndata: [DONE]\r\n\r\n'


def reads_of(events: list[RecordedEvent]) -> list[tuple[bytes, float]]:
    """The reads the events say arrived: runs of bytes with the same arrival time."""
    reads: list[tuple[bytes, float]] = []
    for event in events:
        frame = event.frame
        marks = [(0, event.at), *event.torn]
        for (offset, at), (end, _) in zip(marks, [*marks[1:], (len(frame), 0.0)], strict=True):
            if reads and reads[-1][1] == at:
                reads[-1] = (reads[-1][0] + frame[offset:end], at)
            else:
                reads.append((frame[offset:end], at))
    return reads


@pytest.mark.parametrize("seed", range(300))
def test_events_give_back_the_body_and_its_reads(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(BODY)), rng.randint(0, 12)))
    bounds = zip([0, *cuts], [*cuts, len(BODY)], strict=True)
    reads = [(BODY[a:b], round(0.001 * (i + 1), 6)) for i, (a, b) in enumerate(bounds)]  # stored to the µs
    events, tail = frames_of(reads)
    assert tail is None
    assert b"".join(e.frame for e in events) == BODY
    assert reads_of(events) == reads


def test_plain_events_read_as_event_and_data_and_the_rest_as_raw() -> None:
    events, _ = frames_of([(BODY, 0.5)])
    assert [(e.event, e.data, e.raw) for e in events] == [
        (None, '{"a":1}', None),
        ("content_block_delta", '{"b":"é"}', None),
        (None, "", ": keep-alive\n\n"),
        (None, "", "data: [DONE]\r\n\r\n"),
    ]
    assert {e.at for e in events} == {0.5}


def test_a_body_cut_mid_event_leaves_its_tail() -> None:
    events, tail = frames_of([(b'data: {"a":1}\n\ndata: {"b"', 0.1), (b":2", 0.2)])
    assert [e.data for e in events] == ['{"a":1}']
    assert tail is not None
    assert (tail.raw, tail.at, tail.torn) == ('data: {"b":2', 0.1, ((10, 0.2),))


NDJSON_BODY = (
    b'{"message":{"content":"caf\xc3\xa9"},"done":false}\n'
    b'{"message":{"content":"!"},"done":false}\r\n'  # a CR is part of its line
    b'{"message":{"content":""},"done":true,"eval_count":2}\n'
)


@pytest.mark.parametrize("seed", range(200))
def test_ndjson_lines_give_back_the_body_and_its_reads(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(NDJSON_BODY)), rng.randint(0, 10)))
    bounds = zip([0, *cuts], [*cuts, len(NDJSON_BODY)], strict=True)
    reads = [(NDJSON_BODY[a:b], round(0.001 * (i + 1), 6)) for i, (a, b) in enumerate(bounds)]
    events, tail = frames_of(reads, ndjson=True)
    assert tail is None
    assert [e.frame for e in events] == NDJSON_BODY.splitlines(keepends=True)  # one event per line
    assert all(e.raw is not None for e in events)  # NDJSON has no event or data fields
    assert reads_of(events) == reads


def test_an_ndjson_body_cut_mid_line_leaves_its_tail() -> None:
    events, tail = frames_of([(b'{"done":false}\n{"do', 0.1), (b'ne"', 0.2)], ndjson=True)
    assert [e.raw for e in events] == ['{"done":false}\n']
    assert tail is not None
    assert (tail.raw, tail.at, tail.torn) == ('{"done"', 0.1, ((4, 0.2),))
