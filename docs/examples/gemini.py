"""The Gemini API through Google's google-genai SDK: streamed and whole text, a function call,
a blocked prompt, a 429 with its RetryInfo, the SDK's retries, and an in-band error.

Needs google-genai (`pip install 'sparring[gemini]'`).
"""

from __future__ import annotations

import asyncio

from google import genai
from google.genai import errors, types

from sparring import FakeServer, Fault, Scenario, error, reply, rule, tool_call

SCENARIO = Scenario.of(
    # `message` matches the last user turn's text.
    rule(reply("It is sunny in Paris.", times=2), message="weather"),
    rule(reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})]), message="Paris"),
    rule(error(400, code="content_filter"), message="forbidden"),  # a prompt Google's filters block
    rule(error("rate_limit", retry_after=20), message="busy"),
    rule(error("overloaded", times=2), reply("Third time lucky."), message="retry"),
    rule(reply("One two three four", fault=Fault("error_event", after_chunk=2, error="unavailable")), message="fail"),
)
MODEL = "gemini-2.5-flash"


def main() -> None:
    with FakeServer(SCENARIO) as server:
        # The SDK adds /v1/models/MODEL:generateContent to base_url itself.
        client = genai.Client(api_key="sk-test", http_options=types.HttpOptions(base_url=server.url))

        # A stream of GenerateContentResponse chunks; the last has the finish reason and usage.
        chunks = list(client.models.generate_content_stream(model=MODEL, contents="What is the weather?"))
        assert "".join(c.text or "" for c in chunks) == "It is sunny in Paris."
        assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
        usage = chunks[-1].usage_metadata  # counted from the turns and the text, unless scripted
        assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count

        # Whole, the same answer.
        assert client.models.generate_content(model=MODEL, contents="And the weather?").text == "It is sunny in Paris."

        # A function call: its arguments arrive as a dict.
        (call,) = client.models.generate_content(model=MODEL, contents="Paris?").function_calls or []
        assert (call.name, call.args) == ("get_weather", {"city": "Paris"})

        # A blocked prompt is no error: a 200 with promptFeedback, and no candidates.
        blocked = client.models.generate_content(model=MODEL, contents="forbidden words")
        assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
        assert blocked.text is None

        # A 429: ClientError, Google's status name, and how long to wait in a RetryInfo detail.
        try:
            client.models.generate_content(model=MODEL, contents="busy?")
        except errors.ClientError as exc:
            limited = exc
        else:
            raise AssertionError("a 429 was scripted")
        assert (limited.code, limited.status) == (429, "RESOURCE_EXHAUSTED")
        assert limited.details["error"]["details"][-1]["retryDelay"] == "20s"

        # The SDK retries nothing unless told to; told, it retries 429s and 5xx on its own backoff.
        retries = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.01, jitter=0)
        patient = genai.Client(
            api_key="sk-test", http_options=types.HttpOptions(base_url=server.url, retry_options=retries)
        )
        assert patient.models.generate_content(model=MODEL, contents="retry").text == "Third time lucky."

    asyncio.run(in_band_error())


async def in_band_error() -> None:
    """`data: {"error": {...}}` after two chunks: the SDK yields them, then raises."""
    with FakeServer(SCENARIO) as server:
        client = genai.Client(api_key="sk-test", http_options=types.HttpOptions(base_url=server.url))
        got = []
        try:
            async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="fail"):
                got.append(chunk.text)
        except errors.ServerError as exc:
            failed = exc
        else:
            raise AssertionError("an in-band error was scripted")
        finally:
            await client.aio.aclose()
    assert (got, failed.code, failed.status) == (["One", " two"], 503, "UNAVAILABLE")
