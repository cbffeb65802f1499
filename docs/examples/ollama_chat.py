"""Ollama's native API through the official `ollama` client: streamed and whole chat and
generate, a tool call, an error, a stream cut short and an in-band error line.

Needs the `ollama` client (`pip install 'sparring[ollama]'`).
"""

from __future__ import annotations

import asyncio

import httpx  # installed with ollama
import ollama

from sparring import FakeServer, Fault, Scenario, error, reply, rule, tool_call

SCENARIO = Scenario.of(
    # `message` matches the last user message on /api/chat, the prompt on /api/generate.
    rule(reply("It is sunny in Paris.", times=2), message="weather"),
    rule(reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})]), message="Paris"),
    rule(error("not_found"), model="qwen9:1b"),  # what Ollama says of a model it has not pulled
    rule(reply("One two three four", fault=Fault("close", after_chunk=2)), message="cut"),
    rule(reply("One two three four", fault=Fault("error_event", after_chunk=2, error="rate_limit")), message="fail"),
)
USER = [{"role": "user", "content": "What is the weather?"}]


def main() -> None:
    with FakeServer(SCENARIO) as server, ollama.Client(host=server.url) as client:
        # A stream of parts (NDJSON lines); the last is the `done` record with the timings.
        parts = list(client.chat(model="llama3.2", messages=USER, stream=True))
        assert "".join(p.message.content or "" for p in parts) == "It is sunny in Paris."
        last = parts[-1]
        assert (last.done, last.done_reason) == (True, "stop")
        assert last.eval_duration == last.eval_count * 20_000_000  # nanoseconds: 50 tokens/s

        # /api/generate, whole (`stream=False` is the client's default).
        answer = client.generate(model="llama3.2", prompt="And the weather tomorrow?")
        assert answer.response == "It is sunny in Paris."

        # A tool call: its arguments arrive as a dict.
        called = client.chat(model="llama3.2", messages=[{"role": "user", "content": "Paris?"}])
        (call,) = called.message.tool_calls or []
        assert (call.function.name, call.function.arguments) == ("get_weather", {"city": "Paris"})

        # HTTP errors are `ResponseError`, with the status; the client never retries.
        try:
            client.chat(model="qwen9:1b", messages=USER)
        except ollama.ResponseError as exc:
            missing = exc
        else:
            raise AssertionError("a 404 was scripted")
        assert (missing.status_code, missing.error) == (404, "model 'qwen9:1b' not found")

        # A stream cut short raises httpx's own error, unwrapped, after the lines that arrived.
        got = []
        try:
            for part in client.chat(model="llama3.2", messages=[{"role": "user", "content": "cut"}], stream=True):
                got.append(part.message.content)
        except httpx.RemoteProtocolError:
            pass
        else:
            raise AssertionError("the stream was scripted to be cut")
        assert got == ["One", " two"]

    asyncio.run(in_band_error())


async def in_band_error() -> None:
    """An `{"error": ...}` line after the 200: `ResponseError` with status code -1."""
    with FakeServer(SCENARIO) as server:
        async with ollama.AsyncClient(host=server.url) as client:
            got = []
            try:
                stream = await client.chat(
                    model="llama3.2", messages=[{"role": "user", "content": "fail"}], stream=True
                )
                async for part in stream:
                    got.append(part.message.content)
            except ollama.ResponseError as exc:
                in_band = exc
            else:
                raise AssertionError("an error line was scripted")
    assert (got, in_band.status_code) == (["One", " two"], -1)
    assert in_band.error == "you've reached your hourly usage limit, please wait or upgrade to continue"
