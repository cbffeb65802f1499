"""What an answer can say: tool calls, a refusal, several choices, usage, the model, headers."""

from __future__ import annotations

from openai import OpenAI

from sparring import FakeServer, Scenario, message, reply, tool_call

QUESTION = [{"role": "user", "content": "Tell me something."}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def main() -> None:
    scenario = Scenario.of(
        reply(tool_calls=[tool_call("get_weather", {"city": "Paris"}, id="call_1")]),
        reply(refusal="I can't help with that."),
        reply(choices=[message("Paris."), message("It is Paris.")]),
        reply("Cut off", finish_reason="length", usage={"prompt_tokens": 100}, model="gpt-4o-2024-08-06"),
        reply("With a header.", headers={"x-request-id": "req_fixed"}),
    )
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        # A streamed tool call: the SDK's stream helper joins the argument fragments.
        with client.chat.completions.stream(model="gpt-4o", messages=QUESTION, tools=TOOLS) as stream:
            fragments = [e.arguments_delta for e in stream if e.type == "tool_calls.function.arguments.delta"]
            called = stream.get_final_completion().choices[0]
        assert called.finish_reason == "tool_calls"
        assert called.message.tool_calls[0].id == "call_1"
        assert called.message.tool_calls[0].function.arguments == '{"city":"Paris"}'
        assert len(fragments) > 2  # split like tokens by default

        refused = client.chat.completions.create(model="gpt-4o", messages=QUESTION).choices[0].message
        assert refused.refusal == "I can't help with that."
        assert refused.content is None

        both = client.chat.completions.create(model="gpt-4o", messages=QUESTION, n=2)
        assert [c.message.content for c in both.choices] == ["Paris.", "It is Paris."]

        short = client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        assert short.choices[0].finish_reason == "length"
        assert short.model == "gpt-4o-2024-08-06"
        assert short.usage is not None
        assert short.usage.prompt_tokens == 100  # as scripted
        assert short.usage.completion_tokens == 2  # derived from the text: "Cut", " off"

        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=QUESTION)
        assert raw.headers["x-request-id"] == "req_fixed"


if __name__ == "__main__":
    main()
