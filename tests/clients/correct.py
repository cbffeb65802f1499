"""Clients that clean up right: whichever way the consumer leaves, the response is closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai

from tests.clients.common import chat_request, delta


async def httpx_chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    """A raw SSE reader over httpx."""
    response = await http.send(chat_request(http, base_url, api_key), stream=True)
    try:
        async for line in response.aiter_lines():
            text = delta(line)
            if text is not None:
                yield text
    finally:
        await response.aclose()  # runs on every way out: end, error, aclose(), cancellation


async def openai_chat(client: openai.AsyncOpenAI) -> AsyncIterator[str]:
    """The official SDK, streaming; `async with` closes the HTTP response on every way out."""
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
