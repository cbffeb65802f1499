"""`collect`: what a stream yielded, when, and how it ended."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from sparring import FakeLLM, Fault, Timing, collect, collect_sync, reply

PIECES = ["Hel", "lo", "!"]


async def chat(client: openai.AsyncOpenAI) -> AsyncIterator[str]:
    """The client under test: the pieces of text of a streamed answer."""
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


# --8<-- [start:collect]
@pytest.mark.asyncio
async def test_collect_a_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=PIECES, timing=Timing(gap=0.05)))
    async with fake_llm.async_openai() as client:
        got = await collect(chat(client))
    assert got.events == PIECES
    assert got.error is None
    assert got.closed
    assert got.times[-1] >= 0.14  # the server waits 0.05 s before each of the 3 pieces


@pytest.mark.asyncio
async def test_stop_early(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=PIECES), reply(chunks=PIECES, fault=Fault("stall", after_chunk=2)))
    async with fake_llm.async_openai() as client:
        first = await collect(chat(client), limit=1)  # then closes the stream
        stalled = await collect(chat(client), timeout=0.2)  # the server stalls after "Hel"
    assert (first.events, first.error, first.closed) == (["Hel"], None, True)
    assert stalled.events == ["Hel"]
    assert isinstance(stalled.error, TimeoutError)
    assert str(stalled.error) == "no event within 0.2 s (waiting for event #2)"
    assert stalled.closed


# --8<-- [end:collect]


# --8<-- [start:collect_sync]
def test_collect_a_sync_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=PIECES, timing=Timing(gap=0.05)))
    client = fake_llm.openai()
    stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True)
    got = collect_sync(stream, limit=2)  # then calls stream.close()
    assert [chunk.choices[0].delta.content for chunk in got.events] == ["", "Hel"]  # the role chunk first
    assert got.error is None
    assert got.closed
    (request,) = fake_llm.wait_until(lambda journal: journal[0].outcome is not None)
    assert request.outcome == "client_disconnected"  # the server saw the client hang up


# --8<-- [end:collect_sync]
