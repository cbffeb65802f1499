"""BUG: closes the response only after the loop, not in `finally`.

When the consumer leaves early (break, an exception, dropping the generator) the close is
never reached. CPython usually rescues it: the orphaned httpx line iterator is finalized by
the event loop and closes the connection itself. `check_cleanup` holds such orphans back, so
the leak shows: the server streams on to the end of a response nobody reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from tests.clients.common import chat_request, delta


async def httpx_chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    response = await http.send(chat_request(http, base_url, api_key), stream=True)
    async for line in response.aiter_lines():
        text = delta(line)
        if text is not None:
            yield text
    await response.aclose()  # BUG: skipped on every early exit
