"""Matching: the first rule whose match holds and that has replies left answers; the rest miss."""

from __future__ import annotations

from typing import Any

import openai
from openai import OpenAI
from openai.types.chat import ChatCompletion

from sparring import FakeServer, Scenario, reply, rule, tool_call

WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def ask(client: OpenAI, text: str, **extra: Any) -> ChatCompletion:
    return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}], **extra)


def main() -> None:
    scenario = Scenario.of(
        # Only when the request offers tools and mentions the weather.
        rule(reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})]), message="weather", tools=True),
        # Greetings, in any case, twice; then this rule is used up and the next one is tried.
        rule(reply("Hello!", times=2), message_regex=r"(?i)^(hi|hello)\b"),
        # Anything else, but only once.
        reply("Anything else?"),
    )
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        call = ask(client, "What's the weather in Paris?", tools=[WEATHER_TOOL]).choices[0]
        assert call.finish_reason == "tool_calls"
        assert call.message.tool_calls[0].function.arguments == '{"city":"Paris"}'

        assert ask(client, "hi there").choices[0].message.content == "Hello!"
        assert ask(client, "HELLO").choices[0].message.content == "Hello!"
        # The greeting rule is used up, so the next rule whose match holds answers.
        assert ask(client, "hello again").choices[0].message.content == "Anything else?"

        # Nothing is left: the server answers 404 with an explanation, and `x-should-retry: false`.
        try:
            ask(client, "Are you still there?")
        except openai.NotFoundError as exc:
            miss = exc
        else:
            raise AssertionError("expected a 404")
        assert miss.response.headers["x-should-retry"] == "false"
        assert miss.body["type"] == "sparring_unmatched_request"
        assert miss.body["code"] == "sparring_no_reply"
        explanation = miss.body["message"]
        assert explanation.startswith("sparring: no scripted reply answers POST /v1/chat/completions")
        # For each rule, why it did not answer: the first key that does not hold, or used up.
        assert (
            "Why no rule answered: rule 3 [any request] (text 'Anything else?'): used up: 1 of 1 reply sent;"
            in explanation
        )
        assert (
            "rule 1 [message='weather', tools=True] (tool calls get_weather): last user message 'Are you" in explanation
        )

        missed = server.journal()[-1]
    assert missed.outcome == "unmatched"
    assert missed.status == 404


if __name__ == "__main__":
    main()
