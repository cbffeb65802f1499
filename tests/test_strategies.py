"""sparring.strategies: hypothesis strategies over the fake server, `fake_llm.example` for a
fresh state per example, and the stream invariants, against real clients over real sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time
from collections.abc import Iterator

import openai
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NoSuchExample
from hypothesis import strategies as st

from sparring import strategies
from sparring.client import EventType, LLMClient, RetryPolicy
from sparring.plugin.examples import ExampleError
from sparring.plugin.fake_llm import FakeLLM
from sparring.scenario.builders import error, reply
from sparring.scenario.delivery import Fault, Timing, Wire
from sparring.scenario.loader import parse_scenario
from sparring.scenario.model import Answer, ErrorReply, Scenario

TEXT = "Paris is the capital of France."
# `fake_llm.example` gives each example a fresh state: what this health check warns about.
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
MESSAGES = [{"role": "user", "content": "capital of France?"}]


def sdk_stream(client: openai.OpenAI) -> Iterator[str]:
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def retries_mid_stream(client: openai.OpenAI) -> Iterator[str]:
    """Broken: starts the call again when the stream drops, after yielding part of it."""
    for attempt in range(3):
        try:
            yield from sdk_stream(client)
            return
        except openai.APIConnectionError:
            if attempt == 2:
                raise


def retries_everything(client: openai.OpenAI) -> Iterator[str]:
    """Broken: retries any HTTP error, a 400 included (the SDK itself is set not to retry)."""
    for attempt in range(3):
        try:
            yield from sdk_stream(client)
            return
        except openai.APIStatusError:
            if attempt == 2:
                raise
            time.sleep(0.06)


def run(stream: Iterator[str]) -> tuple[str, BaseException | None]:
    received = ""
    try:
        for piece in stream:
            received += piece
    except (openai.OpenAIError, ValueError) as exc:  # ValueError: a chunk that is not JSON
        return received, exc
    return received, None


def minimal_yaml(exc: BaseException) -> Scenario:
    """The scenario hypothesis's falsifying example noted, parsed back from its YAML."""
    notes = "\n".join(getattr(exc, "__notes__", []))
    head = "sparring scenario of this example (save it as a regression .yaml):\n"
    assert head in notes, notes
    text = notes.split(head, 1)[1].split("sparring exchange of this example:", 1)[0]
    return parse_scenario(text)


# -- the strategies make valid scenarios, shrinking to the plain stream --------------------


@settings(max_examples=100, deadline=None)
@given(
    script=strategies.misbehaving_streams(text=TEXT),
    fault=strategies.faults(events=8, before_headers=True),
    err=strategies.error_replies(),
    wire=strategies.wires(),
    timing=strategies.timings(),
)
def test_every_generated_value_is_a_valid_model(
    script: Scenario, fault: Fault, err: ErrorReply, wire: Wire, timing: Timing
) -> None:
    last = script.rules[-1].replies[-1]
    assert isinstance(last, Answer)
    assert last.content.messages[0].text == TEXT
    assert last.fault is None
    assert all(r.optional for r in script.rules[0].replies[1:])
    # writes as a scenario file and loads back equal
    assert dataclasses.replace(parse_scenario(strategies_yaml(script)), source=None) == script
    assert err.retry_after or err.retry_after_ms
    assert timing.gap <= 0.001 and wire.events_per_write >= 1
    if fault.kind == "stall":
        assert fault.duration is not None


def strategies_yaml(script: Scenario) -> str:
    from sparring.scenario.dump import dump_scenario

    return dump_scenario(script, fmt="yaml")


def test_the_simplest_example_is_the_plain_stream() -> None:
    from hypothesis import find

    assert find(strategies.misbehaving_streams(text=TEXT), lambda s: True) == Scenario.of(reply(TEXT))
    assert find(strategies.wires(), lambda w: True) == Wire()
    assert find(strategies.timings(), lambda t: True) == Timing()


def test_retryable_errors_keep_to_retryable_statuses() -> None:
    from hypothesis import find

    fatal = find(strategies.error_replies(retryable=False), lambda e: True)
    assert fatal.preset == "bad_request"
    with pytest.raises(NoSuchExample):
        find(strategies.error_replies(retryable=True), lambda e: e.status in strategies.FATAL_STATUSES)


# -- correct clients keep the invariants -----------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT))
def test_the_openai_sdk_keeps_the_invariants(fake_llm: FakeLLM, script: Scenario) -> None:
    client = fake_llm.openai(max_retries=2) if not CLIENTS else CLIENTS[0]
    CLIENTS[:] = [client]
    with fake_llm.example(script):
        received, failure = run(sdk_stream(client))
        strategies.check_stream_invariants(fake_llm, TEXT, received, failure)
        strategies.check_no_retry_after_output(fake_llm)


CLIENTS: list[openai.OpenAI] = []


@settings(max_examples=50, deadline=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT))
def test_the_reference_client_keeps_the_invariants(fake_llm: FakeLLM, script: Scenario) -> None:
    async def stream() -> tuple[str, BaseException | None]:
        received = ""
        policy = RetryPolicy(max_attempts=3, initial=0.06, max_backoff=0.1)
        async with LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key, retry_policy=policy) as client:
            try:
                async for event in client.chat_completion(messages=MESSAGES):
                    if event.type == EventType.TEXT_DELTA and event.text_delta is not None:
                        received += event.text_delta.content
                    elif event.type == EventType.ERROR:
                        return received, RuntimeError(event.error)
            except Exception as exc:
                return received, exc
        return received, None

    with fake_llm.example(script):
        received, failure = asyncio.run(stream())
        strategies.check_stream_invariants(fake_llm, TEXT, received, failure)
