"""pydantic-ai, an anyio-based client, through `check_cleanup`: every way out is taken and
judged, and nothing pydantic-ai raises while closing (anyio task groups can raise
GeneratorExit in a BaseExceptionGroup out of `aclose()`) escapes the check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sparring import WAYS_OUT, FakeLLM, check_cleanup

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent  # only once pydantic-ai is known to be there
from pydantic_ai.providers.openai import OpenAIProvider

try:
    from pydantic_ai.models.openai import OpenAIChatModel as ChatModel
except ImportError:  # pydantic-ai before 1.0
    from pydantic_ai.models.openai import OpenAIModel as ChatModel  # type: ignore[attr-defined, no-redef]


def agent(client: Any) -> Agent[None, str]:
    # A client of the test's own: OpenAIProvider(base_url=...) would take pydantic-ai's
    # process-wide cached HTTP client, whose sockets outlive this test's event loop.
    return Agent(ChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client)))


@pytest.mark.asyncio
async def test_run_stream_events_cleans_up_every_way_out(fake_llm: FakeLLM) -> None:
    async with fake_llm.async_openai() as client:
        report = await check_cleanup(_events(agent(client)), fake_llm, raise_on_leak=False)
    assert report.ok, str(report)


def _events(chat: Agent[None, str]) -> Any:

    async def stream() -> AsyncIterator[Any]:
        async with chat.run_stream_events("Hi") as events:  # closes the background run on exit
            async for event in events:
                yield event

    return stream


@pytest.mark.asyncio
async def test_run_stream_is_judged_on_every_way_out_without_a_crash(fake_llm: FakeLLM) -> None:
    async with fake_llm.async_openai() as client:
        chat = agent(client)

        async def stream() -> AsyncIterator[str]:
            async with chat.run_stream("Hi") as result:
                async for text in result.stream_text(delta=True):
                    yield text

        report = await check_cleanup(stream, fake_llm, raise_on_leak=False)
    assert [r.way for r in report.results] == list(WAYS_OUT)
    for way in ("complete", "break", "cancel", "server_fault"):
        assert report[way].ok, str(report)
    print(report)  # what pydantic-ai leaves to the event loop's finalizer, for the contract notes
