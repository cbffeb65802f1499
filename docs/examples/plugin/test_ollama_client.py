"""`fake_llm.ollama()` and `fake_llm.async_ollama()`: the ollama client pointed at this test."""

from __future__ import annotations

import pytest

from sparring import FakeLLM, reply


def test_ollama_streams(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello from a llama"))
    client = fake_llm.ollama()  # closed when the test ends
    parts = list(client.chat(model="llama3.2", messages=[{"role": "user", "content": "Hi"}], stream=True))
    assert "".join(p.message.content or "" for p in parts) == "Hello from a llama"
    assert fake_llm.journal[0].path == "/api/chat"


@pytest.mark.asyncio
async def test_ollama_async(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello again"))
    async with fake_llm.async_ollama() as client:
        answer = await client.generate(model="llama3.2", prompt="Hi")
    assert answer.response == "Hello again"
