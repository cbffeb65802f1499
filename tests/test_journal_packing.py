"""Journal entries kept packed (sparring.fake_server.packed, writes.Writes): readers see
the same values, equal and of the same types, as fresh copies; values a packing could not
give back are kept as given; and an entry costs a fraction of what it did."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import tracemalloc
from typing import Any

import httpx
import pytest

from sparring import Entry, FakeServer, Scenario, Wire, reply, rule
from sparring.fake_server.journal import Chunk, Journal
from sparring.fake_server.writes import Writes


def entry(**fields: Any) -> Entry:
    return Entry(0, "t", "POST", "/v1/chat/completions", fields.pop("headers", {"a": "b"}), 1.0, 2.0, **fields)


def test_an_entry_reads_back_what_was_written_as_fresh_copies() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "héllo \U0001f600"}], "n": 1.5, "s": True}
    made = entry(
        headers={"content-type": "application/json", "authorization": "Bearer sk-tes…[redacted 3fa9c2]"},
        body=body,
        response_headers={"x-request-id": "req_1"},
        event_ends=[120, 250, 100_000, 100_010],
        content_events=[1, 2],
    )
    assert made.body == body
    assert type(made.body["n"]) is float
    assert made.body["s"] is True
    assert made.headers["authorization"] == "Bearer sk-tes…[redacted 3fa9c2]"
    assert (made.event_ends, made.content_events) == ([120, 250, 100_000, 100_010], [1, 2])
    made.body["model"] = "changed"  # a reader's copy: the entry keeps what was journaled
    made.headers.clear()
    made.event_ends.append(5)
    assert made.body["model"] == "gpt-4o"
    assert made.headers
    assert made.event_ends[-1] == 100_010
    assert made == entry(
        headers=made.headers,
        body=body,
        response_headers={"x-request-id": "req_1"},
        event_ends=made.event_ends,
        content_events=[1, 2],
    )
    assert Entry.from_json(made.to_json()) == made
    assert copy.deepcopy(made) == made
    assert "héllo" in repr(made)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", {"t": (1, 2)}),  # a tuple would come back a list
        ("body", {1: "int key"}),  # an int key would come back a string
        ("body", {"x": math.inf}),
        ("body", b"raw bytes"),
        ("body", "a JSON string body"),
        ("headers", {"x-a": "nul\0inside"}),
        ("event_ends", [1, 2**70]),  # past a 64-bit array
        ("event_ends", [3, -5, 0]),  # not increasing: still exact
    ],
)
def test_what_a_packing_cannot_give_back_is_kept_as_given(field: str, value: Any) -> None:
    made = entry(**{field: value})
    assert getattr(made, field) == value
    assert type(getattr(made, field)) is type(value)


def test_a_nan_in_a_body_survives() -> None:
    assert math.isnan(entry(body={"x": math.nan}).body["x"])


def test_write_records_are_a_list_of_chunks() -> None:
    writes = Writes([Chunk(0.5, 3), Chunk(0.75, 1, "keepalive")])
    writes.freeze()
    writes.add(1.0, 2**40, "garbage")  # past four bytes: the records widen, nothing lost
    assert list(writes) == [Chunk(0.5, 3), Chunk(0.75, 1, "keepalive"), Chunk(1.0, 2**40, "garbage")]
    assert (writes[-1], writes[1:], len(writes), writes.total(), writes.total("event")) == (
        Chunk(1.0, 2**40, "garbage"),
        [Chunk(0.75, 1, "keepalive"), Chunk(1.0, 2**40, "garbage")],
        3,
        2**40 + 4,
        3,
    )
    with pytest.raises(IndexError):
        writes[3]
    assert copy.deepcopy(writes) == copy.copy(writes) == pickle.loads(pickle.dumps(writes)) == writes


def held_per_entry(server: FakeServer, count: int, body: dict[str, Any]) -> float:
    """What the journal's entries hold, per entry: traced memory before and after it is cleared."""
    journal = server.store.space().journal
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(count):
            client.post("/v1/chat/completions", json=body).read()
    assert len(journal.wait_until(lambda es: len(es) == count and all(e.outcome for e in es), timeout=30)) == count
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    journal.clear()
    gc.collect()
    return (before - tracemalloc.get_traced_memory()[0]) / count


@pytest.mark.timeout(60)  # 40 small requests: 2-10 s on 2 busy cores, tracemalloc included
def test_an_entry_costs_a_fraction_of_what_it_did() -> None:
    """Measured (bench/soak_entry_size.py): a clean 15-event stream held 5,497 bytes before the
    entries were packed and 1,584 after; a stream of 1,238 one-byte writes 25,945 and 17,401.
    The bounds leave room for the other thread's allocations and for other Python versions."""
    chat = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    scenario = Scenario.of(
        rule(reply("Short one.", wire=Wire(write_size=1), repeat=True), model="bytes"),
        reply("The quick brown fox jumps over the lazy dog again.", repeat=True),
    )
    with FakeServer(scenario) as server:
        tracemalloc.start()
        try:
            clean = held_per_entry(server, 20, chat)
            one_byte = held_per_entry(server, 20, {**chat, "model": "bytes"})
        finally:
            tracemalloc.stop()
    assert 300 < clean < 2_500
    assert 5_000 < one_byte < 20_000


def test_events_recorded_as_a_stream_goes_are_kept_and_packed_when_it_ends() -> None:
    journal = Journal("t")
    made = journal.open("POST", "/v1/chat/completions", {})
    journal.record_events(made, [10, 20], [False, True])
    reader = journal.copies()[0]
    journal.record_events(made, [30], [True])
    assert (made.event_ends, made.content_events) == ([10, 30, 60], [1, 2])
    assert reader.event_ends == [10, 30]  # a copy taken earlier does not grow with the entry
    journal.end(made, "completed")
    assert isinstance(vars(made)["_packed_event_ends"], bytes)  # packed once nothing more comes
    assert (made.event_ends, made.content_events) == ([10, 30, 60], [1, 2])
