"""The recording proxy against upstreams on 127.0.0.1 that send captured traffic byte for byte,
in chosen reads `GAP` (50 ms) apart: the client gets exactly what the upstream sent, read for
read, and the recording holds the same events with the same read boundaries.

Clients: a raw httpx reader (it sees the reads), the openai SDK (chat, Responses) and the
anthropic SDK (Messages), streamed and whole.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Sequence

import anthropic
import httpx
import openai
import pytest

from sparring import FakeServer, Recorder, Rule, Scenario, load_scenario, reply, rule
from sparring.scenario.recording import Recorded, RecordedEvent
from tests.recorder_upstreams import (
    ANTHROPIC_HEADERS,
    CHAT_EVENTS,
    CHAT_TEXT,
    CHAT_WHOLE,
    JSON_HEADERS,
    MESSAGES_EVENTS,
    MESSAGES_TEXT,
    MESSAGES_WHOLE,
    RESPONSES_EVENTS,
    RESPONSES_TEXT,
    RESPONSES_WHOLE,
    SSE_HEADERS,
    Script,
    Upstream,
    cut,
    kept_reads,
)

CHAT_BODY = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Say hello"}]}


def reads_of(events: Sequence[RecordedEvent]) -> list[bytes]:
    """The reads a recording says the bytes came in: bytes with the same arrival time came
    in one read."""
    pieces: list[tuple[bytes, float]] = []
    for event in events:
        frame = event.frame
        edges = [(0, event.at), *event.torn]
        for (start, at), (end, _) in zip(edges, [*edges[1:], (len(frame), 0.0)], strict=True):
            pieces.append((frame[start:end], at))
    reads: list[bytes] = []
    last: float | None = None
    for data, at in pieces:
        if reads and at == last:
            reads[-1] += data
        else:
            reads.append(data)
        last = at
    return reads


def only_recording(recorder: Recorder) -> Recorded:
    (held,) = recorder.rules
    (made,) = held.replies
    assert isinstance(made, Recorded)
    return made


def proxy(upstream: Upstream, **options: object) -> tuple[Recorder, FakeServer]:
    recorder = Recorder(upstream.url, **options)  # type: ignore[arg-type]
    return recorder, FakeServer(passthrough=recorder.passthrough(forward_all=True))


def test_a_raw_reader_gets_the_upstreams_reads_and_the_recording_keeps_them() -> None:
    # Two events in one read, an event torn over three reads, a UTF-8 character split.
    body = b"".join(CHAT_EVENTS)
    split_char = body.index("é".encode()) + 1
    reads = cut(CHAT_EVENTS, len(CHAT_EVENTS[0]) + len(CHAT_EVENTS[1]), 700, split_char)
    with Upstream(Script(reads=reads, headers=SSE_HEADERS)) as upstream:
        recorder, server = proxy(upstream)
        with server:
            got: list[bytes] = []
            with httpx.stream(
                "POST",
                f"{server.base_url}/chat/completions",
                json=CHAT_BODY,
                headers={"x-sparring-namespace": "default"},
            ) as response:
                assert response.status_code == 200
                assert response.headers["x-request-id"] == SSE_HEADERS["x-request-id"]
                got.extend(response.iter_raw())
            (entry,) = server.journal()
        recorder.close()
    assert kept_reads(got, reads)  # live and unchanged, read for read
    made = only_recording(recorder)
    assert b"".join(e.frame for e in made.events) == body
    assert kept_reads(reads_of(made.events), reads)
    assert [e.data for e in made.events][-1] == "[DONE]"
    assert all(later.at >= earlier.at for earlier, later in zip(made.events, made.events[1:], strict=False))
    assert made.headers["x-request-id"] == SSE_HEADERS["x-request-id"]
    assert "set-cookie" not in made.headers
    assert "date" not in made.headers
    # The journal: the request forwarded, each read one write, the events counted.
    assert entry.outcome == "completed"
    assert entry.answered_by == f"forwarded to the upstream {upstream.url}"
    assert [c.nbytes for c in entry.chunks] == [len(r) for r in reads]
    assert entry.events_sent == len(CHAT_EVENTS)
    # The upstream got the request as sent, without sparring's own headers.
    (seen,) = upstream.seen
    assert seen.path == "/v1/chat/completions"
    assert httpx.Response(200, content=seen.body).json() == CHAT_BODY
    assert "x-sparring-namespace" not in {k.lower() for k in seen.headers}
    (held,) = recorder.rules
    assert (held.match.endpoint, held.match.model, held.match.message) == ("chat", "gpt-4o-mini", "Say hello")


@pytest.mark.parametrize("gap", [0.0, 0.05])
def test_the_openai_sdk_streams_chat_through_the_proxy(gap: float) -> None:
    reads = cut(CHAT_EVENTS, 150, 500, 900)
    with Upstream(Script(reads=reads, headers=SSE_HEADERS, gap=gap)) as upstream:
        recorder, server = proxy(upstream)
        with server, openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            journal = server.journal()
        recorder.close()
    assert text == CHAT_TEXT
    # One request, one exchange recorded (the race that once recorded two is the next test's).
    assert [(e.method, e.path, e.status) for e in journal] == [("POST", "/v1/chat/completions", 200)]
    made = only_recording(recorder)
    assert b"".join(e.frame for e in made.events) == b"".join(CHAT_EVENTS)
    if gap:
        assert kept_reads(reads_of(made.events), reads)


def test_a_client_that_leaves_as_the_upstream_ends_is_recorded_once() -> None:
    """The openai SDK closes its connection right after `[DONE]`. When the proxy's loop is
    late (a busy machine), the upstream's end and the client's FIN wait for it together: the
    proxy records the exchange at the upstream's end, then fails to end its own answer on the
    closed connection. Recorded once; the drain meant for a client that left before the end
    recorded it a second time (seen once in a full suite)."""
    body = json.dumps(CHAT_BODY).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    # b"": the upstream ends its body 0.1 s after the read that holds [DONE].
    with Upstream(Script(reads=[b"".join(CHAT_EVENTS), b""], headers=SSE_HEADERS, gap=0.1)) as upstream:
        recorder, server = proxy(upstream)
        with server, socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(head + body)
            seen = b""
            while b"[DONE]" not in seen:
                read = client.recv(65536)
                assert read, seen
                seen += read
            # The proxy's loop busy for 0.6 s, as on a loaded machine: the upstream's end comes
            # in first, the client's FIN second. (Should this thread be later than the loop, the
            # race is missed and the test passes either way: it cannot fail a correct proxy.)
            server._loop.call_soon_threadsafe(time.sleep, 0.6)  # type: ignore[union-attr]
            time.sleep(0.3)
            client.shutdown(socket.SHUT_RDWR)
            server.wait_until(lambda j: bool(j) and j[0].outcome is not None, timeout=10)
        recorder.close()
    made = only_recording(recorder)
    assert b"".join(e.frame for e in made.events) == b"".join(CHAT_EVENTS)


def test_the_openai_sdk_streams_responses_through_the_proxy() -> None:
    reads = cut(RESPONSES_EVENTS, 200, 1000, 1500)
    with Upstream(Script(reads=reads, headers=SSE_HEADERS)) as upstream:
        recorder, server = proxy(upstream)
        with (
            server,
            openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
            client.responses.stream(model="gpt-4.1-nano", input="Greet me") as stream,
        ):
            final = stream.get_final_response()
        recorder.close()
    assert final.output_text == RESPONSES_TEXT
    made = only_recording(recorder)
    assert made.api == "responses"
    assert next(e.event for e in made.events) == "response.created"
    assert b"".join(e.frame for e in made.events) == b"".join(RESPONSES_EVENTS)
    assert kept_reads(reads_of(made.events), reads)
    assert recorder.rules[0].match.message == "Greet me"


def test_the_anthropic_sdk_streams_messages_through_the_proxy() -> None:
    reads = cut(MESSAGES_EVENTS, 120, 400, 401, 800)
    with Upstream(Script(reads=reads, headers=ANTHROPIC_HEADERS)) as upstream:
        recorder, server = proxy(upstream)
        with (
            server,
            anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as client,
            client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "Greet them"}]
            ) as stream,
        ):
            message = stream.get_final_message()
        recorder.close()
    assert message.content[0].type == "text"
    assert message.content[0].text == MESSAGES_TEXT
    made = only_recording(recorder)
    assert made.api == "messages"
    assert made.headers["request-id"] == "req_011CAbc"
    assert b"".join(e.frame for e in made.events) == b"".join(MESSAGES_EVENTS)
    assert kept_reads(reads_of(made.events), reads)
    assert upstream.seen[0].path == "/v1/messages"


def test_whole_answers_are_recorded_as_a_body_with_their_reads() -> None:
    chat_reads = [CHAT_WHOLE[:100], CHAT_WHOLE[100:]]
    scripts = (
        Script(reads=chat_reads, headers=JSON_HEADERS, chunked=False),
        Script(reads=[MESSAGES_WHOLE], headers={"content-type": "application/json"}),
        Script(reads=[RESPONSES_WHOLE[:50], RESPONSES_WHOLE[50:]], headers={"content-type": "application/json"}),
    )
    with Upstream(*scripts) as upstream:
        recorder, server = proxy(upstream)
        with server, openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            completion = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Whole please"}]
            )
            with anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as claude:
                message = claude.messages.create(
                    model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "Whole please"}]
                )
                response = client.responses.create(model="gpt-4.1-nano", input="Whole please")
        recorder.close()
    assert completion.choices[0].message.content == "Whole answer."
    assert message.content[0].type == "text"
    assert message.content[0].text == "Whole answer."
    assert response.output_text == RESPONSES_TEXT
    chat, messages, responses = (r.replies[0] for r in recorder.rules)
    assert isinstance(responses, Recorded)
    assert responses.body is not None
    assert kept_reads(reads_of([responses.body]), [RESPONSES_WHOLE[:50], RESPONSES_WHOLE[50:]])
    assert responses.api == "responses"
    assert isinstance(chat, Recorded)
    assert isinstance(messages, Recorded)
    assert chat.body is not None
    assert chat.body.frame == CHAT_WHOLE
    assert kept_reads(reads_of([chat.body]), chat_reads)
    assert messages.body is not None
    assert messages.body.frame == MESSAGES_WHOLE
    assert (chat.api, messages.api) == ("chat", "messages")


def test_the_recording_is_an_ordinary_scenario_file(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path)) / "recorded.yaml"
    reads = cut(CHAT_EVENTS, 150, 500)
    with Upstream(Script(reads=reads, headers=SSE_HEADERS)) as upstream:
        recorder, server = proxy(upstream)
        with server:
            for _ in range(2):
                with httpx.stream("POST", f"{server.base_url}/chat/completions", json=CHAT_BODY) as response:
                    response.read()
        recorder.save(out)
        recorder.close()
    loaded = load_scenario(str(out))
    assert loaded.rules == recorder.scenario().rules
    (held,) = loaded.rules  # the same request twice: one rule, its two answers in order
    assert len(held.replies) == 2
    assert all(isinstance(r, Recorded) and kept_reads(reads_of(r.events), reads) for r in held.replies)
    assert not list(out.parent.glob(".recorded.yaml.*"))  # the atomic replace left nothing behind


def test_only_misses_go_upstream_without_forward_all() -> None:
    with Upstream(Script(reads=CHAT_EVENTS, headers=SSE_HEADERS, gap=0)) as upstream:
        recorder = Recorder(upstream.url)
        scripted = Scenario.of(rule(reply("scripted"), message="scripted please"))
        with (
            FakeServer(scripted, passthrough=recorder.passthrough(forward_all=False)) as server,
            openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
        ):
            answers = []
            for prompt in ("scripted please", "anything else"):
                stream = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
                )
                answers.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
            journal = server.journal()
        recorder.close()
    assert answers == ["scripted", CHAT_TEXT]
    assert len(upstream.seen) == 1
    assert journal[1].answered_by == f"forwarded to the upstream {upstream.url}"
    assert [r.match.message for r in recorder.rules] == ["anything else"]


def test_a_namespace_can_hold_its_own_passthrough(server: FakeServer) -> None:
    with Upstream(Script(reads=CHAT_EVENTS, headers=SSE_HEADERS, gap=0)) as upstream:
        recorder = Recorder(upstream.url, match_on=["endpoint", "body"])
        server.store.space("team").passthrough = recorder.passthrough(forward_all=True)
        with httpx.stream("POST", f"{server.url}/ns/team/v1/chat/completions", json=CHAT_BODY) as response:
            assert response.read() == b"".join(CHAT_EVENTS)
        with httpx.stream("POST", f"{server.base_url}/chat/completions", json=CHAT_BODY) as response:
            assert response.status_code == 404  # the default namespace has none: sparring's miss
        recorder.close()
    (held,) = recorder.rules
    assert dict(held.match.body) == CHAT_BODY
    assert held.match.message is None


def test_the_upstream_url_may_be_a_base_url_with_v1() -> None:
    recorder = Recorder("https://api.example.com/v1/")
    assert recorder.url_for("/v1/chat/completions", "") == "https://api.example.com/v1/chat/completions"
    assert recorder.url_for("/v1/models", "a=1") == "https://api.example.com/v1/models?a=1"
    assert Recorder("http://h:1/openai").url_for("/v1/x", "") == "http://h:1/openai/v1/x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"upstream": "api.openai.com"}, "is not an http(s) URL"),
        ({"upstream": "http://h", "match_on": ["modle"]}, "did you mean 'model'"),
        ({"upstream": "http://h", "redact": ["bad name"]}, "neither a header name nor a body path"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    upstream = str(kwargs.pop("upstream"))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Recorder(upstream, **kwargs)  # type: ignore[arg-type]


def test_a_rule_is_reported_as_recorded() -> None:
    seen: list[Rule] = []
    with Upstream(Script(reads=CHAT_EVENTS, headers=SSE_HEADERS, gap=0)) as upstream:
        recorder = Recorder(upstream.url, on_record=seen.append)
        with (
            FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server,
            httpx.stream("POST", f"{server.base_url}/chat/completions", json=CHAT_BODY) as response,
        ):
            response.read()
        recorder.close()
    assert seen == recorder.rules
