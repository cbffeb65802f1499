"""The first test: script a reply, stream it through the openai SDK, check the text."""

from __future__ import annotations

# --8<-- [start:first]
from sparring import FakeLLM, reply


def test_first_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello, world!"))
    client = fake_llm.openai()
    stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "Hello, world!"


# --8<-- [end:first]


# --8<-- [start:journal]
def test_what_the_server_saw(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo"]))
    fake_llm.openai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    (entry,) = fake_llm.journal
    assert entry.body["messages"] == [{"role": "user", "content": "Hi"}]
    assert entry.status == 200
    assert entry.outcome == "completed"
    assert fake_llm.unused() == []


# --8<-- [end:journal]
