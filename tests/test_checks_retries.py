"""Retry checks over the journal, against the openai SDK (2.x and 3.x) and against small
hand-written clients: a correct one passes, each deliberately broken one fails with the
message that names its bug."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import httpx
import openai
import pytest

from sparring import Entry, FakeLLM, Fault, error, reply
from sparring.checks.retries import BACKOFF_GROWTH, RetryCheckError, attempts, calls, check_retries
from tests import retry_clients

MESSAGES: list[Any] = [{"role": "user", "content": "hi"}]
TEXT = "one two three four five six seven eight"


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return await collect_into(stream, [])


async def collect_into(stream: AsyncIterator[str], seen: list[str]) -> list[str]:
    """Keeps what came before an error in `seen`, as a consumer that showed it would."""
    async for text in stream:
        seen.append(text)
    return seen


async def sdk_stream(fake_llm: FakeLLM, **options: Any) -> str:
    async with fake_llm.async_openai(**options) as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


def failure(fake_llm: FakeLLM, **expected: Any) -> str:
    with pytest.raises(RetryCheckError) as caught:
        check_retries(fake_llm.journal, **expected)
    return str(caught.value)


# -- the official SDK passes -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sdk_waits_retry_after_ms_on_rate_limits(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100, times=2), reply(TEXT))
    assert await sdk_stream(fake_llm) == TEXT
    report = check_retries(fake_llm.journal, attempts=3, honours_retry_after=True)
    assert [a.status for a in report.attempts] == [429, 429, 200]
    assert [a.retry_after for a in report.attempts] == [0.1, 0.1, None]
    assert all(a.gap_before is not None and a.gap_before >= 0.1 - 0.05 for a in report.attempts[1:])
    assert str(report).startswith("retry check passed: 3 attempts in 1 call")


@pytest.mark.asyncio
async def test_sdk_backs_off_exponentially_on_server_errors(fake_llm: FakeLLM) -> None:
    # No retry-after: the SDK's own backoff, 0.375-0.5 s then 0.75-1 s (the slow test, ~1.3 s).
    fake_llm.add(error("server_error", times=2), reply(TEXT))
    assert await sdk_stream(fake_llm, max_retries=2) == TEXT
    report = check_retries(fake_llm.journal, attempts=3, backoff=True)
    first, second = (a.gap_before for a in report.attempts[1:])
    assert first is not None
    assert second is not None
    assert first >= 0.375 - 0.05  # the SDK's shortest first wait, less timer slack
    assert second > first


@pytest.mark.asyncio
async def test_sdk_never_retries_a_stream_cut_after_output(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(TEXT, fault=Fault("reset", after_chunk=4)), reply(TEXT, optional=True))
    with pytest.raises((openai.APIConnectionError, httpx.TransportError)):
        await sdk_stream(fake_llm)
    report = check_retries(fake_llm.journal, attempts=1)
    assert report.attempts[0].output_sent > 0


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "should_retry", "expected"), [(500, False, 1), (400, True, 3)])
async def test_sdk_obeys_x_should_retry_both_ways(
    fake_llm: FakeLLM, status: int, should_retry: bool, expected: int
) -> None:
    fake_llm.add(error(status, should_retry=should_retry, retry_after_ms=20, repeat=True))
    with pytest.raises(openai.APIStatusError):
        await sdk_stream(fake_llm)
    # A 400 retried because the server said x-should-retry: true is no violation.
    report = check_retries(fake_llm.journal, attempts=expected)
    assert {a.should_retry for a in report.attempts} == {should_retry}


# -- hand-written clients: the correct one passes, each broken one is caught ---------------------


@pytest.mark.asyncio
async def test_correct_client_honours_retry_after_and_backs_off(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=100, times=2), reply(TEXT))
    assert "".join(await collect(retry_clients.correct(fake_llm.base_url, fake_llm.api_key))) == TEXT
    check_retries(fake_llm.journal, attempts=3, max_attempts=3)
    # Waits of 0.15-0.2 s then 0.3-0.4 s: long enough that latency on a busy machine is small beside them.
    fake_llm.add(error("server_error", times=2), reply(TEXT))
    stream = retry_clients.correct(fake_llm.base_url, fake_llm.api_key, base=0.2)
    assert "".join(await collect(stream)) == TEXT
    report = check_retries(fake_llm.journal, attempts=3, backoff=True)
    assert [len(call) for call in report.calls] == [3, 3]


@pytest.mark.asyncio
async def test_correct_client_retries_a_reset_before_output_but_not_after(fake_llm: FakeLLM) -> None:
    cut = reply(TEXT, fault=Fault("reset", after_chunk=4))
    fake_llm.add(reply(TEXT, fault="reset"), cut, reply(TEXT, optional=True))
    seen: list[str] = []
    stream = retry_clients.correct(fake_llm.base_url, fake_llm.api_key, base=retry_clients.QUICK)
    with pytest.raises(httpx.TransportError):
        await collect_into(stream, seen)
    assert seen
    assert TEXT.startswith("".join(seen))  # each word once: the cut stream was not restarted
    report = check_retries(fake_llm.journal, attempts=2)
    assert [a.output_sent > 0 for a in report.attempts] == [False, True]


@pytest.mark.asyncio
async def test_ignoring_retry_after_is_caught(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=400, times=2), reply(TEXT))
    await collect(retry_clients.ignores_retry_after(fake_llm.base_url, fake_llm.api_key))
    message = failure(fake_llm, attempts=3)
    assert re.search(r"attempt #2 retried #1 \(429\) after 0\.\d{3}s, but the server asked for 0\.400s", message)
    assert "(retry-after-ms: 400)" in message
    assert "attempt #3 retried #2 (429)" in message
    # With the check off, the same exchange passes: the violation is the wait, nothing else.
    assert check_retries(fake_llm.journal, attempts=3, honours_retry_after=False).ok


@pytest.mark.asyncio
async def test_a_fixed_delay_is_not_backoff(fake_llm: FakeLLM) -> None:
    # 0.4 s twice: the second wait would need 70 ms more latency than the first to pass as growth.
    fake_llm.add(error("server_error", times=2), reply(TEXT))
    await collect(retry_clients.ignores_retry_after(fake_llm.base_url, fake_llm.api_key, delay=0.4))
    assert check_retries(fake_llm.journal, attempts=3).ok  # 0.4 s is no storm
    message = failure(fake_llm, backoff=True)
    assert re.search(r"no exponential backoff: attempt #3 retried #2 \(500\) after 0\.\d{3}s", message)
    assert re.search(rf"not {BACKOFF_GROWTH}x the 0\.\d{{3}}s waited before #2", message)


@pytest.mark.asyncio
async def test_retrying_after_partial_output_is_caught(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(TEXT, fault=Fault("reset", after_chunk=4)), reply(TEXT))
    seen = "".join(await collect(retry_clients.retries_after_output(fake_llm.base_url, fake_llm.api_key)))
    assert seen.endswith(TEXT)
    assert seen != TEXT  # the first words came twice
    message = failure(fake_llm)
    assert "retried after partial output: #1 (200 cut by reset after chunk 4) had already sent" in message
    assert "when #2 started the call again" in message
    assert "the consumer may already have shown that text; retrying duplicates it" in message


@pytest.mark.asyncio
async def test_a_retry_storm_on_bad_requests_is_caught(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("bad_request", repeat=True))
    with pytest.raises(retry_clients.APIError):
        await collect(retry_clients.retries_everything(fake_llm.base_url, fake_llm.api_key))
    # min_gap 0.25 s: an immediate retry on loopback takes milliseconds, even on a loaded machine.
    report = check_retries(fake_llm.journal, max_attempts=3, min_gap=0.25, raise_on_violation=False)
    assert not report.ok
    text = "\n".join(report.violations)
    n = retry_clients.STORM_ATTEMPTS
    assert f"retry storm: call 1 made {n} attempts, more than max_attempts=3" in text
    assert re.search(r"attempt #2 retried #1 \(400\) after 0\.\d{3}s, but 400 is not retryable", text)
    assert re.search(r"retry storm: attempt #5 retried #4 \(400\) after 0\.\d{3}s with no retry-after", text)
    assert "wait at least 0.250s" in text
    assert len(report.violations) == 1 + 2 * (n - 1)  # the count, then two per retry
    assert str(report).startswith(f"retry check failed: {n} attempts in 1 call, {len(report.violations)} problems")


@pytest.mark.asyncio
async def test_ignoring_x_should_retry_false_is_caught(fake_llm: FakeLLM) -> None:
    fake_llm.add(error(503, should_retry=False, retry_after_ms=20, repeat=True))
    with pytest.raises(retry_clients.APIError):
        await collect(retry_clients.ignores_should_retry(fake_llm.base_url, fake_llm.api_key))
    message = failure(fake_llm)
    assert "attempt #2 retried #1 (503)" in message
    assert "although the server sent x-should-retry: false" in message


@pytest.mark.asyncio
async def test_ignoring_x_should_retry_true_is_caught_by_the_attempt_count(fake_llm: FakeLLM) -> None:
    fake_llm.add(error(400, should_retry=True, retry_after_ms=20))
    with pytest.raises(retry_clients.APIError):
        await collect(retry_clients.ignores_should_retry(fake_llm.base_url, fake_llm.api_key))
    assert "call 1 made 1 attempt, expected 3: #1 400" in failure(fake_llm, attempts=3)
    fake_llm.add(error(400, should_retry=True, retry_after_ms=20, times=2), reply(TEXT))
    second = len(fake_llm.journal)  # the same request again at once: only the test knows it is a new call
    await collect(retry_clients.correct(fake_llm.base_url, fake_llm.api_key))
    assert [len(call) for call in calls(fake_llm.journal, call_starts=[second])] == [1, 3]


# -- grouping and parsing ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_calls_are_split_where_the_retry_count_drops_back(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=20), reply(TEXT), reply(TEXT), error(500, retry_after_ms=20))
    fake_llm.add(reply(TEXT))
    for _ in range(3):
        await sdk_stream(fake_llm)
    grouped = calls(fake_llm.journal)
    assert [[(a.status, a.retry_count) for a in call] for call in grouped] == [
        [(429, 0), (200, 1)],
        [(200, 0)],
        [(500, 0), (200, 1)],
    ]
    assert [a.gap_before is None for a in attempts(fake_llm.journal)] == [True, False, True, True, False]
    check_retries(fake_llm.journal, max_attempts=2)
    assert "call 2 made 1 attempt, expected 2: #3 200" in failure(fake_llm, attempts=2)


def test_without_a_retry_count_a_successful_answer_ends_the_call(fake_llm: FakeLLM) -> None:
    fake_llm.add(error(500), reply("a"), reply("b"), error(429, retry_after_ms=10), reply("c"))
    body = {"model": "gpt-4o", "messages": MESSAGES}
    with httpx.Client(headers={"Authorization": f"Bearer {fake_llm.api_key}"}) as http:
        statuses = [http.post(f"{fake_llm.base_url}/chat/completions", json=body).status_code for _ in range(5)]
    assert statuses == [500, 200, 200, 429, 200]
    assert [a.retry_count for a in attempts(fake_llm.journal)] == [None] * 5
    assert [[a.status for a in call] for call in calls(fake_llm.journal)] == [[500, 200], [200], [429, 200]]


@pytest.mark.parametrize(
    ("scripted", "expected", "source"),
    [
        ({"retry_after": 2}, 2.0, "retry-after: 2"),
        ({"retry_after": 2.5}, 2.5, "retry-after: 2.5"),
        ({"retry_after_ms": 250}, 0.25, "retry-after-ms: 250"),
        ({"retry_after": 3, "retry_after_ms": 2500}, 2.5, "retry-after-ms: 2500"),  # ms first, like the SDK
        ({"retry_after": "soon"}, None, None),
        ({}, 1.0, "retry-after-ms: 1000"),  # the rate_limit preset's default
    ],
)
def test_retry_after_forms_are_read_from_what_the_server_sent(
    fake_llm: FakeLLM, scripted: dict[str, Any], expected: float | None, source: str | None
) -> None:
    fake_llm.add(error("rate_limit", **scripted))
    with httpx.Client(headers={"Authorization": f"Bearer {fake_llm.api_key}"}) as http:
        http.post(f"{fake_llm.base_url}/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES})
    (attempt,) = attempts(fake_llm.journal)
    assert (attempt.retry_after, attempt.retry_after_header) == (expected, source)


def test_retry_after_as_an_http_date_is_relative_to_the_response(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after=30, retry_after_format="date"))
    with httpx.Client(headers={"Authorization": f"Bearer {fake_llm.api_key}"}) as http:
        http.post(f"{fake_llm.base_url}/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES})
    (attempt,) = attempts(fake_llm.journal)
    # The server rounds the date up to a whole second after the moment it answered.
    assert attempt.retry_after is not None
    assert 29.5 < attempt.retry_after <= 31
    assert str(attempt.retry_after_header).endswith(" GMT")


def test_an_empty_journal_fails_an_expected_count() -> None:
    assert check_retries([]).ok
    with pytest.raises(RetryCheckError, match="no request reached the server, expected 3 attempts"):
        check_retries([], attempts=3)


# -- judging waits, on journals written by hand (exact times, no server needed) ----------------


def exchange(retry_after: str, waited: float) -> list[Entry]:
    """A 429 answered in 1 ms with this retry-after, then a retry `waited` seconds later."""
    start = 1_000_000.0  # wall-clock seconds at the first arrival; monotonic times start at 0
    first = Entry(0, "t", "POST", "/v1/chat/completions", {}, arrived=0.0, wall_time=start, status=429)
    first.response_headers, first.outcome, first.ended = {"retry-after": retry_after}, "completed", 0.001
    second = Entry(1, "t", "POST", "/v1/chat/completions", {}, arrived=0.001 + waited, wall_time=start + waited)
    second.status, second.outcome, second.ended = 200, "completed", 0.01
    return [first, second]


@pytest.mark.parametrize(
    ("retry_after", "waited", "ok"),
    [
        (formatdate(1_000_002, usegmt=True), 1.5, True),  # 2 s away by date: a client may round down a second
        (formatdate(1_000_002, usegmt=True), 0.5, False),
        ("2", 1.5, False),  # the same wait against a number of seconds is too short
        ("90", 0.5, True),  # beyond the 60 s every SDK honours: not demanded
    ],
    ids=["date-rounded-down", "date-too-soon", "seconds-too-soon", "beyond-the-window"],
)
def test_how_long_a_retry_must_wait(retry_after: str, waited: float, ok: bool) -> None:
    report = check_retries(exchange(retry_after, waited), raise_on_violation=False)
    assert report.ok is ok, str(report)
    assert check_retries(exchange(retry_after, waited), honours_retry_after=False).ok


def test_a_longer_window_demands_longer_retry_afters() -> None:
    with pytest.raises(RetryCheckError, match=r"the server asked for 90\.000s \(retry-after: 90\)"):
        check_retries(exchange("90", 0.5), max_retry_after=120)


@pytest.mark.asyncio
async def test_a_wrapper_restarting_the_sdk_after_output_is_caught(fake_llm: FakeLLM) -> None:
    """Each restart is a fresh SDK call (retry count 0 again), yet it is a retry after the text
    already shown: the check still groups it with the broken stream and flags it."""
    fake_llm.add(reply(chunks=["Paris ", "is ", "the ", "capital"], fault=Fault("reset", after_chunk=3)))
    fake_llm.add(reply(chunks=["Paris ", "is ", "the ", "capital"]))
    shown: list[str] = []
    async with fake_llm.async_openai(max_retries=0) as client:
        for _ in range(2):  # the naive wrapper: on any error, start over
            try:
                stream = await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        shown.append(chunk.choices[0].delta.content)
                break
            except (openai.APIConnectionError, httpx.HTTPError):  # 2.x lets the raw httpx error through
                continue
    assert "".join(shown) == "Paris is Paris is the capital", "the duplicated text the user saw"
    assert [e.retry_count for e in fake_llm.journal] == [0, 0]
    report = check_retries(fake_llm.journal, raise_on_violation=False)
    assert len(report.calls) == 1
    assert any("output" in v for v in report.violations), report
