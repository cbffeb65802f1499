"""The client under test in the tutorial: a small streaming chat client, an async generator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from openai import AsyncOpenAI


@dataclass(frozen=True)
class Event:
    """What the client yields: a piece of text, or the end of the answer."""

    kind: str  # "text" or "done"
    text: str = ""
    finish_reason: str | None = None


async def ask(client: AsyncOpenAI, question: str) -> AsyncIterator[Event]:
    """Stream the answer to `question`: a "text" event per piece, then one "done" event."""
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
        stream=True,
    )
    finish_reason = None
    try:
        async for chunk in stream:
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.delta.content:
                yield Event("text", choice.delta.content)
            finish_reason = choice.finish_reason or finish_reason
    finally:
        await stream.close()  # on every way out: the end, an error, a consumer that stops early
    yield Event("done", finish_reason=finish_reason)
