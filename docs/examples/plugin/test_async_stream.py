"""The same test with the asyncio client, under pytest-asyncio and under anyio."""

from __future__ import annotations

import pytest

from sparring import FakeLLM, reply

MESSAGES = [{"role": "user", "content": "Hi"}]


# --8<-- [start:asyncio]
@pytest.mark.asyncio
async def test_with_pytest_asyncio(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello, world!"))
    async with fake_llm.async_openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    assert "".join(pieces) == "Hello, world!"


# --8<-- [end:asyncio]


# --8<-- [start:anyio]
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # without it, anyio runs each test on every backend installed, trio too


@pytest.mark.anyio
async def test_with_anyio(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello, world!"))
    async with fake_llm.async_openai() as client:
        answer = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello, world!"


# --8<-- [end:anyio]
