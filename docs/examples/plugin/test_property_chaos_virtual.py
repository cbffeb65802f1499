"""The how-to "Find the bug your tests missed" (docs/how-to/property-based-chaos.md), its
virtual-time section: an async client against scenarios that wait for seconds (retry-after,
slow first tokens, stalls), hundreds of examples in seconds of wall time; scenarios for the
Anthropic Messages API."""

from __future__ import annotations

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings

from sparring import strategies

TEXT = "Paris is the capital of France."
QUESTION = [{"role": "user", "content": "capital of France?"}]


# --8<-- [start:virtual]
@pytest_asyncio.fixture
async def client(fake_llm):
    async with fake_llm.async_openai() as sdk:  # one client for every example
        yield sdk


async def answer(client):
    """What the consumer saw: the text, and the error the stream ended in, if any."""
    received = ""
    try:
        stream = await client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True)
        async with stream:  # closed however the loop is left
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += chunk.choices[0].delta.content
    except Exception as exc:  # an SDK error, a chunk that is not JSON, httpx's own
        return received, exc
    return received, None


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time  # needs `pip install 'sparring[virtual]'` (looptime)
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=30))  # waits of up to 30 s
async def test_my_async_client(fake_llm, client, script):
    async with fake_llm.example(script):  # waits on the loop for the example's requests to end
        received, error = await answer(client)
        await strategies.check_cleanup_ran(fake_llm)  # at once: the client closed what it opened
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)  # after the block


# --8<-- [end:virtual]


# --8<-- [start:messages]
@pytest_asyncio.fixture
async def claude(fake_llm):
    async with fake_llm.async_anthropic() as sdk:
        yield sdk


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=30, api="messages"))
async def test_my_claude_client(fake_llm, claude, script):
    received, error = "", None
    async with fake_llm.example(script):
        try:
            events = await claude.messages.create(
                model="claude-sonnet-4-5", max_tokens=100, messages=QUESTION, stream=True
            )
            async with events:
                async for event in events:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        received += event.delta.text
        except Exception as exc:
            error = exc
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)


# --8<-- [end:messages]
