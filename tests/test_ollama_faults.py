"""Faults and wire shaping on Ollama's NDJSON streams, through the official `ollama` client.

What each means in NDJSON (docs/ollama.md): `close`/`reset`/`truncate` cut between or inside
lines, `malformed_chunk` sends a line of half a JSON object, `error_event` an `{"error": ...}`
line, `no_done` leaves out the `done: true` record, `write_size` tears lines across writes,
and `timing.keepalive` sends nothing (NDJSON has no line a client skips).
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import ollama
import pytest

from sparring import FakeServer, Fault, Scenario, Timing, Wire, reply, tool_call
from sparring.fake_server.dialects.base import ParsedRequest
from sparring.fake_server.dialects.ollama import OllamaChat, OllamaGenerate
from sparring.fake_server.resolve import Resolved, ResolvedChoice, ResolvedToolCall
from tests.sse import post

MODEL = "llama3.2"
USER = [{"role": "user", "content": "Say hello"}]
TEXT = "One two three four five"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stream(kind: str, server: FakeServer, parts: list[Any]) -> None:
    """A streamed chat; every part the client yields goes to `parts`, even if it then raises."""

    async def run_async() -> None:
        async with ollama.AsyncClient(host=server.url) as client:
            async for part in await client.chat(model=MODEL, messages=USER, stream=True):
                parts.append(part)

    if kind == "async":
        asyncio.run(run_async())
        return
    with ollama.Client(host=server.url) as client:
        for part in client.chat(model=MODEL, messages=USER, stream=True):
            parts.append(part)


async def raw_lines(server: FakeServer) -> list[bytes]:
    response = await post(f"{server.url}/api/chat", {"model": MODEL, "messages": USER})
    return response.body.split(b"\n")


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        pytest.param("reset", httpx.ReadError, id="reset"),  # a TCP RST between two lines
        pytest.param("close", httpx.RemoteProtocolError, id="close"),  # a FIN before the chunked terminator
        pytest.param("truncate", httpx.RemoteProtocolError, id="truncate"),  # a FIN inside a line
    ],
)
def test_a_cut_stream_raises_httpx_errors_unwrapped(
    server: FakeServer, kind: str, fault: str, raised: type[Exception]
) -> None:
    """The client wraps nothing and retries nothing: httpx's own exception reaches the caller,
    after the lines that arrived whole; half a line is never parsed."""
    server.set_scenario(Scenario.of(reply(TEXT, fault=Fault(fault, after_chunk=2)), reply("again")))
    parts: list[Any] = []
    with pytest.raises(raised):
        stream(kind, server, parts)
    assert [p.message.content for p in parts] == ["One", " two"]
    assert len(server.journal()) == 1
    assert server.journal()[0].outcome == "fault"


@pytest.mark.asyncio
async def test_truncate_cuts_inside_a_line(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(TEXT, fault=Fault("truncate", after_chunk=2))))
    with pytest.raises(Exception):  # noqa: B017, PT011 - aiohttp's payload error; the bytes are the point
        await raw_lines(server)
    entry = server.journal()[0]
    assert entry.event_ends[1] < entry.bytes_sent < entry.event_ends[2]


def test_error_line_raises_response_error_without_a_status(server: FakeServer, kind: str) -> None:
    """`error_event` is one `{"error": ...}` line: the client raises `ResponseError` with status
    code -1 (the 200 has gone out), after the parts before it."""
    fault = Fault("error_event", after_chunk=2, error="server_error")
    server.set_scenario(Scenario.of(reply(TEXT, fault=fault)))
    parts: list[Any] = []
    with pytest.raises(ollama.ResponseError) as caught:
        stream(kind, server, parts)
    assert (caught.value.error, caught.value.status_code) == ("llama runner process has terminated: exit status 2", -1)
    assert [p.message.content for p in parts] == ["One", " two"]


@pytest.mark.asyncio
async def test_error_line_on_the_wire(server: FakeServer) -> None:
    fault = Fault("error_event", after_chunk=1, error="overloaded", message="out of memory")
    server.set_scenario(Scenario.of(reply(TEXT, fault=fault)))
    lines = await raw_lines(server)
    assert lines[1:] == [b'{"error":"out of memory"}', b""]
    assert json.loads(lines[0])["done"] is False


def test_no_done_leaves_out_the_done_record(server: FakeServer, kind: str) -> None:
    """The client does not notice: the stream just ends, the last part `done: false`."""
    server.set_scenario(Scenario.of(reply("Hi there", fault=Fault("no_done"))))
    parts: list[Any] = []
    stream(kind, server, parts)
    assert [(p.message.content, p.done) for p in parts] == [("Hi", False), (" there", False)]
    assert server.journal()[0].outcome == "completed"


def test_malformed_line_raises_json_decode_error(server: FakeServer, kind: str) -> None:
    server.set_scenario(Scenario.of(reply(TEXT, fault=Fault("malformed_chunk", after_chunk=1))))
    parts: list[Any] = []
    with pytest.raises(json.JSONDecodeError):
        stream(kind, server, parts)
    assert [p.message.content for p in parts] == ["One"]


@pytest.mark.asyncio
async def test_malformed_line_on_the_wire(server: FakeServer) -> None:
    """Half a JSON object, then the newline: the framing holds, the line does not parse."""
    server.set_scenario(Scenario.of(reply("Hi there", fault=Fault("malformed_chunk", after_chunk=1))))
    lines = await raw_lines(server)
    assert len(lines) == 4
    assert lines[1].startswith(b'{"model":"llama3.2"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])
    assert json.loads(lines[2])["done"] is True


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(Wire(write_size=1), id="one-byte-writes"),
        pytest.param(Wire(write_size=[7, 3]), id="lines-torn-anywhere"),
        pytest.param(Wire(events_per_write=3), id="lines-together"),
        pytest.param(Wire(line_ending="crlf"), id="crlf"),
    ],
)
def test_wire_shaping_reaches_the_client_intact(server: FakeServer, kind: str, wire: Wire) -> None:
    """Lines torn across writes (inside a UTF-8 character too), several lines in one write,
    CRLF endings: the client's line reader puts each line back together."""
    server.set_scenario(Scenario.of(reply("Grüße aus Köln", wire=wire)))
    parts: list[Any] = []
    stream(kind, server, parts)
    assert "".join(p.message.content for p in parts) == "Grüße aus Köln"
    assert parts[-1].done


@pytest.mark.asyncio
async def test_torn_writes_on_the_wire(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("Hi there", wire=Wire(write_size=5))))
    response = await post(f"{server.url}/api/chat", {"model": MODEL, "messages": USER})
    writes = server.journal()[0].chunks
    assert all(c.nbytes <= 5 for c in writes)
    assert sum(c.nbytes for c in writes) == len(response.body)
    assert [json.loads(line)["done"] for line in response.body.splitlines()] == [False, False, True]


def test_keepalive_sends_nothing_on_ndjson(server: FakeServer) -> None:
    """NDJSON has no line a client skips (a blank line fails `json.loads`), and Ollama sends
    none: the wait is silent, and the journal says why."""
    timing = Timing(first_chunk=0.15, gap=0.05, keepalive=0.03)
    server.set_scenario(Scenario.of(reply("Hi there", timing=timing)))
    parts: list[Any] = []
    stream("sync", server, parts)
    assert "".join(p.message.content for p in parts) == "Hi there"
    entry = server.journal()[0]
    assert [c.kind for c in entry.chunks] == ["event"] * len(entry.chunks)
    assert entry.detail is not None
    assert "ollama_chat streams have no keep-alive line" in entry.detail


def test_a_short_stall_is_only_slow(server: FakeServer, kind: str) -> None:
    stall = Fault("stall", after_chunk=2, duration=0.1)
    server.set_scenario(Scenario.of(reply(TEXT, fault=stall, timing=Timing(keepalive=0.02))))
    parts: list[Any] = []
    stream(kind, server, parts)
    assert "".join(p.message.content for p in parts) == TEXT
    assert all(c.kind == "event" for c in server.journal()[0].chunks)


def test_a_long_stall_times_the_client_out(server: FakeServer) -> None:
    """The client's `timeout=` is httpx's: a stall past it is `httpx.ReadTimeout`."""
    server.set_scenario(Scenario.of(reply(TEXT, fault=Fault("stall", after_chunk=1))))
    with ollama.Client(host=server.url, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        list(client.chat(model=MODEL, messages=USER, stream=True))
    (entry,) = server.wait_until(lambda journal: bool(journal) and journal[0].outcome is not None)
    assert entry.outcome == "stalled"


def test_a_whole_answer_cut_short(server: FakeServer) -> None:
    """`stream: false` with a cut: half the body, then a FIN; httpx sees it short."""
    server.set_scenario(Scenario.of(reply(TEXT, fault=Fault("close"))))
    with ollama.Client(host=server.url) as client, pytest.raises(httpx.RemoteProtocolError):
        client.chat(model=MODEL, messages=USER)


def test_frame_roles_for_pacing_faults_and_journal() -> None:
    """Text and tool-call records are paced output; the done record follows at once, is the
    `terminal` frame `no_done` drops, and carries output only on /api/generate with tool calls."""
    calls = (ResolvedToolCall("call_abcd1234", "get_time", "{}", ("{}",)),)
    choice = ResolvedChoice(0, "Hi you", ("Hi", " you"), calls, None, "tool_calls")
    resolved = Resolved(MODEL, (choice,), 3, 5)
    request = ParsedRequest(body={}, model=MODEL, messages=USER, stream=True)
    chat = list(OllamaChat().stream(resolved, request, random.Random(0)))
    assert [(f.paced, f.terminal, f.content) for f in chat] == [
        (True, False, True),
        (True, False, True),
        (True, False, True),
        (False, True, False),
    ]
    assert OllamaChat().paced_events(resolved, request) == 3
    generate = list(OllamaGenerate().stream(resolved, request, random.Random(0)))
    assert [(f.paced, f.terminal, f.content) for f in generate] == [
        (True, False, True),
        (True, False, True),
        (False, True, True),
    ]
    assert json.loads(generate[-1].data)["tool_calls"][0]["function"] == {
        "index": 0,
        "name": "get_time",
        "arguments": {},
    }
    assert all(f.data.endswith(b"\n") and f.data.count(b"\n") == 1 for f in chat + generate)


def test_tool_call_with_arguments_that_are_no_json_object(server: FakeServer) -> None:
    """Scripted arguments that are JSON but no object go out as they are; the client's model
    refuses them (pydantic's `ValidationError` is a `ValueError`)."""
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("f", "[1, 2]")])))
    with ollama.Client(host=server.url) as client, pytest.raises(ValueError, match="arguments"):
        client.chat(model=MODEL, messages=USER)
