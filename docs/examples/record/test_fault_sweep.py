"""One recorded answer, broken every way it can break: a test parametrized over its fault sweep.

`capital.yaml` was imported from `chat.txt` (`curl -N -i` output) with `sparring import`; it
could as well come from `sparring record` or a cassette. Each case replays the real stream,
broken on purpose; the client must give the whole answer or a clean error, never half an
answer taken for a whole one, and never hang.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from sparring import FakeLLM, Scenario, fault_sweep, load_scenario

HERE = Path(__file__).parent
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


# --8<-- [start:client]
def ask(client: openai.OpenAI) -> str:
    """The code under test: stream an answer and return its text."""
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


# --8<-- [end:client]


# --8<-- [start:replay]
def test_the_recording_replays(fake_llm: FakeLLM) -> None:
    fake_llm.load(HERE / "capital.yaml")
    assert ask(fake_llm.openai()) == "Paris."
    assert [entry.outcome for entry in fake_llm.journal] == ["completed"]


# --8<-- [end:replay]


# --8<-- [start:sweep]
SWEEP = fault_sweep(
    load_scenario(HERE / "capital.yaml"),
    retry_after=0.1,  # the 429's retry-after: short, for a fast suite
    first_chunk_delay=0.5,  # under the client's 1.5 s read timeout
)


@pytest.mark.parametrize("scenario", SWEEP.values(), ids=SWEEP.keys())
def test_a_whole_answer_or_a_clean_error(fake_llm: FakeLLM, scenario: Scenario) -> None:
    fake_llm.add(*scenario.rules)
    client = fake_llm.openai(timeout=1.5)  # a stall must not hang the client
    try:
        text = ask(client)
    except (openai.APIError, httpx.TransportError):  # what the SDK raises for a broken stream
        return
    assert text == "Paris."


# --8<-- [end:sweep]
