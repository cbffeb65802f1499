"""`@pytest.mark.sparring`: scenarios loaded before the test, generated answers, strictness."""

from __future__ import annotations

import pytest

from sparring import FakeLLM, reply

MESSAGES = [{"role": "user", "content": "Hi"}]


# --8<-- [start:scenario]
@pytest.mark.sparring(scenario="rate-limited-then-ok")  # from the built-in library
def test_rate_limited_then_ok(fake_llm: FakeLLM) -> None:
    answer = fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Thanks for waiting. Here is your answer."
    assert [entry.status for entry in fake_llm.journal] == [429, 429, 200]


@pytest.mark.sparring(scenario="greeting")  # scenarios/greeting.yaml, from sparring_scenarios
def test_my_own_scenario(fake_llm: FakeLLM) -> None:
    answer = fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello from my scenario folder!"


# --8<-- [end:scenario]


# --8<-- [start:fallback]
@pytest.mark.sparring(fallback="default")
def test_any_question_gets_an_answer(fake_llm: FakeLLM) -> None:
    client = fake_llm.openai()
    first = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    again = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert first.choices[0].message.content == again.choices[0].message.content  # same question, same answer


# --8<-- [end:fallback]


# --8<-- [start:strict]
@pytest.mark.sparring(strict=False)
def test_spare_replies_allowed(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello"), reply("never asked for"))
    fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert fake_llm.unused() == ["rule 1 [any request] reply 2: text 'never asked for', never used"]


def test_one_spare_reply_allowed(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello"), reply("only if the client retries", optional=True))
    fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert fake_llm.unused() == []


# --8<-- [end:strict]
