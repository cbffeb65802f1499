"""Fail on purpose: the docs show their reports. Not collected with the passing examples (the
name does not start with `test_`); tests/test_docs_examples.py runs this file alone."""

from __future__ import annotations

import contextlib

import openai

from sparring import FakeLLM, reply, rule

MESSAGES = [{"role": "user", "content": "Hi"}]


# --8<-- [start:wrong_model]
def test_asks_the_wrong_model(fake_llm: FakeLLM) -> None:
    fake_llm.add(rule(reply("Hello"), model="gpt-4o-mini"))
    client = fake_llm.openai()
    with contextlib.suppress(openai.NotFoundError):  # swallowed, as a retry loop or a catch-all would
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


# --8<-- [end:wrong_model]


# --8<-- [start:fails_first]
def test_fails_first(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello"), reply("spare"))
    stream = fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "Goodbye"


# --8<-- [end:fails_first]
