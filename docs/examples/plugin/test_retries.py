"""Retry checks: the openai SDK waits what the server asks; a client, or a loop around the SDK, that
retries at once does not; a test that asks again on purpose says where its new call starts."""

from __future__ import annotations

import httpx
import openai
import pytest

from sparring import FakeLLM, error, reply

MESSAGES = [{"role": "user", "content": "Hi"}]


# --8<-- [start:sdk]
def test_the_sdk_waits_out_a_rate_limit(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100, times=2), reply("Thanks for waiting."))
    answer = fake_llm.openai(max_retries=2).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Thanks for waiting."
    report = fake_llm.check_retries(attempts=3)  # raises RetryCheckError if a rule is broken
    assert [attempt.status for attempt in report.attempts] == [429, 429, 200]
    assert all(attempt.gap_before >= 0.05 for attempt in report.attempts[1:])


# --8<-- [end:sdk]


# --8<-- [start:broken]
def impatient_chat(base_url: str, api_key: str) -> str:
    """A hand-written client with a bug: it retries at once, whatever the server said."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}) as http:
        for _ in range(3):
            response = http.post("/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES})
            if response.status_code == 200:
                return str(response.json()["choices"][0]["message"]["content"])
    raise RuntimeError("gave up")


def test_an_impatient_client_is_caught(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100, times=2), reply("Thanks for waiting."))
    assert impatient_chat(fake_llm.base_url, fake_llm.api_key) == "Thanks for waiting."
    report = fake_llm.check_retries(attempts=3, raise_on_violation=False)
    assert not report.ok
    assert "but the server asked for 0.100s (retry-after-ms: 100)" in report.violations[0]
    print(report)  # what RetryCheckError would say


# --8<-- [end:broken]


# --8<-- [start:loop]
def ask_until_answered(client: openai.OpenAI) -> str:
    """A retry loop around the SDK, with a bug: it retries a rate limit at once."""
    for _ in range(3):
        try:
            answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            return str(answer.choices[0].message.content)
        except openai.RateLimitError:
            continue  # BUG: retry-after unread
    raise RuntimeError("gave up")


def test_a_loop_around_the_sdk_is_judged_like_the_sdk(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100, times=2), reply("Thanks for waiting."))
    assert ask_until_answered(fake_llm.openai(max_retries=0)) == "Thanks for waiting."
    # Every attempt sent x-stainless-retry-count: 0; each repeats the failed request before it.
    report = fake_llm.check_retries(raise_on_violation=False)
    assert [len(call) for call in report.calls] == [3]
    assert "but the server asked for 0.100s (retry-after-ms: 100)" in report.violations[0]


# --8<-- [end:loop]


# --8<-- [start:call_starts]
def test_asking_again_after_a_failure(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100), reply("Hello again."))
    client = fake_llm.openai(max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    second = len(fake_llm.journal)  # the index the next request will have
    answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello again."
    report = fake_llm.check_retries(attempts=1, call_starts=[second])
    assert [[attempt.status for attempt in call] for call in report.calls] == [[429], [200]]


# --8<-- [end:call_starts]
