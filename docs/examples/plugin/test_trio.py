"""Under trio: `collect` works as under asyncio; `check_cleanup` runs under asyncio only, so its
test picks the asyncio backend (anyio's pytest plugin)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
import pytest

from sparring import FakeLLM, collect, reply

pytest.importorskip("trio")


async def chat(http: httpx.AsyncClient, fake_llm: FakeLLM) -> AsyncIterator[str]:
    """Pieces of text of a streamed answer, over httpx: it runs under asyncio and trio alike."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {fake_llm.api_key}"}
    async with (
        http.stream("POST", f"{fake_llm.base_url}/chat/completions", json=body, headers=headers) as response,
        aclosing(response.aiter_lines()) as lines,  # trio warns about iterators left to its finalizer
    ):
        async for line in lines:
            if line.startswith("data: {"):
                choices = json.loads(line.removeprefix("data: "))["choices"]
                if choices and choices[0]["delta"].get("content"):
                    yield choices[0]["delta"]["content"]


# --8<-- [start:trio]
@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)  # each test runs under both, unless it says otherwise


@pytest.mark.anyio
async def test_collect_under_both(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo"]))
    async with httpx.AsyncClient() as http:
        got = await collect(chat(http, fake_llm))
    assert got.events == ["Hel", "lo"]
    assert got.ok


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # check_cleanup needs asyncio
async def test_cleanup_under_asyncio(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        await fake_llm.check_cleanup(lambda: chat(http, fake_llm))


# --8<-- [end:trio]
