"""Errors before the stream: retry headers in both forms, x-should-retry, rate-limit headers,
hand-made errors, and faults, wire shapes and errors written in files equal to Python."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx
import openai
import pytest

from sparring import FakeServer, Fault, RateLimits, Scenario, Timing, Wire, error, parse_scenario, reply

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def answer(url: str) -> httpx.Response:
    with httpx.Client() as client:
        return client.post(f"{url}/chat/completions", json=BODY)


def test_rate_limit_defaults_to_one_second_in_both_headers(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("rate_limit")))
    response = answer(server.base_url)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["retry-after-ms"] == "1000"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "1s"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("scripted", "after", "after_ms"),
    [
        ({"retry_after": 2.5}, "2.5", None),
        ({"retry_after_ms": 300}, None, "300"),
        ({"retry_after": 3, "retry_after_ms": 2500}, "3", "2500"),
        ({"retry_after": "Wed, 21 Oct 2026 07:28:00 GMT"}, "Wed, 21 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_headers_are_sent_as_scripted(
    server: FakeServer, scripted: dict[str, object], after: str | None, after_ms: str | None
) -> None:
    server.set_scenario(Scenario.of(error("rate_limit", **scripted)))  # type: ignore[arg-type]
    headers = answer(server.base_url).headers
    assert headers.get("retry-after") == after
    assert headers.get("retry-after-ms") == after_ms


def test_retry_after_as_an_http_date(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("unavailable", retry_after=30, retry_after_format="date")))
    before = time.time()
    when = parsedate_to_datetime(answer(server.base_url).headers["retry-after"]).timestamp()
    # Rounded up to the whole second, so never earlier than asked and at most a second later.
    assert before + 30 <= when <= time.time() + 31


@pytest.mark.parametrize(("status", "should_retry", "attempts"), [(500, False, 1), (400, True, 3), (409, False, 1)])
def test_x_should_retry_overrides_the_status(
    server: FakeServer, status: int, should_retry: bool, attempts: int
) -> None:
    server.set_scenario(Scenario.of(error(status, should_retry=should_retry, retry_after_ms=5, repeat=True)))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client, pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert len(server.journal()) == attempts


def test_fail_twice_then_answer_with_the_sdk_waiting_retry_after_ms(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("server_error", retry_after_ms=150, times=2), reply("finally")))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        result = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert result.choices[0].message.content == "finally"
    first, second, third = server.journal()
    assert [e.status for e in (first, second, third)] == [500, 500, 200]
    assert [e.retry_count for e in (first, second, third)] == [0, 1, 2]
    # The SDK sleeps retry-after-ms before each retry: a lower bound, with timer slack.
    assert second.arrived - first.arrived >= 0.14
    assert third.arrived - second.arrived >= 0.14


def test_rate_limit_headers_on_a_successful_answer(server: FakeServer) -> None:
    limits = RateLimits(limit_requests=500, remaining_requests=499, reset_requests=0.12, reset_tokens=61.5)
    server.set_scenario(Scenario.of(reply("ok", rate_limits=limits)))
    headers = answer(server.base_url).headers
    assert headers["x-ratelimit-limit-requests"] == "500"
    assert headers["x-ratelimit-remaining-requests"] == "499"
    assert headers["x-ratelimit-reset-requests"] == "120ms"
    assert headers["x-ratelimit-reset-tokens"] == "1m1.5s"


def test_an_error_by_hand(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(error(418, body={"detail": "I'm a teapot"}, headers={"x-custom": "yes"}, should_retry=False))
    )
    response = answer(server.base_url)
    assert response.status_code == 418
    assert response.json() == {"detail": "I'm a teapot"}
    assert response.headers["x-custom"] == "yes"
    assert response.headers["x-should-retry"] == "false"


def test_an_error_from_a_preset_with_overrides(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("rate_limit", status=503, message="busy", code="custom", type="tokens")))
    response = answer(server.base_url)
    assert response.status_code == 503
    assert response.json() == {"error": {"message": "busy", "type": "tokens", "param": None, "code": "custom"}}


FILE = """
replies:
  - error: rate_limit
    retry_after: 2
    retry_after_format: date
    rate_limits: {limit_requests: 10, remaining_requests: 0, reset_requests: 2}
    times: 2
  - text: hello
    timing: {first_chunk: 0.2, gap: 0.05, distribution: lognormal, sigma: 0.3, keepalive: 0.5, seed: 4}
    wire: {write_size: [1, 5, 3], events_per_write: 2, line_ending: crlf}
    fault: {kind: truncate, after_chunk: 3}
  - text: bye
    fault: no_done
  - text: again
    fault: {kind: error_event, after_byte: 400, error: overloaded, message: try later}
"""


def test_files_and_python_say_the_same_things() -> None:
    python = Scenario.of(
        error(
            "rate_limit",
            retry_after=2,
            retry_after_format="date",
            rate_limits=RateLimits(limit_requests=10, remaining_requests=0, reset_requests=2),
            times=2,
        ),
        reply(
            "hello",
            timing=Timing(first_chunk=0.2, gap=0.05, distribution="lognormal", sigma=0.3, keepalive=0.5, seed=4),
            wire=Wire(write_size=(1, 5, 3), events_per_write=2, line_ending="crlf"),
            fault=Fault("truncate", after_chunk=3),
        ),
        reply("bye", fault="no_done"),
        reply("again", fault=Fault("error_event", after_byte=400, error="overloaded", message="try later")),
    )
    assert parse_scenario(FILE).rules == python.rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("replies: [{text: a, fault: stal}]", "(did you mean 'stall'?)"),
        ("replies: [{text: a, fault: {kind: hang, after_chunk: 2}}]", "hang happens before the headers"),
        ("replies: [{text: a, fault: {after_chunk: 2}}]", "a fault needs a `kind`"),
        ("replies: [{text: a, fault: {kind: reset, duration: 2}}]", "only stall and hang take a duration"),
        ("replies: [{text: a, fault: {kind: close, after_chunk: 1, after_byte: 3}}]", "not both"),
        ("replies: [{text: a, fault: {kind: error_event, error: overload}}]", "(did you mean 'overloaded'?)"),
        ("replies: [{text: a, wire: {write_size: 0}}]", "wire.write_size: must be an integer >= 1"),
        ("replies: [{text: a, wire: {line_ending: crlfx}}]", "(did you mean 'crlf'?)"),
        ("replies: [{text: a, wire: {write_sise: 3}}]", "(did you mean 'write_size'?)"),
        ("replies: [{text: a, timing: {distribution: normal}}]", "(did you mean 'lognormal'?)"),
        ("replies: [{error: rate_limit, retry_after_format: date, retry_after: soon}]", "needs retry_after in seconds"),
    ],
)
def test_delivery_mistakes_in_files_are_explained(text: str, expected: str) -> None:
    from sparring import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="s.yaml")
    assert expected in str(caught.value)
    assert "s.yaml:1: replies[0]" in str(caught.value)


# One rule for a bare `error: 429` in every API: it is the rate_limit preset, so what its
# message says (wait 1 s) and what its headers say (retry-after: 1, nothing remaining) agree.
BARE_429 = [
    ("/chat/completions", {}, BODY, "x-ratelimit-remaining-requests"),
    ("/responses", {}, {"model": "gpt-4o", "input": "hi"}, "x-ratelimit-remaining-requests"),
    (
        "/messages",
        {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        "anthropic-ratelimit-requests-remaining",
    ),
]


@pytest.mark.parametrize(("path", "headers", "body", "remaining"), BARE_429, ids=["chat", "responses", "messages"])
def test_a_bare_429_is_the_rate_limit_preset_in_every_api(
    server: FakeServer, path: str, headers: dict[str, str], body: dict[str, object], remaining: str
) -> None:
    server.set_scenario(parse_scenario("replies:\n  - error: 429\n"))
    with httpx.Client() as client:
        response = client.post(f"{server.base_url}{path}", json=body, headers=headers)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers[remaining] == "0"
    if path != "/messages":  # Anthropic's message names no wait; OpenAI's says the headers' 1 s
        assert "try again in 1s" in response.json()["error"]["message"]
        assert response.headers["retry-after-ms"] == "1000"
