"""A bounded journal: a cap per namespace with the number dropped, write records and bodies
kept within limits while every total stays exact, and request bodies nested too deep
refused in the API's shape instead of breaking the journal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from sparring import Entry, FakeServer, Fault, Scenario, Wire, reply
from sparring.cli import request_line
from sparring.fake_server.bodies import BODY_KEPT, MAX_DEPTH
from sparring.fake_server.journal import EVENTS_KEPT, WRITES_KEPT
from sparring.plugin.fake_llm import FakeLLM
from tests.sse import parse_sse


def chat(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def capped() -> Iterator[FakeServer]:
    with FakeServer(Scenario.of(reply("ok", repeat=True)), journal_limit=3) as server:
        yield server


def test_past_the_cap_the_oldest_entries_are_dropped_and_counted(capped: FakeServer) -> None:
    with OpenAI(base_url=capped.base_url, api_key="sk-test", max_retries=0) as client:
        for _ in range(5):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    journal = capped.journal()
    assert [e.index for e in journal] == [2, 3, 4]  # indexes go on: unique and increasing
    read = httpx.get(f"{capped.url}/_sparring/journal", timeout=10).json()
    assert read["dropped"] == 2
    assert [e["index"] for e in read["entries"]] == [2, 3, 4]
    capped.reset()
    capped.set_scenario(Scenario.of(reply("ok")))
    with OpenAI(base_url=capped.base_url, api_key="sk-test", max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    after = httpx.get(f"{capped.url}/_sparring/journal", timeout=10).json()
    assert (after["dropped"], [e["index"] for e in after["entries"]]) == (0, [0])  # a reset starts afresh


def test_dropping_a_capped_namespace_says_how_many_entries_it_had_dropped(capped: FakeServer) -> None:
    with httpx.Client(base_url=capped.url, timeout=10) as client:
        for _ in range(5):
            assert client.post("/ns/c/v1/chat/completions", json=chat()).status_code == 404  # nothing scripted
        answer = client.delete("/_sparring/namespace", headers={"x-sparring-namespace": "c"}).json()
    assert (len(answer["entries"]), answer["journal_dropped"]) == (3, 2)  # 5 sent: 3 kept, 2 counted


def test_entries_under_way_are_never_dropped(capped: FakeServer) -> None:
    capped.set_scenario(
        Scenario.of(reply(chunks=["a", "b"], fault=Fault("stall", after_chunk=1)), reply("ok", repeat=True))
    )
    with (
        httpx.Client(base_url=capped.url, timeout=10) as client,
        client.stream("POST", "/v1/chat/completions", json=chat(stream=True)) as held,
    ):
        lines = held.iter_lines()  # kept: a generator let go closes the connection
        assert next(lines).startswith("data: ")  # the stall has begun: under way
        for _ in range(4):
            assert client.post("/v1/chat/completions", json=chat()).status_code == 200
        journal = capped.journal()
        assert [(e.index, e.outcome) for e in journal] == [(0, None), (3, "completed"), (4, "completed")]
        assert capped.store.space().journal.dropped == 2


def test_a_large_body_is_journaled_as_its_size_and_digest(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("seen it", repeat=True)))
    big = json.dumps(chat("x" * BODY_KEPT, stream=False)).encode()
    small = json.dumps(chat("x" * 100)).encode()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answered = client.post("/v1/chat/completions", content=big, headers={"content-type": "application/json"})
        client.post("/v1/chat/completions", content=small, headers={"content-type": "application/json"})
    assert answered.json()["choices"][0]["message"]["content"] == "seen it"  # served in full all the same
    kept, whole = server.journal()
    assert kept.body == {
        "truncated": True,
        "size": len(big),
        "sha256": hashlib.sha256(big).hexdigest(),
        "model": "gpt-4o",
        "stream": False,
    }
    assert whole.body == json.loads(small)


def test_write_records_stop_growing_but_every_total_stays_exact(server: FakeServer) -> None:
    # One byte per write (splitting each two-byte "é"): some 3,000 writes, more than are recorded.
    server.set_scenario(Scenario.of(reply(chunks=["é"] * 12, wire=Wire(write_size=1))))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        raw = client.post("/v1/chat/completions", json=chat(stream=True)).content
    [entry] = server.wait_until(lambda j: bool(j) and j[0].outcome is not None)
    events = parse_sse(raw)
    assert len(raw) > WRITES_KEPT
    assert len(entry.chunks) == WRITES_KEPT
    assert entry.writes == entry.bytes_sent == len(raw)
    assert entry.events_sent == len(events)
    assert entry.content_sent == 12  # one event per "é"
    assert f" · {len(raw)} chunks · " in request_line(entry)
    remote = Entry.from_json(httpx.get(f"{server.url}/_sparring/journal", timeout=10).json()["entries"][0])
    assert remote == entry
    assert (remote.bytes_sent, remote.events_sent, remote.content_sent) == (len(raw), len(events), 12)


@pytest.mark.parametrize("cut_after", [None, EVENTS_KEPT + 100])
def test_event_records_are_cut_at_the_end_with_exact_counts(server: FakeServer, cut_after: int | None) -> None:
    pieces = [f"w{i} " for i in range(EVENTS_KEPT + 500)]
    fault = Fault("close", after_chunk=cut_after) if cut_after is not None else None
    server.set_scenario(Scenario.of(reply(chunks=pieces, fault=fault)))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        try:
            raw = client.post("/v1/chat/completions", json=chat(stream=True)).content
        except httpx.RemoteProtocolError:  # the close fault: the body ends without its terminator
            raw = b""
    [entry] = server.wait_until(lambda j: bool(j) and j[0].outcome is not None)
    assert len(entry.event_ends) == EVENTS_KEPT
    if cut_after is None:
        assert entry.events_sent == len(parse_sse(raw))
        assert entry.content_sent == len(pieces)
    else:
        assert (entry.outcome, entry.events_sent) == ("fault", cut_after)
        assert entry.content_sent == cut_after - 1  # the first event carries the role, no output
    assert entry.describe().count("event") == 1  # describe() still reads it


def _nested(depth: int) -> bytes:
    """A chat request whose body nests `depth` levels (the body itself is the first)."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return ('{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "x": ' + inner + "}").encode()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 487, 100_000])
def test_a_body_nested_too_deep_gets_a_400_in_the_apis_shape(server: FakeServer, depth: int) -> None:
    server.set_scenario(Scenario.of(reply("ok", repeat=True)))
    raw = _nested(depth)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        refused = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert f"at most {MAX_DEPTH} levels" in error["message"]
        journal = client.get("/_sparring/journal")  # still readable: nothing deep was kept
        assert journal.status_code == 200
        after = client.post("/v1/chat/completions", json=chat())
        assert after.status_code == 200
    [entry] = journal.json()["entries"]
    assert (entry["outcome"], entry["status"]) == ("rejected", 400)
    assert entry["body"]["size"] == len(raw)
    assert entry["body"]["reason"].startswith("The request body is nested")


def test_a_body_at_the_depth_limit_is_answered(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("ok")))
    raw = _nested(MAX_DEPTH)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answered = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert answered.status_code == 200
    assert server.journal()[0].body == json.loads(raw)


def test_a_body_nested_too_deep_gets_anthropics_error_shape(server: FakeServer) -> None:
    raw = _nested(MAX_DEPTH + 1).replace(b'"gpt-4o"', b'"claude-sparring-1", "max_tokens": 10')
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "sk-ant"}
    refused = httpx.post(f"{server.url}/v1/messages", content=raw, headers=headers, timeout=10)
    assert refused.status_code == 400
    answer = refused.json()
    assert answer["type"] == "error"
    assert answer["error"]["type"] == "invalid_request_error"
    assert f"at most {MAX_DEPTH} levels" in answer["error"]["message"]


def test_a_failing_tests_report_says_how_many_requests_were_dropped() -> None:
    with FakeServer(journal_limit=2) as server:
        fake = FakeLLM(server, name="test_report").add(reply("ok", repeat=True))
        with httpx.Client(base_url=fake.base_url, timeout=10) as client:
            for _ in range(3):
                assert client.post("/chat/completions", json=chat()).status_code == 200
        first, *rest = fake.exchange().splitlines()
        assert first == "(1 earlier ended requests dropped: the journal keeps its newest entries)"
        assert [line.split()[0] for line in rest] == ["#2", "asked:", "#3", "asked:"]
        fake.close()
