"""`match: {endpoint: ...}`: each rule of `endpoints.yaml` answers one API; the legacy
completions route has no rule, so it gets sparring's 404."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import openai
from openai import OpenAI

from sparring import FakeServer, load_scenario

SCENARIO = Path(__file__).with_name("endpoints.yaml")
HELLO = [{"role": "user", "content": "Hello"}]


async def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as answer:
        return answer.status, await answer.json()


def main() -> None:
    with (
        FakeServer(load_scenario(SCENARIO)) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1) as client,
    ):
        chat = client.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert chat.choices[0].message.content == "Hello from Chat Completions."
        assert client.responses.create(model="gpt-4o", input="Hello").output_text == "Hello from the Responses API."
        # The SDK retries the 429, then gets its vector.
        assert len(client.embeddings.create(model="text-embedding-3-small", input="Hello").data) == 1
        try:
            client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello")
        except openai.NotFoundError as exc:
            miss = exc
        else:
            raise AssertionError("expected a 404")
        assert miss.body["code"] == "sparring_no_reply"

        # Any HTTP client will do (here aiohttp): the 529 comes in Anthropic's shape, then the answer.
        headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
        body = {"model": "claude-sparring-1", "max_tokens": 100, "messages": HELLO}
        status, overloaded = asyncio.run(post(f"{server.url}/v1/messages", body, headers))
        assert status == 529
        assert overloaded["error"] == {"type": "overloaded_error", "message": "Overloaded"}
        status, answer = asyncio.run(post(f"{server.url}/v1/messages", body, headers))
        assert answer["content"][0]["text"] == "Hello from Anthropic Messages."

        seen = [(entry.path, entry.status) for entry in server.journal()]
    assert seen == [
        ("/v1/chat/completions", 200),
        ("/v1/responses", 200),
        ("/v1/embeddings", 429),
        ("/v1/embeddings", 200),
        ("/v1/completions", 404),
        ("/v1/messages", 529),
        ("/v1/messages", 200),
    ]


if __name__ == "__main__":
    main()
