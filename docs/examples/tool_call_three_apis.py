"""One tool call, three shapes: Chat `tool_calls`, a Responses `function_call` item, an
Anthropic `tool_use` block. The finish reason follows: `tool_calls`, `completed`, `tool_use`.

The Anthropic part needs the `anthropic` SDK; without it, that part is skipped with a note.
"""

from __future__ import annotations

from openai import OpenAI

from sparring import FakeServer, Scenario, reply, tool_call

try:
    from anthropic import Anthropic
except ImportError:  # the docs tests also run where only openai is installed
    Anthropic = None

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
QUESTION = "Weather in Paris?"


def main() -> None:
    call = tool_call("get_weather", {"city": "Paris"}, split=4)  # arguments in 4-character pieces
    scenario = Scenario.of(reply("Let me check.", tool_calls=[call], repeat=True))
    with FakeServer(scenario) as server:
        with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            # Chat: the text, then tool_calls deltas whose arguments the SDK concatenates.
            tool = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
            with client.chat.completions.stream(
                model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], tools=[tool]
            ) as stream:
                choice = stream.get_final_completion().choices[0]
            assert choice.message.content == "Let me check."
            [chat_call] = choice.message.tool_calls
            assert (chat_call.function.name, chat_call.function.arguments) == ("get_weather", '{"city":"Paris"}')
            assert chat_call.id.startswith("call_")
            assert choice.finish_reason == "tool_calls"

            # Responses: a message item, then a function_call item with its call id.
            tool = {"type": "function", "name": "get_weather", "parameters": SCHEMA, "strict": False}
            with client.responses.stream(model="gpt-4o", input=QUESTION, tools=[tool]) as stream:
                response = stream.get_final_response()
            message, function_call = response.output
            assert message.type == "message"
            assert response.output_text == "Let me check."
            assert (function_call.type, function_call.name) == ("function_call", "get_weather")
            assert function_call.arguments == '{"city":"Paris"}'
            assert function_call.id.startswith("fc_")
            assert function_call.call_id.startswith("call_")
            assert response.status == "completed"

        if Anthropic is None:
            print("anthropic is not installed: the Messages part is skipped")
            return
        # Anthropic: a text block, then a tool_use block whose input arrives as input_json_delta.
        tool = {"name": "get_weather", "input_schema": SCHEMA}
        with (
            Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as claude,
            claude.messages.stream(
                model="claude-sparring-1",
                max_tokens=100,
                messages=[{"role": "user", "content": QUESTION}],
                tools=[tool],
            ) as stream,
        ):
            json_pieces = [e.partial_json for e in stream if e.type == "input_json"]
            claude_message = stream.get_final_message()
        text, tool_use = claude_message.content
        assert (text.type, text.text) == ("text", "Let me check.")
        assert (tool_use.type, tool_use.name, tool_use.input) == ("tool_use", "get_weather", {"city": "Paris"})
        assert tool_use.id.startswith("toolu_01")
        assert "".join(json_pieces) == '{"city":"Paris"}'
        assert claude_message.stop_reason == "tool_use"


if __name__ == "__main__":
    main()
