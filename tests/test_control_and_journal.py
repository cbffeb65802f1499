"""The control API under /_sparring/, namespaces, and what the journal records."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest

from sparring import Entry, FakeServer, Scenario, Timing, reply
from tests.sse import post

NS = "x-sparring-namespace"
SECRET = "sk-proj-SuperSecretValue0123456789"
T = TypeVar("T")


def body(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def control(server: FakeServer) -> Iterator[httpx.Client]:
    """A plain HTTP client rooted at the server, for the control API and API calls alike."""
    with httpx.Client(base_url=server.url, timeout=5, headers={"Authorization": f"Bearer {SECRET}"}) as client:
        yield client


def answer_text(client: httpx.Client, namespace: str | None = None) -> str:
    headers = {NS: namespace} if namespace else {}
    response = client.post("/v1/chat/completions", json=body(), headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


async def wait_for(server: FakeServer, done: Callable[[list[Entry]], bool], timeout: float = 5.0) -> list[Entry]:
    """Poll the journal every 10 ms until `done(entries)` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        entries = server.journal()
        if done(entries):
            return entries
        if time.monotonic() > deadline:
            pytest.fail(f"journal never got there in {timeout} s: {entries}")
        await asyncio.sleep(0.01)


def settled(server: FakeServer, timeout: float = 5.0) -> list[Entry]:
    """The journal once every entry has an ending (polled every 10 ms, up to `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = server.journal()
        if all_ended(entries):
            return entries
        if time.monotonic() > deadline:
            pytest.fail(f"journal entries never ended in {timeout} s: {entries}")
        time.sleep(0.01)


def all_ended(entries: list[Entry]) -> bool:
    return bool(entries) and all(e.outcome for e in entries)


# -- control API --------------------------------------------------------------------------------


def test_health(control: httpx.Client) -> None:
    """`GET /_sparring/health` says ok."""
    response = control.get("/_sparring/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


YAML_SCENARIO = """\
replies:
  - text: "From a YAML file"
"""
JSON_SCENARIO = json.dumps({"rules": [{"match": {"model": "gpt-4o"}, "replies": [{"text": "From JSON"}]}]})


@pytest.mark.parametrize(("text", "expected"), [(YAML_SCENARIO, "From a YAML file"), (JSON_SCENARIO, "From JSON")])
def test_put_scenario_then_request_gets_it(control: httpx.Client, text: str, expected: str) -> None:
    """A scenario PUT over HTTP (YAML or JSON) answers the next API request."""
    response = control.put("/_sparring/scenario", content=text)
    assert response.status_code == 200, response.text
    assert response.json()["rules"] == 1
    assert answer_text(control) == expected


BAD_SCENARIOS = [
    pytest.param("replies:\n  - txt: hello\n", 2, "text", id="reply-key"),
    pytest.param(
        "rules:\n  - match:\n      modle: gpt-4o\n    replies:\n      - text: hi\n", 3, "model", id="match-key"
    ),
    pytest.param("replies:\n  - text: hi\n    timing:\n      gapp: 0.1\n", 4, "gap", id="timing-key"),
]


@pytest.mark.parametrize(("text", "line", "suggestion"), BAD_SCENARIOS)
def test_bad_scenario_is_400_with_line_and_suggestion(
    control: httpx.Client, text: str, line: int, suggestion: str
) -> None:
    """A mistaken scenario is refused with each problem's line and a "did you mean"."""
    response = control.put("/_sparring/scenario", content=text)
    assert response.status_code == 400
    problems = response.json()["error"]["problems"]
    assert len(problems) >= 1
    assert problems[0]["line"] == line
    assert problems[0]["suggestion"] == suggestion


def test_bad_scenario_keeps_the_old_one(control: httpx.Client) -> None:
    """A refused scenario does not replace the one in place."""
    assert control.put("/_sparring/scenario", content=YAML_SCENARIO).status_code == 200
    assert control.put("/_sparring/scenario", content=BAD_SCENARIOS[0].values[0]).status_code == 400
    assert answer_text(control) == "From a YAML file"


def test_get_scenario_shows_uses_left(control: httpx.Client) -> None:
    """`GET /_sparring/scenario` lists each reply with how many uses it has left."""
    scenario = "replies:\n  - text: twice\n    times: 2\n  - text: always\n    repeat: true\n"
    assert control.put("/_sparring/scenario", content=scenario).status_code == 200
    assert answer_text(control) == "twice"
    replies = control.get("/_sparring/scenario").json()["replies"]
    by_text = {r["reply_text"]: r for r in replies}
    assert set(by_text) == {"text 'twice'", "text 'always'"}
    assert (by_text["text 'twice'"]["left"], by_text["text 'twice'"]["times"]) == (1, 2)
    assert by_text["text 'always'"]["left"] == "unlimited"


def test_reset_clears_scenario_and_journal(server: FakeServer, control: httpx.Client) -> None:
    """`POST /_sparring/reset` forgets the scenario and the journal."""
    server.set_scenario(Scenario.of(reply("before reset", repeat=True)))
    assert answer_text(control) == "before reset"
    assert len(control.get("/_sparring/journal").json()["entries"]) == 1
    assert control.post("/_sparring/reset").status_code == 200
    assert control.get("/_sparring/journal").json()["entries"] == []
    assert control.get("/_sparring/scenario").json()["replies"] == []
    miss = control.post("/v1/chat/completions", json=body())
    assert miss.status_code == 404
    assert "sparring" in miss.json()["error"]["message"]


def test_journal_over_http(server: FakeServer, control: httpx.Client) -> None:
    """`GET /_sparring/journal` returns every request as JSON: method, path, body, status,
    outcome, chunks."""
    server.set_scenario(Scenario.of(reply("one two three")))
    streamed = control.post("/v1/chat/completions", json=body("Hello journal", stream=True))
    assert streamed.status_code == 200
    settled(server)
    [entry] = control.get("/_sparring/journal").json()["entries"]
    assert (entry["method"], entry["path"]) == ("POST", "/v1/chat/completions")
    assert entry["body"] == body("Hello journal", stream=True)
    assert (entry["status"], entry["outcome"], entry["stream"]) == (200, "completed", True)
    assert entry["bytes_sent"] == len(streamed.content)
    assert entry["events_sent"] == streamed.text.count("data: ")
    # No gap scripted: the events went out together, in one write.
    assert [c["nbytes"] for c in entry["chunks"]] == [len(streamed.content)]
    assert SECRET not in json.dumps(entry)


def test_namespaces_isolate_scenarios_and_journals(server: FakeServer, control: httpx.Client) -> None:
    """Two namespaces on one server: each answers from its own scenario and sees only its own
    requests; the default namespace sees neither."""
    for name in ("alpha", "beta"):
        scenario = f"replies:\n  - text: I am {name}\n    repeat: true\n"
        assert control.put("/_sparring/scenario", content=scenario, headers={NS: name}).status_code == 200
    assert answer_text(control, "alpha") == "I am alpha"
    assert answer_text(control, "beta") == "I am beta"
    assert answer_text(control, "alpha") == "I am alpha"
    assert [e.namespace for e in server.journal("alpha")] == ["alpha", "alpha"]
    assert [e.namespace for e in server.journal("beta")] == ["beta"]
    assert server.journal() == []
    over_http = control.get("/_sparring/journal", params={"namespace": "beta"}).json()
    assert len(over_http["entries"]) == 1
    # resetting one namespace leaves the other alone
    assert control.post("/_sparring/reset", headers={NS: "alpha"}).status_code == 200
    assert server.journal("alpha") == []
    assert answer_text(control, "beta") == "I am beta"
    assert control.post("/v1/chat/completions", json=body(), headers={NS: "alpha"}).status_code == 404


# -- journal ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_journal_chunks_match_the_bytes_received(server: FakeServer) -> None:
    """Each streamed chunk is journaled with an increasing timestamp, and the byte counts add up
    to exactly what the client received."""
    server.set_scenario(Scenario.of(reply(chunks=["alpha ", "beta ", "gamma ", "délta"], timing=Timing(gap=0.01))))
    raw = await post(f"{server.base_url}/chat/completions", body(stream=True, stream_options={"include_usage": True}))
    [entry] = await wait_for(server, all_ended)
    assert entry.outcome == "completed"
    assert entry.events_sent == len(raw.events())
    # One write per paced event (the role chunk, four words, the finish chunk); the usage
    # chunk and [DONE] follow the finish chunk at once, in its write.
    assert len(entry.chunks) == len(raw.events()) - 2
    assert sum(c.nbytes for c in entry.chunks) == len(raw.body) == entry.bytes_sent
    times = [c.at for c in entry.chunks]
    assert times == sorted(times)
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    # Lower bound only (a loaded machine adds delay, never removes it): five paced chunks
    # follow the role chunk (four words, then the finish chunk), each 10 ms after the last.
    assert times[-1] - times[0] >= 0.04


def on_last_byte(port: int, payload: dict[str, Any], then: Callable[[], T]) -> T:
    """POST over a bare socket and call `then()` as soon as the last byte of the response is
    in, with the connection still open: no client teardown gives the server extra time."""
    data = json.dumps(payload).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode() + data)
        while True:
            piece = sock.recv(65536)
            assert piece, f"connection closed early: {received!r}"
            received += piece
            headers, found, rest = received.partition(b"\r\n\r\n")
            if not found:
                continue
            if b"transfer-encoding: chunked" in headers.lower():
                if rest.endswith(b"\r\n0\r\n\r\n"):
                    return then()
            elif (length := re.search(rb"(?i)content-length: (\d+)", headers)) and len(rest) >= int(length[1]):
                return then()


def test_journal_is_final_once_the_client_has_the_response(server: FakeServer) -> None:
    """Once a client holds the whole response, its entry already says `completed`, so a check
    that reads the journal right after a call cannot race the server. Repeated, streamed and
    not, because an entry lagging behind the socket shows only now and then."""
    server.set_scenario(Scenario.of(reply("one two three", repeat=True)))
    lagging = []
    for attempt in range(100):
        stream = attempt % 2 == 0
        entry = on_last_byte(server.port, body(stream=stream), lambda: server.journal()[-1])
        if entry.outcome != "completed":
            lagging.append((attempt, "stream" if stream else "whole", entry.outcome, entry.bytes_sent))
    assert lagging == [], f"{len(lagging)} of 100 entries were not final when the client had the response"


@pytest.mark.asyncio
async def test_credentials_are_redacted(server: FakeServer) -> None:
    """The journal never holds a whole API key."""
    server.set_scenario(Scenario.of(reply("hi")))
    await post(f"{server.base_url}/chat/completions", body(), headers={"Authorization": f"Bearer {SECRET}"})
    [entry] = server.journal()
    recorded = entry.headers["authorization"]
    assert SECRET not in recorded
    assert SECRET[-10:] not in recorded
    assert recorded.startswith("Bearer ")


@pytest.mark.asyncio
@pytest.mark.parametrize(("header", "expected"), [("0", 0), ("2", 2), (None, None)])
async def test_retry_count_recorded(server: FakeServer, header: str | None, expected: int | None) -> None:
    """`x-stainless-retry-count` is journaled as the attempt number (None when absent)."""
    server.set_scenario(Scenario.of(reply("hi")))
    headers = {"x-stainless-retry-count": header} if header is not None else {}
    await post(f"{server.base_url}/chat/completions", body(), headers=headers)
    assert server.journal()[0].retry_count == expected


PIECES = 20
GAP = 0.2
FULL_STREAM = (PIECES - 1) * GAP  # 3.8 s from the first content chunk to the last


def _ended(entries: list[Entry]) -> bool:
    return len(entries) == 1 and entries[0].outcome is not None


@pytest.mark.asyncio
async def test_client_disconnect_mid_stream_is_seen_at_once(server: FakeServer) -> None:
    """A client that reads one chunk and hangs up is journaled as `client_disconnected` while
    the server is still waiting to send the rest, not at the next write or at the end."""
    chunks = [f"word{i} " for i in range(PIECES)]
    server.set_scenario(Scenario.of(reply(chunks=chunks, timing=Timing(gap=GAP))))
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{server.base_url}/chat/completions", json=body(stream=True))
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"data: ")
        response.close()
    [entry] = await wait_for(server, _ended)
    assert entry.outcome == "client_disconnected"
    assert entry.ended is not None
    # Generous bound: the full stream takes 3.8 s; a disconnect seen promptly is journaled
    # within a few hundred ms. Half the stream leaves room for a slow CI machine.
    assert entry.ended < FULL_STREAM / 2
    assert 1 <= len(entry.chunks) < PIECES


HEADERS_DELAY = 3.0


@pytest.mark.asyncio
async def test_client_disconnect_during_headers_delay(server: FakeServer) -> None:
    """A client that gives up before the headers arrive is journaled as `client_disconnected`."""
    server.set_scenario(Scenario.of(reply("too late", timing=Timing(headers_delay=HEADERS_DELAY))))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.post(f"{server.base_url}/chat/completions", json=body(stream=True))
    [entry] = await wait_for(server, _ended)
    assert entry.outcome == "client_disconnected"
    assert entry.chunks == []
    assert entry.ended is not None
    # Generous bound: the client leaves after 0.2 s; seen promptly, well before the 3 s delay ends.
    assert entry.ended < HEADERS_DELAY / 2
