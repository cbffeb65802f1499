"""Retry headers on errors, rate-limit headers on answers, and what the openai SDK does with them."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import openai
from openai import OpenAI

from sparring import FakeServer, RateLimits, Scenario, error, reply

QUESTION = [{"role": "user", "content": "Hello?"}]


def refused(scenario: Scenario, max_retries: int = 0) -> tuple[openai.APIStatusError, int]:
    """The error the SDK raised, and how many requests it made."""
    with (
        FakeServer(scenario) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=max_retries) as client,
    ):
        try:
            client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        except openai.APIStatusError as exc:
            return exc, len(server.journal())
    raise AssertionError("expected an error")


def main() -> None:
    # The rate_limit preset with no retry keys: one second, in both headers.
    failure, _ = refused(Scenario.of(error("rate_limit")))
    headers = failure.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("1", "1000")
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "1s"

    # retry-after as an HTTP date, 30 s from now, rounded up to the second.
    before = time.time()
    failure, _ = refused(Scenario.of(error("unavailable", retry_after=30, retry_after_format="date")))
    when = parsedate_to_datetime(failure.response.headers["retry-after"]).timestamp()
    assert before + 30 <= when <= time.time() + 31

    # A wait over 120 s: the openai SDK does not retry at all, whatever max_retries says.
    failure, attempts = refused(Scenario.of(error("rate_limit", retry_after=200, repeat=True)), max_retries=2)
    assert isinstance(failure, openai.RateLimitError)
    assert attempts == 1

    # x-should-retry: true makes the SDK retry a 400, which it never retries on its own.
    scenario = Scenario.of(error("bad_request", should_retry=True, retry_after_ms=10), reply("Hello!"))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        answer = client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        assert [entry.status for entry in server.journal()] == [400, 200]
    assert answer.choices[0].message.content == "Hello!"

    # Rate-limit headers on an answer; resets in seconds become the API's durations.
    limits = RateLimits(remaining_requests=0, reset_requests=61.5, remaining_tokens=1200, reset_tokens=0.25)
    with (
        FakeServer(Scenario.of(reply("Hello!", rate_limits=limits))) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test") as client,
    ):
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=QUESTION)
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    assert raw.headers["x-ratelimit-reset-requests"] == "1m1.5s"
    assert raw.headers["x-ratelimit-remaining-tokens"] == "1200"
    assert raw.headers["x-ratelimit-reset-tokens"] == "250ms"
    assert raw.headers["x-ratelimit-limit-requests"] == "10000"  # not set: the default stays
    assert raw.parse().choices[0].message.content == "Hello!"


if __name__ == "__main__":
    main()
