"""Matching on what the client sent, through the openai SDK and the anthropic SDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
from openai import OpenAI

from sparring import FakeServer, load_scenario

SCENARIO = Path(__file__).with_name("conversation.yaml")


def main() -> None:
    with FakeServer(load_scenario(SCENARIO)) as server:
        with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:

            def chat(messages: list[Any], **extra: Any) -> str:
                out = client.chat.completions.create(model="gpt-4o", messages=messages, **extra)
                return str(out.choices[0].message.content)

            question = {"role": "user", "content": "Where is the Louvre?"}
            assert chat([question], response_format={"type": "json_object"}) == '{"city": "Paris"}'
            assert chat([question], temperature=0) == "Always the same answer."
            pirate = {"role": "system", "content": "You are a pirate."}
            assert chat([pirate, question]) == "Arr, Paris it be."
            follow_up = [question, {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "Sure?"}]
            assert chat(follow_up) == "As I said, Paris."
            call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            failed = [
                question,
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "error: timeout"},
            ]
            assert chat(failed) == "Sorry, the weather service is down."

        # The same rules, through the Anthropic Messages API: `system` is the system prompt,
        # and a `tool_result` block is a tool result.
        with anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as claude:

            def ask(messages: list[Any], **extra: Any) -> str:
                out = claude.messages.create(model="claude-sparring-1", max_tokens=100, messages=messages, **extra)
                return "".join(block.text for block in out.content if block.type == "text")

            assert ask([question], system="You are a pirate.") == "Arr, Paris it be."
            use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
            result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "error: timeout"}
            turns = [question, {"role": "assistant", "content": [use]}, {"role": "user", "content": [result]}]
            assert ask(turns) == "Sorry, the weather service is down."


if __name__ == "__main__":
    main()
