"""The tutorial's tests: the events the client yields, a snapshot of them, and its retries."""

from __future__ import annotations

# --8<-- [start:head]
import pytest
from chat_client import Event, ask
from syrupy.assertion import SnapshotAssertion

from sparring import FakeLLM, collect, error, reply

# --8<-- [end:head]


# --8<-- [start:first]
@pytest.mark.asyncio
async def test_streams_the_answer(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo", "!"]))
    async with fake_llm.async_openai() as client:
        collected = await collect(ask(client, "Say hello"))
    assert collected.events == [
        Event("text", "Hel"),
        Event("text", "lo"),
        Event("text", "!"),
        Event("done", finish_reason="stop"),
    ]
    assert collected.error is None
    assert collected.closed


# --8<-- [end:first]


# --8<-- [start:snapshot]
@pytest.mark.asyncio
async def test_event_sequence(fake_llm: FakeLLM, sparring_snapshot: SnapshotAssertion) -> None:
    fake_llm.add(reply("Paris is the capital of France."))
    async with fake_llm.async_openai() as client:
        collected = await collect(ask(client, "What is the capital of France?"))
    assert collected == sparring_snapshot


# --8<-- [end:snapshot]


# --8<-- [start:retries]
@pytest.mark.asyncio
async def test_waits_out_a_rate_limit(fake_llm: FakeLLM) -> None:
    fake_llm.add(
        error("rate_limit", retry_after_ms=200, times=2),
        reply("Thanks for waiting."),
    )
    async with fake_llm.async_openai(max_retries=2) as client:
        collected = await collect(ask(client, "Hello?"))
    fake_llm.check_retries(attempts=3)  # three requests, each after the wait the server asked for
    assert collected.events[-1] == Event("done", finish_reason="stop")


# --8<-- [end:retries]
