"""Faults: each one does exactly what it says at the byte level, the journal records it, and
the server comes out unharmed (next request answered, no connection, task or fd left)."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest

from sparring import FakeServer, Fault, Scenario, Wire, reply
from tests.sse import parse_sse

CHUNKS = ["alpha", " beta", " gamma", " delta", " epsilon", " zeta"]
# No obfuscation padding: two answers to this request then have events of identical lengths.
BODY = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_obfuscation": False},
}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `check` every 10 ms until it holds or `timeout` passes (no bare sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def read_raw(url: str, body: object = BODY, timeout: float = 2.0) -> tuple[bytes, str | None]:
    """Every body byte that arrived, and the exception that ended the read (if any)."""
    received = b""
    try:
        with (
            httpx.Client(timeout=timeout) as client,
            client.stream("POST", f"{url}/chat/completions", json=body) as response,
        ):
            for piece in response.iter_raw():
                received += piece
    except httpx.HTTPError as exc:
        return received, type(exc).__name__
    return received, None


def events_of(url: str) -> list[bytes]:
    """The events of the same reply without any fault, framed as the server frames them."""
    body, error = read_raw(url)
    assert error is None
    return [block + b"\n\n" for block in body.split(b"\n\n")[:-1]]


@pytest.fixture
def script(server: FakeServer) -> Callable[..., str]:
    """Script one faulty reply followed by the same reply without fault; return the base URL."""

    def _script(fault: Fault, **extra: object) -> str:
        server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=fault, **extra), reply(chunks=CHUNKS)))  # type: ignore[arg-type]
        return server.base_url

    return _script


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


FAULTS_THAT_CUT = ["reset", "close", "truncate"]


@pytest.mark.parametrize("kind", FAULTS_THAT_CUT)
def test_cut_after_byte_delivers_exactly_that_many_bytes(kind: str, server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault(kind, after_byte=150))))
    received, error = read_raw(server.base_url)
    assert received == received[:150]
    assert len(received) == 150
    assert error in ("RemoteProtocolError", "ReadError")
    (entry,) = server.journal()
    assert entry.outcome == "fault"
    assert entry.fault == f"{kind} after byte 150"
    assert entry.bytes_sent == 150


def test_truncate_after_chunk_cuts_inside_the_next_event(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS), reply(chunks=CHUNKS, fault=Fault("truncate", after_chunk=2))))
    whole = events_of(server.base_url)
    received, error = read_raw(server.base_url)
    assert error == "RemoteProtocolError"
    *complete, torn = received.split(b"\n\n")
    assert [len(e) + 2 for e in complete] == [len(e) for e in whole[:2]]
    assert len(torn) == len(whole[2]) // 2, "half of the third event"


def test_close_after_chunk_ends_on_an_event_boundary(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault("close", after_chunk=3))))
    received, error = read_raw(server.base_url)
    assert error == "RemoteProtocolError"
    assert len(parse_sse(received)) == 3


def test_malformed_chunk_breaks_one_event_and_the_stream_goes_on(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault("malformed_chunk", after_chunk=2))))
    received, error = read_raw(server.base_url)
    assert error is None
    events = parse_sse(received)
    assert events[-1] == "[DONE]"
    for i, event in enumerate(events[:-1]):
        if i == 2:
            with pytest.raises(json.JSONDecodeError):
                json.loads(event)
        else:
            json.loads(event)


def test_error_event_follows_k_chunks_and_ends_cleanly(server: FakeServer) -> None:
    fault = Fault("error_event", after_chunk=2, error="rate_limit", message="slow down")
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=fault)))
    received, error = read_raw(server.base_url)
    assert error is None, "a clean end: the chunked body is terminated"
    events = [json.loads(e) for e in parse_sse(received)]
    assert len(events) == 3
    assert events[-1] == {
        "error": {"message": "slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }


def test_error_event_raises_api_error_in_the_sdk(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault("error_event", after_chunk=3))))
    text: list[str] = []

    def consume(client: openai.OpenAI) -> None:
        for chunk in client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            text.append(chunk.choices[0].delta.content or "" if chunk.choices else "")

    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client, pytest.raises(openai.APIError) as caught:
        consume(client)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.code is None or caught.value.type == "server_error"
    assert "".join(text) == "alpha beta", "the deltas before the error arrived"


def test_no_done_drops_only_the_terminator(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS), reply(chunks=CHUNKS, fault=Fault("no_done"))))
    whole = parse_sse(read_raw(server.base_url)[0])
    received, error = read_raw(server.base_url)
    assert error is None
    events = parse_sse(received)
    assert whole[-1] == "[DONE]"
    assert "[DONE]" not in events
    assert len(events) == len(whole) - 1


def test_garbage_mid_stream_inserts_size_bytes_at_the_offset(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(reply(chunks=CHUNKS), reply(chunks=CHUNKS, fault=Fault("garbage", after_byte=100, size=40)))
    )
    whole, _ = read_raw(server.base_url)
    received, error = read_raw(server.base_url)
    assert error is None
    assert len(received) == len(whole) + 40
    (_, entry) = server.journal()
    assert [c.nbytes for c in entry.chunks if c.kind == "garbage"] == [40]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("reset", "ReadError"), ("empty_response", "RemoteProtocolError"), ("garbage", "RemoteProtocolError")],
)
def test_faults_before_headers_send_no_response(kind: str, error: str, server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never seen", fault=Fault(kind))))
    received, raised = read_raw(server.base_url)
    assert (received, raised) == (b"", error)
    (entry,) = server.journal()
    assert entry.status is None
    assert (entry.outcome, entry.fault) == ("fault", f"{kind} before the headers")


def test_hang_until_the_client_gives_up_is_journaled_as_stalled(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never seen", fault=Fault("hang"))))
    _, raised = read_raw(server.base_url, timeout=0.3)
    assert raised == "ReadTimeout"
    assert eventually(lambda: server.journal()[0].outcome == "stalled")


def test_hang_with_a_duration_closes_after_it(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never seen", fault=Fault("hang", duration=0.3))))
    started = time.monotonic()
    _, raised = read_raw(server.base_url)
    # asyncio.sleep never returns early; 0.25 leaves room for clock granularity.
    assert time.monotonic() - started >= 0.25
    assert raised == "RemoteProtocolError"


def test_stall_pauses_then_finishes(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault("stall", after_chunk=2, duration=0.4))))
    arrivals: list[float] = []
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        for chunk in client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # Events 1-2 are the role chunk and "alpha"; the stall sits before " beta". Lower bound
    # only: a loaded machine can add delay, never remove it.
    assert gaps[0] >= 0.35
    assert all(g < 0.35 for g in gaps[1:])
    assert server.journal()[0].outcome == "completed"


def test_stall_forever_ends_as_stalled_when_the_client_leaves(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault("stall", after_chunk=2))))
    received, raised = read_raw(server.base_url, timeout=0.3)
    assert raised == "ReadTimeout"
    assert len(parse_sse(received)) == 2
    assert eventually(lambda: server.journal()[0].outcome == "stalled")


def test_stall_inside_an_event_leaves_a_torn_frame_waiting(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, fault=Fault("stall", after_byte=123))))
    received, raised = read_raw(server.base_url, timeout=0.3)
    assert raised == "ReadTimeout"
    assert len(received) == 123


@pytest.mark.parametrize(
    "fault",
    [
        Fault("reset"),
        Fault("empty_response"),
        Fault("garbage"),
        Fault("hang", duration=0.05),
        Fault("reset", after_chunk=2),
        Fault("close", after_chunk=2),
        Fault("truncate", after_chunk=2),
        Fault("stall", after_chunk=2, duration=0.05),
        Fault("malformed_chunk", after_chunk=2),
        Fault("error_event", after_chunk=2),
        Fault("garbage", after_chunk=2),
        Fault("no_done"),
    ],
    ids=Fault.describe,
)
def test_the_server_comes_out_of_every_fault_unharmed(
    fault: Fault, script: Callable[..., str], server: FakeServer
) -> None:
    baseline_fds = open_fds() if Path("/proc/self/fd").is_dir() else None
    url = script(fault)
    read_raw(url)
    received, error = read_raw(url)
    assert error is None
    assert parse_sse(received)[-1] == "[DONE]", "the next request is answered in full"
    assert eventually(lambda: server.activity() == {"connections": 0, "tasks": 0})
    if baseline_fds is not None:
        assert eventually(lambda: open_fds() <= baseline_fds)


def test_non_streamed_answers_can_be_cut_too(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("a whole answer", fault=Fault("truncate"))))
    whole_body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    received, error = read_raw(server.base_url, body=whole_body)
    assert error == "RemoteProtocolError", "fewer bytes than Content-Length announced"
    assert len(received) > 0
    (entry,) = server.journal()
    assert entry.outcome == "fault"


def test_faults_play_with_wire_shaping(server: FakeServer) -> None:
    """A cut at byte n is at byte n even when the bytes go out one at a time, with CRLF."""
    shaped = reply(chunks=CHUNKS, wire=Wire(write_size=1, line_ending="crlf"), fault=Fault("close", after_byte=400))
    server.set_scenario(Scenario.of(shaped))
    received, error = read_raw(server.base_url)
    assert error == "RemoteProtocolError"
    assert len(received) == 400
    assert b"\r\n\r\n" in received
    assert b"\n\n" not in received.replace(b"\r\n", b"")
