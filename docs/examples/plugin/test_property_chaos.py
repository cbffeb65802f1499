"""The how-to "Find the bug your tests missed" (docs/how-to/property-based-chaos.md): a
client that retries a dropped stream, its hand-written test, and the property that finds
what that test missed."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from hypothesis import HealthCheck, given, settings

from sparring import reply, strategies
from sparring.scenario.delivery import Fault
from sparring.scenario.model import Answer, Scenario

TEXT = "Paris is the capital of France."


# --8<-- [start:client]
def stream_answer(client: openai.OpenAI, question: str) -> Iterator[str]:
    """Yield the answer's text as it streams; if the stream breaks, try again."""
    for attempt in range(3):
        try:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
            return
        except openai.APIStatusError:  # the server said no: asking again will not help
            raise
        except Exception:  # a dropped connection, a bad chunk: try again
            if attempt == 2:
                raise


# --8<-- [end:client]


# --8<-- [start:hand-written]
def test_a_dropped_connection_is_retried(fake_llm):
    fake_llm.add(reply(TEXT, fault=Fault("reset", after_chunk=0)), reply(TEXT))
    client = fake_llm.openai()
    assert "".join(stream_answer(client, "capital of France?")) == TEXT


# --8<-- [end:hand-written]


# --8<-- [start:run]
def run(stream: Iterator[str]) -> tuple[str, BaseException | None]:
    """What the consumer saw: the text, and the error the stream ended in, if any."""
    received = ""
    try:
        for piece in stream:
            received += piece
    except Exception as exc:  # an SDK error, a chunk that is not JSON, or (openai 2.x) httpx's own
        return received, exc
    return received, None


# --8<-- [end:run]


# --8<-- [start:property]
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run: a CI failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(script=strategies.misbehaving_streams(text=TEXT))
def check_my_client(fake_llm, script):
    client = fake_llm.openai()
    with fake_llm.example(script):  # a fresh scenario and journal for each example
        received, error = run(stream_answer(client, "capital of France?"))
        strategies.check_stream_invariants(fake_llm, TEXT, received, error)


# --8<-- [end:property]


def test_the_property_finds_the_bug(fake_llm):
    """`check_my_client` as the how-to runs it (named `test_...` there): it fails, and the
    scenario it prints is the smallest one that shows the bug."""
    with pytest.raises(strategies.InvariantError, match="duplicated output") as caught:
        check_my_client(fake_llm)
    notes = "\n".join(caught.value.__notes__)
    print(notes)
    cut, answer = _scenario(notes).rules[0].replies
    assert isinstance(cut, Answer)
    assert isinstance(answer, Answer)
    assert cut.fault is not None
    assert cut.fault.kind == "reset"
    fake_llm.reset()


def _scenario(notes: str) -> Scenario:
    from sparring import parse_scenario

    yaml_text = notes.split("regression .yaml):\n", 1)[1].split("sparring exchange", 1)[0]
    return parse_scenario(yaml_text)
