"""A pydantic-ai agent with two tools, scripted by the tool results it sends back."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import AsyncOpenAI
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from sparring import FakeLLM

SCENARIO = Path(__file__).parents[1] / "agent-loop.yaml"
QUESTION = "What is the weather in Paris, and the time there?"
ANSWER = "It is sunny in Paris, and the time there is 12:00."


def travel_agent(client: AsyncOpenAI) -> Agent[None, str]:
    model = OpenAIChatModel("gpt-4o", provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, system_prompt="You are a travel assistant.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    @agent.tool_plain
    def get_time(city: str) -> str:
        """The local time in a city."""
        return "12:00"

    return agent


@pytest.mark.asyncio
async def test_the_agent_calls_both_tools_then_answers(fake_llm: FakeLLM) -> None:
    fake_llm.load(SCENARIO)
    async with fake_llm.async_openai() as client:
        result = await travel_agent(client).run(QUESTION)
    assert result.output == ANSWER
    assert [entry.rule for entry in fake_llm.journal] == [0, 1, 2]


@pytest.mark.asyncio
async def test_the_streamed_answer(fake_llm: FakeLLM) -> None:
    fake_llm.load(SCENARIO)
    async with fake_llm.async_openai() as client, travel_agent(client).run_stream(QUESTION) as run:
        pieces = [piece async for piece in run.stream_text(delta=True)]
    assert "".join(pieces) == ANSWER
    assert all(entry.stream for entry in fake_llm.journal)
