"""BUG (the anyio way): holds a task group open across its `yield`.

A background task reads the response into a memory stream; the generator yields from that
stream inside the task group. When the consumer breaks out, `aclose()` throws GeneratorExit
in at the `yield`; the task group cancels its reader and raises the GeneratorExit back out,
wrapped in a `BaseExceptionGroup`, so `aclose()` raises instead of returning. Clients built on
anyio (pydantic-ai's older streams among them) have this shape. The response itself is
closed: the reader's `async with` runs when it is cancelled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
from anyio.streams.memory import MemoryObjectSendStream

from tests.clients.common import chat_request, delta


async def _read(http: httpx.AsyncClient, request: httpx.Request, into: MemoryObjectSendStream[str]) -> None:
    async with into:
        response = await http.send(request, stream=True)
        try:
            async for line in response.aiter_lines():
                text = delta(line)
                if text is not None:
                    await into.send(text)
        finally:
            await response.aclose()


async def httpx_chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    send, receive = anyio.create_memory_object_stream[str](0)
    async with anyio.create_task_group() as group:  # BUG: open across the yield below
        group.start_soon(_read, http, chat_request(http, base_url, api_key), send)
        async with receive:
            async for text in receive:
                yield text
