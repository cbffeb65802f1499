"""An openai-agents agent with two tools, scripted by the tool results it sends back."""

from __future__ import annotations

from pathlib import Path

import pytest
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from sparring import FakeLLM

SCENARIO = Path(__file__).parents[1] / "agent-loop.yaml"
QUESTION = "What is the weather in Paris, and the time there?"
ANSWER = "It is sunny in Paris, and the time there is 12:00."

set_tracing_disabled(True)  # traces would go to api.openai.com: keep everything on loopback


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@function_tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return "12:00"


def travel_agent(client: AsyncOpenAI, *, responses: bool = False) -> Agent:
    api = OpenAIResponsesModel if responses else OpenAIChatCompletionsModel
    model = api(model="gpt-4o", openai_client=client)
    return Agent(name="travel", instructions="You are a travel assistant.", model=model, tools=[get_weather, get_time])


@pytest.mark.asyncio
async def test_the_streamed_run_calls_both_tools_then_answers(fake_llm: FakeLLM) -> None:
    fake_llm.load(SCENARIO)
    async with fake_llm.async_openai() as client:
        run = Runner.run_streamed(travel_agent(client), QUESTION)
        kinds = [event.type async for event in run.stream_events()]
    assert run.final_output == ANSWER
    assert "run_item_stream_event" in kinds
    assert [entry.rule for entry in fake_llm.journal] == [0, 1, 2]


@pytest.mark.asyncio
async def test_the_same_scenario_through_the_responses_api(fake_llm: FakeLLM) -> None:
    fake_llm.load(SCENARIO)
    async with fake_llm.async_openai() as client:
        result = await Runner.run(travel_agent(client, responses=True), QUESTION)
    assert result.final_output == ANSWER
    assert {entry.path for entry in fake_llm.journal} == {"/v1/responses"}
