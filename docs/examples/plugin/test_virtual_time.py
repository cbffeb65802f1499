"""Virtual time: a minute of production waits (two 429s advising 20 s, a 10 s first token, 2 s
gaps) through the openai SDK, in a fraction of a second of wall time."""

from __future__ import annotations

import asyncio
import time

import pytest

from sparring import FakeLLM, Timing, error, reply


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
