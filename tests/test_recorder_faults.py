"""Errors and broken streams through the recording proxy: the client gets the same failure as
it would from the upstream directly, and the recording says what happened (an `error:` reply
with the exact body and the headers that matter; what arrived of a cut stream, its unfinished
tail and a `reset`/`close` fault at the byte where it broke).

Upstreams: another sparring server, scripted with a 429 and with mid-stream faults, and the
tiny upstream of `recorder_upstreams.py` dying mid-event or before answering.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from sparring import ErrorReply, FakeServer, Fault, Recorder, Scenario, Timing, error, reply
from sparring.scenario.model import Answer
from sparring.scenario.recording import Recorded
from tests.recorder_upstreams import CHAT_EVENTS, SSE_HEADERS, Script, Upstream, cut, kept_reads
from tests.test_recorder_proxy import CHAT_BODY, reads_of


def read_all(url: str) -> tuple[int | None, bytes, type[Exception] | None]:
    """Status, body bytes received, and the error that ended the read (None if none)."""
    got = b""
    status = None
    try:
        with httpx.stream("POST", url, json=CHAT_BODY, headers={"Authorization": "Bearer sk-test"}) as response:
            status = response.status_code
            for data in response.iter_raw():
                got += data
    except httpx.TransportError as exc:
        return status, got, type(exc)
    return status, got, None


def recording_through(upstream_url: str) -> Iterator[tuple[Recorder, FakeServer]]:
    recorder = Recorder(upstream_url)
    with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
        yield recorder, server


@pytest.fixture
def sparring_upstream() -> Iterator[FakeServer]:
    with FakeServer(seed=7) as upstream:
        yield upstream


def test_a_429_with_retry_after_is_recorded_as_an_error_reply_that_replays(sparring_upstream: FakeServer) -> None:
    sparring_upstream.set_scenario(
        Scenario.of(error("rate_limit", retry_after=2, retry_after_ms=1500), reply("after the wait"))
    )
    direct_url = f"{sparring_upstream.base_url}/chat/completions"
    recorder = Recorder(sparring_upstream.url)
    with (
        FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}])
        text = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}]
        ).choices[0]
    sent = sparring_upstream.journal()[0]
    assert sent.path == "/v1/chat/completions"
    assert caught.value.response.headers["retry-after"] == "2"
    assert text.message.content == "after the wait"
    (held,) = recorder.rules  # the 429 and the retry's answer: one rule, used in order
    limited, answered = held.replies
    assert isinstance(limited, ErrorReply)
    assert isinstance(answered, Recorded)
    assert limited.status == 429
    # The exact body: compact JSON, which sparring writes back byte for byte, kept as a mapping.
    assert limited.body == json.loads(caught.value.response.text)
    assert limited.headers["retry-after"] == "2"
    assert limited.headers["retry-after-ms"] == "1500"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.headers["x-request-id"] == caught.value.response.headers["x-request-id"]
    assert answered.body is not None
    # The error replays through sparring's own error path as the upstream sent it.
    with (
        FakeServer(recorder.scenario()) as replay,
        openai.OpenAI(base_url=replay.base_url, api_key="sk-test", max_retries=0) as client,
        pytest.raises(openai.RateLimitError) as again,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}])
    assert again.value.response.text == caught.value.response.text  # byte for byte
    for name in ("retry-after", "retry-after-ms", "x-request-id"):
        assert again.value.response.headers[name] == caught.value.response.headers[name]
    assert direct_url  # the same upstream a client could have asked itself


@pytest.mark.parametrize(
    ("fault", "kind", "error_type"),
    [
        (Fault("close", after_chunk=2), "close", httpx.RemoteProtocolError),
        (Fault("truncate", after_chunk=2), "close", httpx.RemoteProtocolError),
        (Fault("reset", after_chunk=3), "reset", httpx.ReadError),
    ],
    ids=["close", "truncate", "reset"],
)
def test_a_stream_the_upstream_cuts_is_cut_for_the_client_and_recorded_with_its_fault(
    sparring_upstream: FakeServer, fault: Fault, kind: str, error_type: type[Exception]
) -> None:
    sparring_upstream.set_scenario(Scenario.of(reply("one two three four five six", fault=fault, repeat=True)))
    status, direct, direct_error = read_all(f"{sparring_upstream.base_url}/chat/completions")
    assert (status, direct_error) == (200, error_type)
    recorder = Recorder(sparring_upstream.url)
    with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
        status, proxied, proxied_error = read_all(f"{server.base_url}/chat/completions")
        (entry,) = server.journal()
    assert (status, proxied_error) == (200, error_type)  # the same failure
    assert len(proxied) == sparring_upstream.journal()[-1].bytes_sent  # all it sent, nothing more
    assert proxied.count(b"\n\n") == direct.count(b"\n\n")  # as many events as a direct reader gets
    assert entry.outcome == "fault"
    assert entry.detail is not None
    assert f"after {len(proxied)} bytes" in entry.detail
    (held,) = recorder.rules
    (made,) = held.replies
    assert isinstance(made, Recorded)
    assert made.fault == Fault(kind, after_byte=len(proxied))
    assert b"".join(e.frame for e in made.events) == proxied
    if fault.kind == "truncate":  # half an event arrived: the recording's last event is that tail
        assert made.events[-1].raw is not None
        assert not made.events[-1].raw.endswith("\n\n")


@pytest.mark.parametrize("end", ["close", "reset"])
def test_an_upstream_that_dies_mid_event(end: str) -> None:
    reads = cut(CHAT_EVENTS, 150, 500)[:2]  # the second read ends inside the second event
    expected = httpx.RemoteProtocolError if end == "close" else httpx.ReadError
    with Upstream(Script(reads=reads, headers=SSE_HEADERS, end=end)) as upstream:  # type: ignore[arg-type]
        _, direct, direct_error = read_all(f"{upstream.url}/v1/chat/completions")
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
            status, proxied, proxied_error = read_all(f"{server.base_url}/chat/completions")
    assert (direct, direct_error) == (b"".join(reads), expected)
    assert (status, proxied, proxied_error) == (200, direct, expected)
    (held,) = recorder.rules
    made = held.replies[0]
    assert isinstance(made, Recorded)
    assert made.fault == Fault(end, after_byte=len(direct))
    assert kept_reads(reads_of(made.events), reads)
    tail = made.events[-1]
    assert tail.raw is not None
    assert tail.frame == b"".join(reads)[len(CHAT_EVENTS[0]) :]  # the unfinished second event


@pytest.mark.parametrize(("end", "recorded_fault"), [("reset_before_headers", "reset")])
def test_an_upstream_that_resets_before_answering(end: str, recorded_fault: str) -> None:
    with Upstream(Script(end=end)) as upstream:  # type: ignore[arg-type]
        _, _, direct_error = read_all(f"{upstream.url}/v1/chat/completions")
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
            _, _, proxied_error = read_all(f"{server.base_url}/chat/completions")
            (entry,) = server.journal()
    assert direct_error is not None
    assert proxied_error is not None
    assert issubclass(proxied_error, (httpx.ReadError, httpx.RemoteProtocolError))
    assert entry.outcome == "fault"
    (held,) = recorder.rules
    (made,) = held.replies
    assert isinstance(made, Answer)
    assert made.fault == Fault(recorded_fault)


def test_an_error_body_sparring_would_not_write_the_same_is_kept_as_text() -> None:
    pretty = b'{\n  "error": {\n    "message": "Overloaded",\n    "type": "overloaded_error"\n  }\n}\n'
    script = Script(status=529, reads=[pretty], headers={"content-type": "application/json", "x-should-retry": "true"})
    with Upstream(script) as upstream:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
            status, got, _ = read_all(f"{server.base_url}/chat/completions")
        with FakeServer(recorder.scenario()) as replay:
            again = httpx.post(f"{replay.base_url}/chat/completions", json=CHAT_BODY)
    (held,) = recorder.rules
    (made,) = held.replies
    assert isinstance(made, ErrorReply)
    assert (status, got) == (529, pretty)
    assert made.body == pretty.decode()
    assert made.headers == {"content-type": "application/json", "x-should-retry": "true"}
    assert (again.status_code, again.content) == (529, pretty)
    assert again.headers["x-should-retry"] == "true"


def test_an_upstream_that_is_down_gets_a_502_and_no_recording() -> None:
    with Upstream(Script()) as upstream:
        url = upstream.url  # closed at the end of the block: nothing listens there any more
    recorder = Recorder(url)
    with (
        FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
        (entry,) = server.journal()
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "sparring record: cannot reach the upstream" in caught.value.message
    assert entry.outcome == "rejected"
    assert recorder.rules == []


def test_a_client_that_leaves_early_does_not_cut_the_recording(sparring_upstream: FakeServer) -> None:
    sparring_upstream.set_scenario(Scenario.of(reply("one two three four five", timing=Timing(gap=0.05))))
    recorder = Recorder(sparring_upstream.url)
    with (
        FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Count"}], stream=True
        )
        next(iter(stream))
        stream.close()  # after the first chunk
        (entry,) = server.wait_until(lambda j: bool(j) and j[0].outcome is not None)
    assert entry.outcome == "client_disconnected"
    (held,) = recorder.rules  # read to the end all the same, while the server closed
    (made,) = held.replies
    assert isinstance(made, Recorded)
    assert made.fault is None
    assert made.events[-1].data == "[DONE]"


def test_an_answer_beyond_a_scenarios_limits_is_passed_on_but_not_recorded(caplog: pytest.LogCaptureFixture) -> None:
    body = b"data: {}\n\n" * 20_001 + b"data: [DONE]\n\n"  # more events than a reply may have
    with Upstream(Script(reads=[body], headers=SSE_HEADERS)) as upstream:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
            status, got, failed = read_all(f"{server.base_url}/chat/completions")
            (entry,) = server.journal()
    assert (status, got, failed) == (200, body, None)
    assert recorder.rules == []
    assert entry.outcome == "completed"
    assert entry.detail is not None
    assert entry.detail.startswith("passed on, not recorded: ")
    assert "the limit is 20,000" in caplog.text
