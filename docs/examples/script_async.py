"""The same in async code: `async with FakeServer(...)` and the asyncio openai client."""

from __future__ import annotations

import asyncio

from openai import AsyncOpenAI

from sparring import FakeServer, Scenario, reply


async def stream_answer() -> tuple[list[str], int]:
    scenario = Scenario.of(reply(chunks=["Bonjour", ", ", "le monde", "!"]))
    async with FakeServer(scenario) as server, AsyncOpenAI(base_url=server.base_url, api_key="sk-test") as client:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Say hello in French."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        total_tokens = 0
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
                if chunk.usage is not None:  # the last chunk before [DONE], with include_usage
                    total_tokens = chunk.usage.total_tokens
    return pieces, total_tokens


def main() -> None:
    pieces, total_tokens = asyncio.run(stream_answer())
    assert pieces == ["Bonjour", ", ", "le monde", "!"]
    assert total_tokens > 0


if __name__ == "__main__":
    main()
