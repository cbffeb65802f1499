"""BUG: catches CancelledError and returns.

The response is closed, but the cancelled consumer then sees an ordinary end of stream and
carries on: whoever cancelled it (a timeout, a shutdown) is ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from tests.clients.common import chat_request, delta


async def httpx_chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    response = await http.send(chat_request(http, base_url, api_key), stream=True)
    try:
        async for line in response.aiter_lines():
            text = delta(line)
            if text is not None:
                yield text
    except asyncio.CancelledError:
        return  # BUG: the cancellation ends here instead of reaching the consumer
    finally:
        await response.aclose()
