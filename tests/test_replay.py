"""Faithful replay: a recording (the real transcripts of wire-format.md, cut into chosen reads
at chosen times) is served the way its upstream sent it: the same bytes, in the same writes
(the journal's writes are the recorded reads; a raw reader's reads never join bytes across a
recorded boundary... but may join recorded reads: a read takes what has arrived), not before
their recorded time; and every fault, wire shaping and timing key still applies to it.

Timing bounds: a write is never early (it waits for an absolute deadline from the request's
arrival), and is at most LATE late: a generous bound for a busy 2-core machine, against
which a replay at the wrong pace (or none) still fails.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from multidict import CIMultiDict

from sparring import (
    Entry,
    FakeLLM,
    Fault,
    RateLimits,
    RecordedEvent,
    Scenario,
    Timing,
    Wire,
    dump_scenario,
    recorded,
    rule,
)
from sparring.recorder.frames import frames_of
from tests.replay_data import (
    BODIES,
    CHAT_BODY,
    CHAT_READS,
    CHAT_WORDS,
    HEADERS_AT,
    MESSAGES_WORDS,
    READS,
    RESPONSES_WORDS,
    WHOLE_CHAT_BODY,
    WHOLE_CHAT_READS,
    recording,
    whole_recording,
)
from tests.serve_process import sparring_serve

EARLY = 0.002  # the loop's timers may wake a hair before a deadline (clock rounding)
LATE = 0.5  # seconds: a generous bound for a busy machine; the recorded gaps are 10-40 ms

PATHS = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "messages": "/v1/messages"}
WORDS = {"chat": CHAT_WORDS, "responses": RESPONSES_WORDS, "messages": MESSAGES_WORDS}


def request(api: str, *, stream: bool = True) -> dict[str, Any]:
    prompt = [{"role": "user", "content": "Hi"}]
    body: dict[str, Any] = {"model": "gpt-4.1-nano"}
    if api == "responses":
        body["input"] = "Hi"
    else:
        body["messages"] = prompt
    if api == "messages":
        body["max_tokens"] = 64
    if stream:
        body["stream"] = True
    return body


class Read:
    """A raw read of a response: status, headers, the body as the socket delivered it, and
    how the body ended (None: complete; else the client's error)."""

    def __init__(self, status: int, headers: CIMultiDict[str], reads: list[bytes], error: str | None) -> None:
        self.status, self.headers, self.reads, self.error = status, headers, reads, error
        self.body = b"".join(reads)


async def read(url: str, body: dict[str, Any]) -> Read:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(url, json=body, headers={"Authorization": "Bearer sk-test"}) as response,
    ):
        reads: list[bytes] = []
        error = None
        try:
            async for piece in response.content.iter_any():
                reads.append(piece)
        except aiohttp.ClientPayloadError as exc:
            error = repr(exc)
        return Read(response.status, CIMultiDict(response.headers), reads, error)


def boundaries(sizes: Sequence[int]) -> set[int]:
    return set(itertools.accumulate(sizes))


def writes(entry: Entry) -> list[int]:
    return [c.nbytes for c in entry.chunks]


def assert_on_schedule(entry: Entry, times: Sequence[float]) -> None:
    """Each write went out at its time (seconds from the request's arrival), never early."""
    sent = [c.at for c in entry.chunks]
    assert len(sent) == len(times)
    for i, (at, due) in enumerate(zip(sent, times, strict=True)):
        assert due - EARLY <= at <= due + LATE, f"write {i} at {at:.4f} s, due at {due:.4f} s"


# -- the same bytes, in the same writes, at the recorded times -----------------------------------


@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
@pytest.mark.asyncio
async def test_a_recorded_stream_replays_its_bytes_in_its_reads_at_its_times(fake_llm: FakeLLM, api: str) -> None:
    fake_llm.add(recording(api))
    got = await read(fake_llm.url + PATHS[api], request(api))
    assert (got.status, got.error) == (200, None)
    assert got.body == BODIES[api]
    recorded_reads = [len(data) for data, _ in READS[api]]
    # The reader may find two recorded reads waiting at once, never a read cut elsewhere.
    assert boundaries([len(r) for r in got.reads]) <= boundaries(recorded_reads)
    (entry,) = fake_llm.journal
    assert writes(entry) == recorded_reads
    assert_on_schedule(entry, [at for _, at in READS[api]])
    assert entry.outcome == "completed"
    assert entry.answered_by is not None
    assert "recording of " + api in entry.answered_by
    assert entry.events_sent == BODIES[api].count(b"\n\n")
    assert entry.content_sent == len(WORDS[api])  # the deltas with text in them


@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
@pytest.mark.asyncio
async def test_the_recorded_headers_go_out_without_length_and_encoding(fake_llm: FakeLLM, api: str) -> None:
    fake_llm.add(recording(api, rate_limits=RateLimits(remaining_requests=7)))
    got = await read(fake_llm.url + PATHS[api], request(api))
    assert got.headers["Content-Type"] == recording(api).headers["content-type"]
    assert got.headers["x-request-id"] == "req_recorded"
    assert "Content-Length" not in got.headers  # the recorded 999 was the upstream's
    assert got.headers["Transfer-Encoding"] == "chunked"  # aiohttp's own, once
    remaining = "anthropic-ratelimit-requests-remaining" if api == "messages" else "x-ratelimit-remaining-requests"
    assert got.headers[remaining] == "7"
    (entry,) = fake_llm.journal
    assert entry.status == 200


@pytest.mark.asyncio
async def test_the_headers_wait_for_their_recorded_time(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", headers_at=0.25))
    async with httpx.AsyncClient(timeout=10) as client:
        sent = time.monotonic()
        async with client.stream("POST", fake_llm.url + PATHS["chat"], json=request("chat")) as response:
            waited = time.monotonic() - sent  # until the headers came
            body = await response.aread()
    assert body == CHAT_BODY
    assert 0.25 - EARLY <= waited <= 0.25 + LATE
    # The first event was recorded before these late headers (0.10 s): it follows them at once.
    (entry,) = fake_llm.journal
    assert 0.25 - EARLY <= entry.chunks[0].at <= 0.25 + LATE


@pytest.mark.asyncio
async def test_a_recording_read_with_httpx_gives_the_same_bytes(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("messages"))
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("POST", fake_llm.url + PATHS["messages"], json=request("messages")) as response,
    ):
        pieces = [piece async for piece in response.aiter_raw()]
    assert b"".join(pieces) == BODIES["messages"]
    assert boundaries([len(p) for p in pieces]) <= boundaries([len(d) for d, _ in READS["messages"]])


@pytest.mark.asyncio
async def test_speed_divides_every_recorded_time(fake_llm: FakeLLM) -> None:
    slow = [(data, at * 4) for data, at in CHAT_READS]  # recorded four times slower...
    fake_llm.add(recording("chat", slow, headers_at=HEADERS_AT * 4, speed=4))  # ...replayed four times faster
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == CHAT_BODY
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(data) for data, _ in CHAT_READS]
    assert_on_schedule(entry, [at for _, at in CHAT_READS])
    assert entry.chunks[-1].at < CHAT_READS[-1][1] * 4  # well before the unscaled time


@pytest.mark.asyncio
async def test_a_whole_recording_replays_its_exact_body_in_its_reads(fake_llm: FakeLLM) -> None:
    fake_llm.add(whole_recording())
    got = await read(fake_llm.url + PATHS["chat"], request("chat", stream=False))
    assert (got.status, got.error) == (200, None)
    assert got.body == WHOLE_CHAT_BODY
    assert got.headers["Content-Length"] == str(len(WHOLE_CHAT_BODY))
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["x-request-id"] == "req_whole"
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(data) for data, _ in WHOLE_CHAT_READS]
    assert_on_schedule(entry, [at for _, at in WHOLE_CHAT_READS])
    assert (entry.outcome, entry.content_sent) == ("completed", 1)


# -- a stream asked of a whole recording, and the reverse ---------------------------------------


@pytest.mark.parametrize(
    ("made", "stream", "says"),
    [
        (whole_recording, True, "is a whole answer, but the request asked for a stream"),
        (lambda: recording("chat"), False, "is a stream (10 events), but the request asked for a whole answer"),
    ],
)
@pytest.mark.asyncio
@pytest.mark.sparring(strict=False)  # the 500 is what is tested: teardown need not report it
async def test_a_recording_answers_only_the_kind_of_request_it_recorded(
    fake_llm: FakeLLM, made: Any, stream: bool, says: str
) -> None:
    fake_llm.add(made())
    got = await read(fake_llm.url + PATHS["chat"], request("chat", stream=stream))
    assert got.status == 500
    assert got.headers["x-should-retry"] == "false"  # no SDK retries it
    error = json.loads(got.body)["error"]
    assert says in error["message"]
    assert error["code"] == "sparring_recording_mismatch"
    (entry,) = fake_llm.journal
    assert (entry.outcome, entry.status) == ("scenario_error", 500)
    assert entry.detail is not None
    assert says in entry.detail


# -- faults, wire shaping and timing on a recording -------------------------------------------------


def _event_ends(body: bytes) -> list[int]:
    return sorted(boundaries([len(e) + 2 for e in body.split(b"\n\n")[:-1]]))


@pytest.mark.asyncio
async def test_close_after_chunk_3_cuts_the_recorded_reads_there(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", fault=Fault("close", after_chunk=3)))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    cut = _event_ends(CHAT_BODY)[2]
    assert got.body == CHAT_BODY[:cut]
    assert got.error is not None  # no chunked terminator: the client sees a broken body
    (entry,) = fake_llm.journal
    assert entry.outcome == "fault"
    assert writes(entry) == [len(data) for data, _ in CHAT_READS[:3]]  # event 2 was torn: 2 reads
    assert entry.events_sent == 3


@pytest.mark.asyncio
async def test_close_after_a_byte_splits_the_read_it_falls_in(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", fault=Fault("close", after_byte=600)))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == CHAT_BODY[:600]
    (entry,) = fake_llm.journal
    assert writes(entry) == [593, 7]


@pytest.mark.asyncio
async def test_an_error_event_continues_the_recorded_responses_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("responses", fault=Fault("error_event", after_chunk=5, error="server_error")))
    got = await read(fake_llm.url + PATHS["responses"], request("responses"))
    events = [json.loads(block.split(b"data: ", 1)[1]) for block in got.body.split(b"\n\n")[:-1]]
    assert [e["type"] for e in events[:5]] == [
        json.loads(b.split(b"data: ", 1)[1])["type"] for b in BODIES["responses"].split(b"\n\n")[:5]
    ]
    error, failed = events[5:]
    assert (error["type"], error["sequence_number"]) == ("error", 5)
    assert error["error"]["type"] == "server_error"
    # response.failed repeats the recorded response of response.created, now failed.
    assert (failed["type"], failed["response"]["id"], failed["response"]["status"]) == (
        "response.failed",
        "resp_1",
        "failed",
    )
    (entry,) = fake_llm.journal
    assert entry.fault is not None
    assert entry.content_sent == 1  # one delta went out before the error


@pytest.mark.asyncio
async def test_an_error_event_in_a_recorded_anthropic_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("messages", fault=Fault("error_event", after_chunk=4, error="overloaded")))
    got = await read(fake_llm.url + PATHS["messages"], request("messages"))
    blocks = got.body.split(b"\n\n")[:-1]
    assert blocks[:4] == BODIES["messages"].split(b"\n\n")[:4]
    assert blocks[4].startswith(b"event: error\ndata: ")
    assert json.loads(blocks[4].split(b"data: ", 1)[1])["error"]["type"] == "overloaded_error"


@pytest.mark.asyncio
async def test_no_done_leaves_out_the_recorded_terminator(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", fault="no_done"))
    fake_llm.add(recording("messages", fault="no_done"))
    chat = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert chat.body == CHAT_BODY.removesuffix(b"data: [DONE]\n\n")
    messages = await read(fake_llm.url + PATHS["messages"], request("messages"))
    assert b"message_stop" not in messages.body
    assert b"message_delta" not in messages.body
    assert messages.body.endswith(b'"index":0}\n\n')  # content_block_stop, then a clean end
    chat_entry = fake_llm.journal[0]
    assert writes(chat_entry)[-1] == len(CHAT_READS[-1][0]) - len(b"data: [DONE]\n\n")


@pytest.mark.asyncio
async def test_a_stall_holds_back_every_later_write(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", fault=Fault("stall", after_chunk=2, duration=0.3)))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == CHAT_BODY
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(data) for data, _ in CHAT_READS]
    times = [at for _, at in CHAT_READS]
    assert_on_schedule(entry, [times[0], *(t + 0.3 for t in times[1:])])


@pytest.mark.asyncio
async def test_wire_replaces_the_recorded_reads_but_not_their_times(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", wire=Wire(write_size=1)))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == CHAT_BODY
    (entry,) = fake_llm.journal
    assert set(writes(entry)) == {1}
    # Each event's first byte goes out at the event's recorded arrival, never before (the
    # journal keeps the first 2,000 writes one by one).
    starts = [0, *_event_ends(CHAT_BODY)[:-1]]
    arrivals = [e.at for e in recording("chat").events]
    kept = [(offset, at) for offset, at in zip(starts, arrivals, strict=True) if offset < len(entry.chunks)]
    assert len(kept) >= 5
    for offset, at in kept:
        assert entry.chunks[offset].at >= at - EARLY


@pytest.mark.asyncio
async def test_timing_replaces_the_recorded_pace(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", timing=Timing(headers_delay=0.0, first_chunk=0.3, gap=0.02)))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == CHAT_BODY
    (entry,) = fake_llm.journal
    # Sparring's pace: the paced events (role, six words, finish) one write each, after the
    # first chunk's wait; the usage chunk and [DONE] follow the finish at once, in its write.
    assert len(writes(entry)) == 8
    assert entry.chunks[0].at >= 0.3 - EARLY


@pytest.mark.asyncio
async def test_timing_without_waits_sends_the_events_together(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("messages", timing=Timing()))
    got = await read(fake_llm.url + PATHS["messages"], request("messages"))
    assert got.body == BODIES["messages"]
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(BODIES["messages"])]


@pytest.mark.asyncio
async def test_a_fault_on_a_whole_recording_acts_as_on_any_whole_answer(fake_llm: FakeLLM) -> None:
    fake_llm.add(whole_recording(fault=Fault("close", after_byte=50)), whole_recording(fault="malformed_chunk"))
    got = await read(fake_llm.url + PATHS["chat"], request("chat", stream=False))
    assert got.body == WHOLE_CHAT_BODY[:50]
    malformed = await read(fake_llm.url + PATHS["chat"], request("chat", stream=False))
    assert malformed.body == WHOLE_CHAT_BODY[: len(WHOLE_CHAT_BODY) // 2]
    first, second = fake_llm.journal
    assert first.outcome == "fault"
    assert writes(second) == [120, len(WHOLE_CHAT_BODY) // 2 - 120]  # the recorded reads, cut short


@pytest.mark.asyncio
async def test_a_fault_before_the_headers_strikes_when_they_were_due(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", fault="reset"))
    with pytest.raises(aiohttp.ClientError):
        await read(fake_llm.url + PATHS["chat"], request("chat"))
    (entry,) = fake_llm.journal
    assert entry.outcome == "fault"
    assert entry.writes == 0
    assert entry.ended is not None
    assert entry.ended >= HEADERS_AT - EARLY


# -- a scenario file, served by `sparring serve` --------------------------------------------------


def test_sparring_serve_replays_a_dumped_recording(tmp_path: Path) -> None:
    scenario = Scenario.of(
        rule(recording("chat")),
        rule(recording("messages")),
        rule(whole_recording()),
    )
    path = tmp_path / "recorded.yaml"
    path.write_text(dump_scenario(scenario, fmt="yaml"))
    with sparring_serve(str(path)) as url:
        got = asyncio.run(read(url + PATHS["chat"], request("chat")))
        assert got.body == CHAT_BODY
        assert asyncio.run(read(url + PATHS["messages"], request("messages"))).body == BODIES["messages"]
        assert asyncio.run(read(url + PATHS["chat"], request("chat", stream=False))).body == WHOLE_CHAT_BODY
        entries = httpx.get(url + "/_sparring/journal", timeout=10).json()["entries"]
    assert [[c["nbytes"] for c in e["chunks"]] for e in entries] == [
        [len(data) for data, _ in READS["chat"]],
        [len(data) for data, _ in READS["messages"]],
        [len(data) for data, _ in WHOLE_CHAT_READS],
    ]
    assert all(e["outcome"] == "completed" for e in entries)


# -- edited recordings, raw events, other APIs, big recordings -----------------------------------


@pytest.mark.asyncio
async def test_a_torn_offset_past_an_edited_event_is_ignored(fake_llm: FakeLLM) -> None:
    edited = [
        RecordedEvent(at=0.02, data='{"choices":[{"index":0,"delta":{"content":"Hi"}}]}', torn=((300, 0.03),)),
        RecordedEvent(at=0.04, raw=": a comment\r\ndata: [DONE]\r\n\r\n"),
    ]
    fake_llm.add(recorded("chat", events=edited))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == edited[0].frame + edited[1].frame
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(edited[0].frame), len(edited[1].frame)]  # the tear at 300 is gone
    assert (entry.events_sent, entry.content_sent) == (2, 1)


@pytest.mark.asyncio
async def test_rate_limits_replace_the_recorded_headers_of_the_same_name(fake_llm: FakeLLM) -> None:
    fake_llm.add(
        recorded(
            "chat",
            events=recording("chat").events,
            headers={"X-RateLimit-Remaining-Requests": "9999", "X-Other": "kept"},
            rate_limits=RateLimits(remaining_requests=0),
        )
    )
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.headers.getall("x-ratelimit-remaining-requests") == ["0"]
    assert got.headers["x-other"] == "kept"


@pytest.mark.asyncio
async def test_a_recorded_legacy_completions_stream(fake_llm: FakeLLM) -> None:
    chunk = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct"}
    body = b"".join(
        b"data: " + json.dumps({**chunk, "choices": [{"text": t, "index": 0}]}).encode() + b"\n\n"
        for t in ["Hello", " there", ""]
    )
    events, _ = frames_of([(body + b"data: [DONE]\n\n", 0.02)])
    fake_llm.add(recorded("completions", events=events, fault="no_done"))
    got = await read(
        fake_llm.url + "/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi", "stream": True}
    )
    assert got.body == body
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(body)]  # one read, less the [DONE] that no_done left out
    assert (entry.events_sent, entry.content_sent) == (3, 2)


@pytest.mark.asyncio
async def test_a_big_recording_is_replayed_whole(fake_llm: FakeLLM) -> None:
    """3,000 events (their classification runs in a worker thread), all read at once."""
    frame = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
    events, _ = frames_of([(frame * 3_000 + b"data: [DONE]\n\n", 0.01)])
    fake_llm.add(recorded("chat", events=events, fault=Fault("close", after_chunk=2_500)))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == frame * 2_500
    (entry,) = fake_llm.journal
    assert writes(entry) == [len(frame) * 2_500]
    assert entry.content_sent == 2_500


@pytest.mark.asyncio
async def test_a_stream_cut_upstream_replays_cut_at_the_same_byte(fake_llm: FakeLLM) -> None:
    """As the recorder keeps a stream its upstream cut: the events that arrived, the unfinished
    tail as a last raw event, and a `close` after the bytes received."""
    received = CHAT_BODY[:1000]  # mid-way through an event
    events, tail = frames_of([(received[:600], 0.02), (received[600:], 0.04)])
    assert tail is not None
    fake_llm.add(recorded("chat", events=[*events, tail], fault=Fault("close", after_byte=len(received))))
    got = await read(fake_llm.url + PATHS["chat"], request("chat"))
    assert got.body == received
    assert got.error is not None
    (entry,) = fake_llm.journal
    assert writes(entry) == [600, 400]
    assert entry.outcome == "fault"


@pytest.mark.asyncio
async def test_timing_or_wire_on_a_whole_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(whole_recording(timing=Timing(first_chunk=0.2)))
    fake_llm.add(whole_recording(wire=Wire(write_size=100)))
    paced = await read(fake_llm.url + PATHS["chat"], request("chat", stream=False))
    cut = await read(fake_llm.url + PATHS["chat"], request("chat", stream=False))
    assert paced.body == cut.body == WHOLE_CHAT_BODY
    first, second = fake_llm.journal
    assert writes(first) == [len(WHOLE_CHAT_BODY)]  # the recorded reads are gone with their pace
    assert first.chunks[0].at >= 0.2 - EARLY
    assert writes(second) == [100, 100, 100, len(WHOLE_CHAT_BODY) - 300]
    assert second.chunks[0].at >= WHOLE_CHAT_READS[0][1] - EARLY  # at the recorded time still
