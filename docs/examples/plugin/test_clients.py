"""Pointing clients at the fake server: the anthropic SDK, code that reads the environment,
and the test's own URLs."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from sparring import FakeLLM, reply

MESSAGES = [{"role": "user", "content": "Hi"}]


# --8<-- [start:anthropic]
def test_with_the_anthropic_sdk(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello from Claude"))
    client = fake_llm.anthropic()
    with client.messages.stream(model="claude-sparring-1", max_tokens=100, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello from Claude"
    assert fake_llm.journal[0].path == "/v1/messages"


@pytest.mark.asyncio
async def test_with_the_async_anthropic_sdk(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello again"))
    async with fake_llm.async_anthropic() as client:
        message = await client.messages.create(model="claude-sparring-1", max_tokens=100, messages=MESSAGES)
    assert message.content[0].model_dump()["text"] == "Hello again"


# --8<-- [end:anthropic]


# --8<-- [start:env]
def summarize(text: str) -> str:
    """Code under test that makes its own client, from the environment."""
    import openai

    with openai.OpenAI() as client:  # reads OPENAI_BASE_URL and OPENAI_API_KEY
        answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
    return answer.choices[0].message.content or ""


def test_code_that_makes_its_own_client(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("A short summary."))
    fake_llm.patch_env()  # undone when the test ends, pass or fail
    assert summarize("A long text.") == "A short summary."
    assert fake_llm.journal[0].body["messages"][0]["content"] == "A long text."


# --8<-- [end:env]


# --8<-- [start:env_fixture]
class Summarizer:
    """Code under test that makes its client once, when it is made."""

    def __init__(self) -> None:
        import openai

        self.client = openai.OpenAI()  # reads the environment now

    def summarize(self, text: str) -> str:
        answer = self.client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
        return answer.choices[0].message.content or ""


@pytest.fixture
def summarizer(fake_llm: FakeLLM) -> Iterator[Summarizer]:
    fake_llm.patch_env()  # before the client is made
    made = Summarizer()
    yield made
    made.client.close()


def test_a_client_made_in_a_fixture(fake_llm: FakeLLM, summarizer: Summarizer) -> None:
    fake_llm.add(reply("Shorter."))
    assert summarizer.summarize("Longer.") == "Shorter."


# --8<-- [end:env_fixture]


# --8<-- [start:urls]
def test_the_urls_of_a_test(fake_llm: FakeLLM) -> None:
    assert fake_llm.url.endswith(f"/ns/{fake_llm.namespace}")  # http://127.0.0.1:PORT/ns/test-...
    assert fake_llm.base_url == fake_llm.url + "/v1"
    fake_llm.add(reply("Hi"))
    fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    # The control API under the test's root reads this test's journal.
    with urllib.request.urlopen(f"{fake_llm.url}/_sparring/journal") as response:
        journal = json.load(response)
    assert journal["namespace"] == fake_llm.namespace
    assert [entry["path"] for entry in journal["entries"]] == ["/v1/chat/completions"]


# --8<-- [end:urls]
