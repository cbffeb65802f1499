"""Virtual time: a minute of production waits (two 429s advising 20 s, a 10 s first token, 2 s
gaps) through the openai SDK, the anthropic SDK and sparring's reference client, in a fraction
of a second of wall time."""

from __future__ import annotations

import asyncio
import time

import pytest

from sparring import FakeLLM, Fault, Timing, error, reply
from sparring.client import EventType, LLMClient


# --8<-- [start:virtual]
@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time  # needs `pip install 'sparring[virtual]'` (looptime)
async def test_a_minute_of_waits_in_no_time(fake_llm: FakeLLM) -> None:
    fake_llm.add(
        error("rate_limit", retry_after=20, times=2),
        reply("Paris is the capital of France", timing=Timing(first_chunk=10, gap=2)),
    )
    started = time.perf_counter()
    async with fake_llm.async_openai(max_retries=2) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Capital of France?"}], stream=True
        )
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "Paris is the capital of France"
    assert time.perf_counter() - started < 30  # about 0.1 s, where real time takes 64 s

    report = fake_llm.check_retries(attempts=3)  # judged on the virtual clock
    assert all(attempt.gap_before >= 20 for attempt in report.attempts[1:])
    answer = fake_llm.journal[-1]
    assert answer.ended == pytest.approx(24)  # 10 s first chunk + 7 gaps of 2 s, virtual seconds

    await asyncio.sleep(3600)  # your own sleeps are virtual too: an hour, in no time


# --8<-- [end:virtual]


# --8<-- [start:anthropic]
@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_the_anthropic_sdk_in_no_time(fake_llm: FakeLLM) -> None:
    fake_llm.add(
        error("rate_limit", retry_after=20, times=2),  # sent as Anthropic sends a 429
        reply("Paris is the capital of France", timing=Timing(first_chunk=10, gap=2)),
    )
    async with (
        fake_llm.async_anthropic(max_retries=2) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Capital of France?"}]
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
    assert text == "Paris is the capital of France"
    report = fake_llm.check_retries(attempts=3)
    assert [attempt.gap_before for attempt in report.attempts[1:]] == pytest.approx([20, 20])  # virtual seconds


# --8<-- [end:anthropic]


# --8<-- [start:reference]
@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_the_reference_client_backs_off_in_no_time(fake_llm: FakeLLM) -> None:
    fake_llm.add(
        error("rate_limit", retry_after=30),
        # cut after the role chunk: nothing was yielded, so the client tries again after a backoff
        reply("Paris.", timing=Timing(first_chunk=10), fault=Fault("reset", after_chunk=1)),
        reply("Paris.", timing=Timing(first_chunk=10)),
    )
    async with LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key) as client:
        events = [event async for event in client.chat_completion([{"role": "user", "content": "Capital?"}])]
    assert [event.type for event in events] == [EventType.TEXT_DELTA, EventType.MESSAGE_COMPLETE]

    rate_limited, cut, answer = fake_llm.journal
    assert cut.arrived - rate_limited.arrived == pytest.approx(30)  # the retry-after, waited in no time
    backoff = answer.arrived - (cut.arrived + (cut.ended or 0))
    assert 0.75 <= backoff <= 1.0  # the client's own backoff sleep: 1 s less up to 25 % jitter


# --8<-- [end:reference]
