"""In-band errors: a `200` stream that carries the API's error event part way. The client turns
it into an event of its own, keeps what it showed, and does not retry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai
import pytest

from sparring import FakeLLM, Fault, collect, reply

MESSAGES = [{"role": "user", "content": "Count to four."}]


# --8<-- [start:client]
@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Failed:
    code: str | None
    message: str


async def chat(client: openai.AsyncOpenAI) -> AsyncIterator[Text | Failed]:
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    async with stream:
        try:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield Text(chunk.choices[0].delta.content)
        except openai.APIStatusError:
            raise  # not in-band: these come before the stream starts
        except openai.APIError as exc:  # an error event inside a 200 stream
            yield Failed(exc.code, exc.message)


# --8<-- [end:client]


# --8<-- [start:test]
@pytest.mark.asyncio
async def test_an_error_event_mid_stream(fake_llm: FakeLLM) -> None:
    fault = Fault("error_event", after_chunk=3, error="server_error", message="The model crashed.")
    fake_llm.add(reply(chunks=["one ", "two ", "three ", "four"], fault=fault))
    async with fake_llm.async_openai() as client:
        collected = await collect(chat(client))
    assert collected.events == [Text("one "), Text("two "), Failed(None, "The model crashed.")]
    assert collected.error is None
    fake_llm.check_retries(attempts=1)  # the SDK never retries an error inside a stream
    assert fake_llm.journal[0].status == 200


# --8<-- [end:test]
