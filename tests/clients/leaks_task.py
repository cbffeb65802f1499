"""BUG: starts a watchdog task per stream and stops it only when the stream ends normally.

The response is closed properly, but on every other way out the watchdog runs on forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from tests.clients.common import chat_request, delta


async def httpx_chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    watchdog = asyncio.create_task(asyncio.sleep(3600), name="watchdog")  # stands in for a heartbeat
    response = await http.send(chat_request(http, base_url, api_key), stream=True)
    try:
        async for line in response.aiter_lines():
            text = delta(line)
            if text is not None:
                yield text
    finally:
        await response.aclose()
    watchdog.cancel()  # BUG: belongs in `finally`
