"""Retrying a stream after part of it was shown shows that part twice. The SDK never does it;
a wrapper around the SDK can, and the retry check reads it from the journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openai

from sparring import FakeServer, Fault, Scenario, check_retries, reply

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PIECES = ["Paris ", "is ", "the ", "capital."]


# --8<-- [start:example]
# A broken stream: openai 3.x raises APIConnectionError (APITimeoutError, its subclass, for a
# timeout); openai 2.x lets the exception of httpx, its HTTP library, through.
BROKEN_STREAM: tuple[type[Exception], ...] = (openai.APIConnectionError,)
if openai.__version__.startswith("2."):
    import httpx  # installed with openai 2.x

    BROKEN_STREAM += (httpx.TransportError,)


async def chat_with_retry(client: openai.AsyncOpenAI) -> AsyncIterator[str]:
    """BUG: starts the whole request again when the connection breaks, even mid-stream."""
    for attempt in range(2):
        number = {"x-stainless-retry-count": str(attempt)}  # as the SDK numbers its own attempts
        try:
            stream = await client.chat.completions.create(
                model="gpt-4o", messages=QUESTION, stream=True, extra_headers=number
            )
            async with stream:
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
            return
        except BROKEN_STREAM:
            continue


async def show(base_url: str) -> str:
    shown = ""
    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-test") as client:
        async for text in chat_with_retry(client):
            shown += text  # what a user would have seen on screen
    return shown


def main() -> None:
    cut = reply(chunks=PIECES, fault=Fault("reset", after_chunk=3))  # the role chunk, "Paris ", "is "
    with FakeServer(Scenario.of(cut, reply(chunks=PIECES))) as server:
        shown = asyncio.run(show(server.base_url))
        report = check_retries(server.journal(), raise_on_violation=False)
    assert shown == "Paris is Paris is the capital."
    assert report.violations[0].startswith("retried after partial output")


# --8<-- [end:example]


if __name__ == "__main__":
    main()
