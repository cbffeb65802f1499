"""Property-based chaos under virtual time: `@given` on an async test marked
`@pytest.mark.sparring_virtual_time`, each example scripted with `async with fake_llm.example`,
waits of many seconds (retry-after, first tokens, stalls) through the async SDKs at no wall
cost; the cleanup invariant; scenarios meant for one API (`api=`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings

from sparring import strategies
from sparring.plugin.examples import ExampleError
from sparring.plugin.fake_llm import FakeLLM
from sparring.scenario.builders import reply
from sparring.scenario.delivery import Fault
from sparring.scenario.loader import parse_scenario
from sparring.scenario.model import Answer, ErrorReply, Scenario
from tests.test_plugin import run_subprocess, write

pytest_plugins = ["pytester"]

TEXT = "Paris is the capital of France."
MESSAGES = [{"role": "user", "content": "capital of France?"}]
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
WAIT = 30.0  # seconds: retry-after, first-token delays, gaps, stalls as long as production's


@pytest_asyncio.fixture
async def client(fake_llm: FakeLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    """One client for all the examples of a test (its pool on the test's loop)."""
    async with fake_llm.async_openai(max_retries=2) as sdk:
        yield sdk


async def chat_text(sdk: openai.AsyncOpenAI) -> tuple[str, BaseException | None]:
    """What the consumer saw: the streamed text, and the error it ended in, if any."""
    received = ""
    try:
        stream = await sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += chunk.choices[0].delta.content
    except Exception as exc:  # an SDK error, a chunk that is not JSON
        return received, exc
    return received, None


# -- seconds of waits in every example, no wall time ------------------------------------------


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=WAIT))
async def test_the_async_openai_sdk_keeps_the_invariants_through_seconds_of_waits(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI, script: Scenario
) -> None:
    loop = asyncio.get_running_loop()
    started, virtual_start = time.perf_counter(), loop.time()
    async with fake_llm.example(script):
        received, error = await chat_text(client)
        await strategies.check_cleanup_ran(fake_llm)
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)
    strategies.check_no_retry_after_output(fake_llm)
    # Every example on the virtual clock, its server on the loop: the scripted seconds passed
    # on the loop's clock, not on the wall's (a generous bound: a few ms against seconds).
    virtual, wall = loop.time() - virtual_start, time.perf_counter() - started
    if virtual > 5.0:
        assert wall < virtual / 2


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=QUIET)
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=WAIT, errors=strategies.error_replies(retryable=True, max_retry_after=WAIT), fault=False))
async def test_retry_after_of_seconds_is_waited_on_the_virtual_clock(
    fake_llm: FakeLLM, client: openai.AsyncOpenAI, script: Scenario
) -> None:
    async with fake_llm.example(script):
        received, error = await chat_text(client)
    assert (received, error) == (TEXT, None)  # two retries at most, and the errors are retryable
    strategies.check_honours_retry_after(fake_llm)
