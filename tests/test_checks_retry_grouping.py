"""Retries are grouped into calls by what happened, not only by `x-stainless-retry-count`.

A retry loop written around the openai SDK with `max_retries=0` sends a retry count of 0 on
every attempt, and one over raw httpx sends none: each deliberately broken loop must still
fail the check, with the message that names its bug, and a correct one must pass. Separate
calls must stay apart.
"""

from __future__ import annotations

import re

import openai
import pytest

from sparring import Entry, FakeLLM, Fault, error, reply
from sparring.checks.retries import RetryCheckError, attempts, calls, check_retries
from tests import retry_loops

TEXT = "one two three four five six"
PROMPT = "hi"


def failure(fake_llm: FakeLLM, **expected: object) -> str:
    with pytest.raises(RetryCheckError) as caught:
        fake_llm.check_retries(**expected)
    return str(caught.value)


# -- broken loops fail -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_loop_that_retries_at_once_fails_honours_retry_after(fake_llm: FakeLLM) -> None:
    """The case that passed as "3 attempts in 3 calls": each attempt sent retry count 0."""
    fake_llm.add(error("rate_limit", retry_after_ms=500, times=2), reply(TEXT))
    async with fake_llm.async_openai(max_retries=0) as client:
        assert await retry_loops.no_wait(client, PROMPT) == TEXT
    assert [e.retry_count for e in fake_llm.journal] == [0, 0, 0]
    message = failure(fake_llm, honours_retry_after=True)
    assert message.startswith("retry check failed: 3 attempts in 1 call, 2 problems:")
    assert re.search(r"attempt #2 retried #1 \(429\) after 0\.\d{3}s, but the server asked for 0\.500s", message)
    assert re.search(r"attempt #3 retried #2 \(429\) after 0\.\d{3}s, but the server asked for 0\.500s", message)
    assert "(retry-after-ms: 500)" in message
    assert "#2 429 (retry count 0) · repeats #1 ·" in message  # why #2 counts as a retry
    assert "call_starts=[1]" in message  # and how to say otherwise


@pytest.mark.asyncio
async def test_a_loop_that_waits_too_little_fails(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=500, times=2), reply(TEXT))
    async with fake_llm.async_openai(max_retries=0) as client:
        assert await retry_loops.fixed_wait(client, PROMPT) == TEXT
    message = failure(fake_llm, attempts=3)
    # A wait of 0.1 s plus scheduling latency: well short of the 0.5 s asked on any machine.
    assert re.search(r"attempt #2 retried #1 \(429\) after 0\.[1-4]\d\ds, but the server asked for 0\.500s", message)
    assert "3 attempts in 1 call" in message


@pytest.mark.asyncio
async def test_a_loop_that_restarts_after_output_fails(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(TEXT, fault=Fault("reset", after_chunk=3)), reply(TEXT))
    shown: list[str] = []
    async with fake_llm.async_openai(max_retries=0) as client:
        await retry_loops.restarts_after_output(client, PROMPT, shown)
    assert "".join(shown) != TEXT
    assert "".join(shown).endswith(TEXT)  # the user saw the first words twice
    message = failure(fake_llm)
    assert "retried after partial output: #1 (200 cut by reset after chunk 3) had already sent" in message
    assert "when #2 started the call again" in message


@pytest.mark.asyncio
async def test_a_loop_that_retries_a_bad_request_fails(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("bad_request", times=2), reply(TEXT))
    async with fake_llm.async_openai(max_retries=0) as client:
        assert await retry_loops.retries_any_status(client, PROMPT) == TEXT
    message = failure(fake_llm)
    assert re.search(r"attempt #2 retried #1 \(400\) after 0\.\d{3}s, but 400 is not retryable", message)
    assert re.search(r"attempt #3 retried #2 \(400\) after 0\.\d{3}s, but 400 is not retryable", message)


def test_a_raw_httpx_loop_that_retries_at_once_fails(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=300, times=2), reply(TEXT))
    assert retry_loops.httpx_no_wait(fake_llm.base_url, fake_llm.api_key, PROMPT) == TEXT
    assert [e.retry_count for e in fake_llm.journal] == [None, None, None]
    message = failure(fake_llm)
    assert "3 attempts in 1 call, 2 problems" in message
    assert "but the server asked for 0.300s (retry-after-ms: 300)" in message


# -- correct loops and the SDK pass ------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("header", [{"retry_after_ms": 200}, {"retry_after": 0.3}], ids=["ms", "seconds"])
async def test_a_loop_that_honours_retry_after_passes(fake_llm: FakeLLM, header: dict[str, float]) -> None:
    fake_llm.add(error("rate_limit", times=2, **header), reply(TEXT))
    async with fake_llm.async_openai(max_retries=0) as client:
        assert await retry_loops.honours_retry_after(client, PROMPT) == TEXT
    report = fake_llm.check_retries(attempts=3, honours_retry_after=True)
    assert [[a.status for a in call] for call in report.calls] == [[429, 429, 200]]


@pytest.mark.asyncio
async def test_a_loop_that_retries_a_reset_before_output_only_passes(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(TEXT, fault="reset"), reply(TEXT, fault=Fault("reset", after_chunk=3)))
    async with fake_llm.async_openai(max_retries=0) as client:
        with pytest.raises(retry_loops.ANY_FAILURE):
            await retry_loops.honours_retry_after(client, PROMPT)
    report = fake_llm.check_retries(attempts=2)  # the reset before output retried, the cut stream not
    assert [a.answer for a in report.attempts] == [
        "no response (reset before the headers)",
        "200 cut by reset after chunk 3",
    ]


@pytest.mark.asyncio
async def test_the_sdk_retrying_on_its_own_passes(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100, times=2), reply(TEXT))
    async with fake_llm.async_openai(max_retries=2) as client:
        assert await retry_loops.ask(client, PROMPT) == TEXT
    report = fake_llm.check_retries(attempts=3)
    assert [a.retry_count for a in report.attempts] == [0, 1, 2]


# -- separate calls stay apart -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_new_prompt_after_the_sdk_gave_up_is_a_new_call(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=50, times=2), reply(TEXT))
    async with fake_llm.async_openai(max_retries=1) as client:
        with pytest.raises(openai.RateLimitError):
            await retry_loops.ask(client, PROMPT)
        assert await retry_loops.ask(client, "and now?") == TEXT  # at once: no wait owed
    report = fake_llm.check_retries(max_attempts=2)
    assert [[a.status for a in call] for call in report.calls] == [[429, 429], [200]]


@pytest.mark.asyncio
async def test_the_same_prompt_again_after_a_failure_is_a_retry_unless_told_otherwise(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=300), reply(TEXT))
    async with fake_llm.async_openai(max_retries=0) as client:
        with pytest.raises(openai.RateLimitError):
            await retry_loops.ask(client, PROMPT)
        second = len(fake_llm.journal)  # where the test's second call starts
        assert await retry_loops.ask(client, PROMPT) == TEXT
    # From the journal alone this is a loop retrying at once: the check says so, and how to split.
    message = failure(fake_llm)
    assert "but the server asked for 0.300s" in message
    assert f"pass call_starts=[{second}]" in message
    report = fake_llm.check_retries(call_starts=[second])
    assert [[a.status for a in call] for call in report.calls] == [[429], [200]]
    assert [len(call) for call in calls(fake_llm.journal, call_starts=[second])] == [1, 1]
    assert [a.call for a in attempts(fake_llm.journal, call_starts=[second])] == [0, 1]


def entry(index: int, *, status: int = 200, headers: dict[str, str] | None = None, body: object = None) -> Entry:
    """A journal entry written by hand: `index` seconds in, answered at once."""
    made = Entry(index, "t", "POST", "/v1/chat/completions", headers or {}, arrived=float(index), wall_time=1e6)
    made.body = body if body is not None else {"messages": [{"role": "user", "content": PROMPT}]}
    made.status, made.outcome, made.ended = status, "completed", 0.001
    return made


@pytest.mark.parametrize(
    ("second", "together"),
    [
        ({}, True),
        ({"headers": {"x-stainless-retry-count": "0"}}, True),
        ({"headers": {"x-stainless-retry-count": "1"}, "body": {"other": 1}}, True),  # a count > 0 always continues
        ({"body": {"messages": [{"role": "user", "content": "else"}]}}, False),
        ({"headers": {"user-agent": "OpenAI/Python 3.57.0"}}, False),
        ({"headers": {"authorization": "Bearer sk-oth…"}}, False),
    ],
    ids=["same-request", "count-0", "count-1", "other-body", "other-user-agent", "other-key"],
)
def test_after_a_failure_only_a_repeat_is_a_retry(second: dict[str, object], together: bool) -> None:
    first = entry(0, status=500)
    after = entry(1, **second)  # type: ignore[arg-type]
    if "x-stainless-retry-count" in after.headers:
        after.retry_count = int(after.headers["x-stainless-retry-count"])
    assert len(calls([first, after])) == (1 if together else 2)


def test_after_a_success_the_same_request_is_a_new_call() -> None:
    assert len(calls([entry(0), entry(1)])) == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (3, "call_starts must be journal indices (Entry.index), e.g. [len(fake_llm.journal)] taken before a call"),
        (["1"], "call_starts must be journal indices (Entry.index), e.g. [len(fake_llm.journal)] taken before a call"),
        ([-1], "call_starts must be journal indices (Entry.index), e.g. [len(fake_llm.journal)] taken before a call"),
    ],
)
def test_call_starts_must_be_indices(bad: object, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        check_retries([entry(0, status=500), entry(1)], call_starts=bad)  # type: ignore[arg-type]
