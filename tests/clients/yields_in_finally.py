"""BUG: yields a final event inside `finally`.

On aclose() the generator must not yield ("async generator ignored GeneratorExit"); on
cancellation the yield hands the cancelled consumer one more event, as if it were not
cancelled. The response itself is closed properly.
"""

from __future__ import annotations

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
    finally:
        await response.aclose()
        yield "[end]"  # BUG: a yield during close
