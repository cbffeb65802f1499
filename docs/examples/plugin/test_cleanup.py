"""Cleanup checks: a client that closes its response in `finally` passes every way out; one
that closes it after the loop leaks the connection when the consumer leaves early."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from sparring import CleanupError, FakeLLM


def start(http: httpx.AsyncClient, base_url: str, api_key: str) -> httpx.Request:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {api_key}"}
    return http.build_request("POST", f"{base_url}/chat/completions", json=body, headers=headers)


def text_in(line: str) -> str | None:
    """The text a `data:` line of the stream carries, if any."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None
    choices = json.loads(line.removeprefix("data: "))["choices"]
    return choices[0]["delta"].get("content") if choices else None


# --8<-- [start:client]
async def chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    """The client under test: streams a chat answer and yields its pieces of text."""
    response = await http.send(start(http, base_url, api_key), stream=True)
    try:
        async for line in response.aiter_lines():
            if text := text_in(line):
                yield text
    finally:
        await response.aclose()  # on every way out: the end, an error, a break, a cancellation


# --8<-- [end:client]


# --8<-- [start:check]
@pytest.mark.asyncio
async def test_chat_cleans_up_on_every_way_out(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        report = await fake_llm.check_cleanup(lambda: chat(http, fake_llm.base_url, fake_llm.api_key))
    assert report.ok
    assert report["break"].request.outcome == "client_disconnected"  # the server saw the early close


# --8<-- [end:check]


# --8<-- [start:probe]
@pytest.mark.asyncio
async def test_with_a_probe(fake_llm: FakeLLM) -> None:
    responses: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        responses.append(response)

    def all_closed(way: str) -> None:  # called after each way out
        assert all(response.is_closed for response in responses), f"a response is still open after {way}"

    async with httpx.AsyncClient(event_hooks={"response": [keep]}) as http:
        await fake_llm.check_cleanup(
            lambda: chat(http, fake_llm.base_url, fake_llm.api_key),
            ways=["break", "cancel"],
            bound=0.5,
            probe=all_closed,
        )
    assert len(responses) == 2


# --8<-- [end:probe]


# --8<-- [start:leaky]
async def leaky_chat(http: httpx.AsyncClient, base_url: str, api_key: str) -> AsyncIterator[str]:
    """The same client with a bug: it closes the response after the loop, not in `finally`."""
    response = await http.send(start(http, base_url, api_key), stream=True)
    async for line in response.aiter_lines():
        if text := text_in(line):
            yield text
    await response.aclose()  # BUG: never reached when the consumer leaves early


@pytest.mark.asyncio
async def test_closing_after_the_loop_is_caught(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(CleanupError) as caught:
            await fake_llm.check_cleanup(lambda: leaky_chat(http, fake_llm.base_url, fake_llm.api_key))
    assert [result.way for result in caught.value.report.leaks] == ["break", "consumer_error", "abandon"]


# --8<-- [end:leaky]
