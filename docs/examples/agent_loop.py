"""A two-tool agent loop over the openai SDK, scripted by what the agent sends back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
from openai import OpenAI

from sparring import FakeServer, load_scenario

SCENARIO = Path(__file__).with_name("agent-loop.yaml")
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
    for name in ("get_weather", "get_time")
]


def get_weather(city: str) -> str:
    return f"sunny in {city}"


def get_time(city: str) -> str:
    return "12:00"


def run_agent(client: OpenAI, question: str, tools: dict[str, Any]) -> str:
    """The agent under test: call the model, run the tools it asks for, until it answers."""
    messages: list[Any] = [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": question},
    ]
    for _ in range(10):
        said = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS).choices[0].message
        if not said.tool_calls:
            return str(said.content)
        messages.append(said.model_dump(exclude_none=True))
        for call in said.tool_calls:
            result = tools[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise RuntimeError("the agent did not finish")


def main() -> None:
    tools = {"get_weather": get_weather, "get_time": get_time}
    scenario = load_scenario(SCENARIO)
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        answer = run_agent(client, "What is the weather in Paris, and the time there?", tools)
        assert answer == "It is sunny in Paris, and the time there is 12:00."
        rules = [entry.rule for entry in server.journal()]
    assert rules == [0, 1, 2]  # the question, the weather came back, the time came back

    # A tool that fails: no rule expects its result, so the agent gets sparring's 404 at once,
    # which says what the agent sent, instead of the next reply in line.
    broken = {**tools, "get_weather": lambda city: "error: the weather service is down"}
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        try:
            run_agent(client, "What is the weather in Paris, and the time there?", broken)
        except openai.NotFoundError as exc:
            miss = str(exc.body["message"])  # type: ignore[index]
        else:
            raise AssertionError("expected sparring's 404")
    assert "3 messages, the last from tool" in miss
    assert "(get_weather) 'error: the weather service is down'" in miss
    assert "[tool_name='get_weather', tool_result='sunny'] (tool calls get_time): the tool result 'error:" in miss


if __name__ == "__main__":
    main()
