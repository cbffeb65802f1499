"""Retry checks: the openai SDK waits what the server asks; a client that retries at once does not."""

from __future__ import annotations

import httpx

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
