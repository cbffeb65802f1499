"""`fake_llm.genai()`: a google-genai client pointed at this test, sync and through `.aio`."""

from __future__ import annotations

import pytest

from sparring import FakeLLM, reply


def test_gemini_streams(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello from Gemini"))
    client = fake_llm.genai()  # closed when the test ends
    chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi")
    assert "".join(c.text or "" for c in chunks) == "Hello from Gemini"
    assert fake_llm.journal[0].path == "/v1/models/gemini-2.5-flash:streamGenerateContent"


@pytest.mark.asyncio
# google-genai's async client subclasses aiohttp's ClientSession, which aiohttp warns about.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_gemini_async(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello again"))
    client = fake_llm.genai(api_version="v1beta")  # keyword arguments go to HttpOptions
    try:
        answer = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    finally:
        await client.aio.aclose()
    assert answer.text == "Hello again"
