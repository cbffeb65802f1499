"""The contract's rows for openai-agents, run in the libs environment (`.venv-libs`); and the
facts the docs' notes on openai-agents state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

pytest.importorskip("agents")

from sparring import FakeServer, check_cleanup
from tests.libraries import clients, facts
from tests.libraries.contract_tests import make_tests

test_cell, test_events, test_retries_through_the_sdk = make_tests(clients.OPENAI_AGENTS)


@pytest.mark.asyncio
async def test_cancelling_the_run_does_not_close_its_stream() -> None:
    """`RunResultStreaming.cancel()` in `finally`, as its docs suggest for stopping a run early,
    does not close the SDK's stream either: the server still streams to the end."""
    from agents import Agent, OpenAIChatCompletionsModel, Runner
    from openai import AsyncOpenAI

    with FakeServer() as server:
        async with clients.owning():
            client = clients.own(AsyncOpenAI(base_url=server.base_url, api_key=clients.KEY))
            agent = Agent(name="assistant", model=OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client))

            async def stream() -> AsyncIterator[str]:
                result = Runner.run_streamed(agent, "hi")
                try:
                    async with aclosing(result.stream_events()) as events:
                        async for event in events:
                            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                                yield event.data.delta
                finally:
                    result.cancel()

            report = await check_cleanup(stream, server, ways=["break"], bound=facts.BOUND, raise_on_leak=False)
    assert not report.ok
    assert "it left AsyncStream._iter_events unclosed" in report["break"].problems[0]
