"""Every scenario in the library, through every SDK's streaming helper: the openai SDK's
`chat.completions.stream()` and `responses.stream()`, and the anthropic SDK's
`messages.stream()`. Each final object must be what the real API would give for that content.
Expectations are read from the YAML with PyYAML, not from sparring's model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from sparring import FakeServer, builtin_names, load_scenario

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HELPERS = ["chat", "responses", "anthropic"]
HAS_ANTHROPIC = importlib.util.find_spec("anthropic") is not None
QUESTION = "What is the weather in Paris?"
WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}


def answer_of(name: str) -> dict[str, Any]:
    """The reply a client ends up with: the last one scripted (the others are errors)."""
    data = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))
    reply: dict[str, Any] = data["replies"][-1]
    return reply


def chat_final(server: FakeServer, n: int) -> dict[str, Any]:
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER, "strict": True}}]
    with (
        openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client,
        client.chat.completions.stream(
            model="gpt-4o",
            messages=[{"role": "user", "content": QUESTION}],
            tools=tools,
            n=n,
            stream_options={"include_usage": True},  # as the real API, no usage chunk without it
        ) as stream,
    ):
        final = stream.get_final_completion()
    out: dict[str, Any] = {"texts": [c.message.content for c in final.choices]}
    first = final.choices[0]
    out["finish"] = first.finish_reason
    out["refusal"] = first.message.refusal
    out["calls"] = [(c.function.name, json.loads(c.function.arguments)) for c in first.message.tool_calls or []]
    out["usage"] = final.usage is not None and final.usage.total_tokens > 0
    return out


def responses_final(server: FakeServer) -> dict[str, Any]:
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER, "strict": True}]
    with (
        openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client,
        client.responses.stream(model="gpt-4o", input=QUESTION, tools=tools) as stream,
    ):
        final = stream.get_final_response()
    out: dict[str, Any] = {"texts": [final.output_text or None], "finish": final.status, "refusal": None, "calls": []}
    for item in final.output:
        if item.type == "function_call":
            out["calls"].append((item.name, json.loads(item.arguments)))
        if item.type == "message":
            refusals = [part.refusal for part in item.content if part.type == "refusal"]
            out["refusal"] = refusals[0] if refusals else None
    out["usage"] = final.usage is not None and final.usage.total_tokens > 0
    return out


def anthropic_final(server: FakeServer) -> dict[str, Any]:
    import anthropic

    tools: Any = [{"name": "get_weather", "input_schema": WEATHER}]
    with (
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test") as client,
        client.messages.stream(
            model="claude-sparring-1", max_tokens=256, messages=[{"role": "user", "content": QUESTION}], tools=tools
        ) as stream,
    ):
        final = stream.get_final_message()
    texts = [block.text for block in final.content if block.type == "text"]
    calls = [(block.name, block.input) for block in final.content if block.type == "tool_use"]
    out: dict[str, Any] = {"texts": [texts[0] if texts else None], "finish": final.stop_reason, "calls": calls}
    out["refusal"] = texts[0] if final.stop_reason == "refusal" else None
    out["usage"] = final.usage.output_tokens > 0
    return out


# What each API calls a finish: (plain answer, tool call, refusal).
FINISH = {
    "chat": ("stop", "tool_calls", "stop"),
    "responses": ("completed", "completed", "completed"),
    "anthropic": ("end_turn", "tool_use", "refusal"),
}


@pytest.mark.parametrize("helper", HELPERS)
@pytest.mark.parametrize("name", builtin_names())
def test_library_scenario_through_the_streaming_helper(name: str, helper: str) -> None:
    if helper == "anthropic" and not HAS_ANTHROPIC:
        pytest.skip("the anthropic SDK is not installed here; the main environment runs these")
    expected = answer_of(name)
    choices = expected.get("choices")
    with FakeServer(load_scenario(name)) as server:
        if helper == "chat":
            got = chat_final(server, n=len(choices) if choices else 1)
        elif helper == "responses":
            got = responses_final(server)
        else:
            got = anthropic_final(server)
        journal = server.journal()
    plain, tool, refused = FINISH[helper]
    assert got["usage"], "usage is reported"
    assert journal[-1].outcome == "completed"
    if "tool_calls" in expected:
        call = expected["tool_calls"][0]
        assert got["calls"] == [(call["name"], call["arguments"])]
        assert got["finish"] == tool
    elif "refusal" in expected:
        assert got["refusal"] == expected["refusal"]
        assert got["finish"] == refused
    elif choices:
        texts = [c["text"] for c in choices]
        assert got["texts"] == (texts if helper == "chat" else texts[:1]), "one choice where the API has no n"
    elif "text" in expected:
        assert got["texts"] == [expected["text"]]
        assert got["finish"] == plain
    else:
        sentences = expected["faker"]["sentences"]
        assert got["texts"][0].count(".") == sentences, "generated text of the scripted length"
    if any("error" in r for r in yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())["replies"]):
        assert [e.status for e in journal] == [429, 429, 200], "the SDK retried its way through"


def test_generated_text_is_the_same_in_every_api() -> None:
    """One scenario, one text: the same faker seed gives the same answer whichever API asks."""
    texts = []
    helpers = HELPERS if HAS_ANTHROPIC else HELPERS[:2]
    for helper in helpers:
        with FakeServer(load_scenario("generated-answer")) as server:
            final = {"chat": lambda s: chat_final(s, 1), "responses": responses_final, "anthropic": anthropic_final}[
                helper
            ](server)
        texts.append(final["texts"][0])
    assert len(set(texts)) == 1
    assert texts[0]
