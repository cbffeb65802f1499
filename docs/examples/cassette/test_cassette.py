"""`@pytest.mark.sparring_cassette`: a test replayed from its own recording of an API.

Its cassette, `cassettes/test_cassette/test_capital_of_france.yaml`, was recorded once with
`--sparring-record-mode=once` (from a sparring server on 127.0.0.1 standing in for the real
API: no traffic leaves this machine's tests). tests/test_cassettes.py replays it (mode `none`).
"""

from __future__ import annotations

import pytest

from sparring import FakeLLM


# --8<-- [start:cassette]
@pytest.mark.sparring_cassette  # cassettes/test_cassette/test_capital_of_france.yaml
def test_capital_of_france(fake_llm: FakeLLM) -> None:
    client = fake_llm.openai()
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "Paris" in text
    assert [entry.outcome for entry in fake_llm.journal] == ["completed"]


# --8<-- [end:cassette]
