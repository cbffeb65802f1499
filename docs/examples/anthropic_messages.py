"""The Anthropic Messages API: either auth header, errors in Anthropic's shape, and the
in-band error that the anthropic SDK raises with status 200.

The SDK part needs the `anthropic` SDK; without it, that part is skipped with a note.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import aiohttp

from sparring import FakeServer, Fault, Scenario, error, reply

try:
    import anthropic
except ImportError:  # the docs tests also run where only openai is installed
    anthropic = None

BODY = {"model": "claude-sparring-1", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}


async def post(url: str, headers: dict[str, str]) -> tuple[Any, str]:
    """Any HTTP client will do; here aiohttp, which sparring installs. The JSON, and the request id."""
    async with aiohttp.ClientSession() as http, http.post(url, json=BODY, headers=headers) as answer:
        return await answer.json(), answer.headers["request-id"]


def main() -> None:
    # Either auth form is accepted, and no key is checked.
    with FakeServer(Scenario.of(reply("Hello!", times=2))) as server:
        for auth in ({"x-api-key": "sk-ant-test"}, {"authorization": "Bearer sk-ant-test"}):
            headers = {"anthropic-version": "2023-06-01", **auth}
            answer, request_id = asyncio.run(post(f"{server.url}/v1/messages", headers))
            assert answer["content"] == [{"type": "text", "text": "Hello!"}]
            assert request_id.startswith("req_011C")

    if anthropic is None:
        print("anthropic is not installed: the SDK part is skipped")
        return
    scenario = Scenario.of(
        # 529 overloaded_error, twice: the SDK retries it, then gets the answer.
        error("overloaded", retry_after_ms=10, times=2),
        reply("Through at last."),
        # A 429 carries retry-after and anthropic-ratelimit-* headers, resets as RFC 3339 times.
        error("rate_limit"),
        # An error event after the 200: message_start, content_block_start, ping, one delta.
        reply("One two three", fault=Fault("error_event", after_chunk=4, error="overloaded")),
    )
    with (
        FakeServer(scenario) as server,
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=2) as client,
    ):
        message = client.messages.create(**BODY)
        assert message.content[0].text == "Through at last."
        assert [entry.status for entry in server.journal()] == [529, 529, 200]

        try:
            client.with_options(max_retries=0).messages.create(**BODY)
        except anthropic.RateLimitError as exc:
            limited = exc
        else:
            raise AssertionError("expected a 429")
        assert limited.body["error"]["type"] == "rate_limit_error"
        assert limited.request_id.startswith("req_011C")  # from the request-id header
        assert limited.response.headers["retry-after"] == "1"
        reset = datetime.strptime(limited.response.headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
        assert 0 < (reset.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)).total_seconds() <= 2

        text = ""
        try:
            with client.messages.stream(**BODY) as stream:
                for piece in stream.text_stream:
                    text += piece
        except anthropic.APIStatusError as exc:
            in_band = exc
        else:
            raise AssertionError("expected an in-band error")
    assert text == "One"
    # Not an OverloadedError: the status line said 200 before the error event came.
    assert type(in_band) is anthropic.APIStatusError
    assert (in_band.status_code, in_band.type) == (200, "overloaded_error")

    # A connection cut during the stream: anthropic 2.x lets the exception of httpx2, its HTTP
    # library, through; anthropic.APIConnectionError does not catch it. No retry.
    import httpx2  # installed with anthropic

    cut = Scenario.of(reply("One two three", fault=Fault("reset", after_chunk=4)))
    with (
        FakeServer(cut) as server,
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=2) as client,
    ):
        try:
            with client.messages.stream(**BODY) as stream:
                for _ in stream.text_stream:
                    pass
        except httpx2.TransportError as exc:
            broken = exc
        else:
            raise AssertionError("expected a broken stream")
        assert type(broken) is httpx2.ReadError
        assert len(server.journal()) == 1


if __name__ == "__main__":
    main()
