"""The reference client's retry decisions, read off the waits it asks for: a recording `sleep`
replaces asyncio's, so each test knows exactly what the client decided, without waiting."""

from __future__ import annotations

import random

import pytest

from sparring import FakeLLM, Fault, collect, error, reply, tool_call
from sparring.client import EventType, LLMClient, RetryPolicy

HELLO = [{"role": "user", "content": "hi"}]


class Sleeps:
    """Stands in for asyncio.sleep and keeps what the client asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(fake_llm: FakeLLM, sleeps: Sleeps, **options: object) -> LLMClient:
    return LLMClient(
        base_url=fake_llm.base_url, api_key=fake_llm.api_key, sleep=sleeps, rng=random.Random(1), **options
    )  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_retry_after_ms_is_waited_exactly(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after_ms=250), reply("ok"))
    sleeps = Sleeps()
    async with client_for(fake_llm, sleeps) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert events[-1].text == "ok"
    assert sleeps.waits == [0.25]


@pytest.mark.asyncio
async def test_retry_after_seconds_and_http_date(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("unavailable", retry_after=2), error("unavailable", retry_after=3, retry_after_format="date"))
    fake_llm.add(reply("ok"))
    sleeps = Sleeps()
    async with client_for(fake_llm, sleeps) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert events[-1].text == "ok"
    first, second = sleeps.waits
    assert first == 2.0
    # An HTTP date has whole seconds and the server rounds up: 3 to 4 s from when it answered.
    assert 2.0 < second <= 4.0


@pytest.mark.asyncio
async def test_backoff_without_a_server_delay(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("server_error", times=2), reply("ok"))
    sleeps = Sleeps()
    async with client_for(fake_llm, sleeps, retry_policy=RetryPolicy(initial=0.5)) as client:
        await collect(client.chat_completion(HELLO))
    first, second = sleeps.waits
    assert 0.375 <= first <= 0.5, "0.5 s less up to 25 % jitter"
    assert 0.75 <= second <= 1.0, "doubled"


@pytest.mark.asyncio
async def test_a_malformed_chunk_before_any_output_is_reported_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["a", "b"], fault=Fault("malformed_chunk", after_chunk=1)))
    sleeps = Sleeps()
    async with client_for(fake_llm, sleeps) as client:
        (event,) = (await collect(client.chat_completion(HELLO))).events
    assert event.type is EventType.ERROR
    assert (event.error or "").startswith("the server sent a malformed chunk")
    assert event.retryable is False
    assert sleeps.waits == []


@pytest.mark.asyncio
async def test_an_error_event_after_tool_call_fragments_is_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(tool_calls=[tool_call("lookup", '{"q": "paris"}')], fault=Fault("error_event", after_chunk=3)))
    sleeps = Sleeps()
    async with client_for(fake_llm, sleeps) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert [e.type for e in events][-1] is EventType.ERROR
    assert events[0].type is EventType.TOOL_CALL_DELTA
    assert sleeps.waits == [], "output was yielded: no retry"


@pytest.mark.asyncio
async def test_connection_refused_is_retried_then_reported(sleeps_free_port: int) -> None:
    sleeps = Sleeps()
    async with LLMClient(base_url=f"http://127.0.0.1:{sleeps_free_port}/v1", api_key="k", sleep=sleeps) as client:
        (event,) = (await collect(client.chat_completion(HELLO))).events
    assert event.type is EventType.ERROR
    assert event.retryable is True
    assert (event.error or "").startswith("connection failed")
    assert len(sleeps.waits) == 2, "three attempts, two waits"


@pytest.fixture
def sleeps_free_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.asyncio
async def test_garbage_in_the_stream_ends_in_an_error_event_not_an_exception(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["a", "b", "c"], fault=Fault("garbage", after_chunk=2, size=32, seed=3)))
    sleeps = Sleeps()
    async with client_for(fake_llm, sleeps) as client:
        collected = await collect(client.chat_completion(HELLO))
    assert collected.error is None
    assert collected.events[-1].type is EventType.ERROR
    assert sleeps.waits == [], "output was yielded: no retry"
