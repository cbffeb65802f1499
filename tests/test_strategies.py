"""sparring.strategies: hypothesis strategies over the fake server, `fake_llm.example` for a
fresh state per example, and the stream invariants, against real clients over real sockets."""

from __future__ import annotations

import time

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparring.plugin.fake_llm import FakeLLM
from sparring.scenario.model import Answer, ErrorReply, Scenario
from sparring import strategies

TEXT = "Paris is the capital of France."
# `fake_llm.example` gives each example a fresh state: that is what the health check is about.
FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def stream_text(client: openai.OpenAI) -> tuple[str, BaseException | None]:
    """What the openai SDK delivers: the text of every delta, and the error it ended in."""
    received = ""
    try:
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received += chunk.choices[0].delta.content
    except (openai.OpenAIError, ValueError) as exc:
        return received, exc
    return received, None


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE)
@given(script=strategies.misbehaving_streams(text=TEXT))
def test_the_openai_sdk_keeps_the_invariants(fake_llm: FakeLLM, script: Scenario) -> None:
    client = CLIENTS.setdefault(fake_llm.namespace, fake_llm.openai(max_retries=2, timeout=10))
    with fake_llm.example(script):
        received, error = stream_text(client)
        strategies.check_stream_invariants(fake_llm, TEXT, received, error)


CLIENTS: dict[str, openai.OpenAI] = {}
