"""Snapshots of what a client yields: its events, how the stream ended, whether it was closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from sparring import EventSnapshot, FakeLLM, Fault, collect, mask, reply

MESSAGES = [{"role": "user", "content": "Hi"}]


# --8<-- [start:client]
# A broken stream: openai 3.x raises APIConnectionError (APITimeoutError, its subclass, for a
# timeout); openai 2.x lets the exception of httpx, its HTTP library, through.
BROKEN_STREAM: tuple[type[Exception], ...] = (openai.APIConnectionError,)
if openai.__version__.startswith("2."):
    import httpx  # installed with openai 2.x

    BROKEN_STREAM += (httpx.TransportError,)


@dataclass
class Delta:
    """The event the client under test yields."""

    text: str


class ConnectionLost(Exception):
    """What the client raises when the stream breaks off."""


async def chat(client: openai.AsyncOpenAI) -> AsyncIterator[Delta]:
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    async with stream:
        try:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield Delta(chunk.choices[0].delta.content)
        except BROKEN_STREAM as exc:
            raise ConnectionLost("the stream broke off") from exc


# --8<-- [end:client]


# --8<-- [start:events]
@pytest.mark.asyncio
async def test_events(fake_llm: FakeLLM, sparring_snapshot: SnapshotAssertion) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo", "!"]))
    async with fake_llm.async_openai() as client:
        collected = await collect(chat(client))
    assert collected == sparring_snapshot


@pytest.mark.asyncio
async def test_events_when_the_connection_drops(fake_llm: FakeLLM, sparring_snapshot: SnapshotAssertion) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo", "!"], fault=Fault("reset", after_chunk=2)))
    async with fake_llm.async_openai(max_retries=0) as client:
        collected = await collect(chat(client))
    assert collected == sparring_snapshot


# --8<-- [end:events]


# --8<-- [start:chunks]
def test_sdk_chunks(fake_llm: FakeLLM, snapshot: SnapshotAssertion) -> None:
    fake_llm.add(reply("Hello!"))
    chunks = list(fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks == snapshot(extension_class=EventSnapshot, exclude=props("object", "service_tier"))


# --8<-- [end:chunks]


# --8<-- [start:mask]
@dataclass
class Done:
    trace: str
    latency_ms: float


def test_masks(sparring_snapshot: SnapshotAssertion) -> None:
    events = [Delta("Hi"), Done(trace="trace-7f3a9c", latency_ms=41.7)]
    assert events == sparring_snapshot(matcher=mask("latency_ms", patterns=[r"trace-[0-9a-f]+"]))


# --8<-- [end:mask]
