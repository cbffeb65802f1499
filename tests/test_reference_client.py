"""The reference client, tested with sparring itself: the flagship example.

Every scenario in the library plays against it with its event sequence held in a snapshot;
its retries pass the retry checks; its cleanup passes every way out of the stream.
"""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from sparring import FakeLLM, Fault, builtin_names, collect, error, reply
from sparring.client import EventType, LLMClient, RetryPolicy, StreamEvent

HELLO = [{"role": "user", "content": "What is the capital of France?"}]


# --8<-- [start:client_for]
def client_for(fake_llm: FakeLLM, **options: Any) -> LLMClient:
    return LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key, model="gpt-4o", **options)


# --8<-- [end:client_for]


# --8<-- [start:library]
@pytest.mark.asyncio
@pytest.mark.parametrize("name", builtin_names())
async def test_every_library_scenario(name: str, fake_llm: FakeLLM, sparring_snapshot: SnapshotAssertion) -> None:
    fake_llm.load(name)
    async with client_for(fake_llm) as client:
        collected = await collect(client.chat_completion(HELLO))
    assert collected.error is None
    assert collected.closed
    assert collected == sparring_snapshot


# --8<-- [end:library]


# --8<-- [start:retries]
@pytest.mark.asyncio
async def test_rate_limits_are_retried_after_retry_after(fake_llm: FakeLLM) -> None:
    fake_llm.load("rate-limited-then-ok")
    async with client_for(fake_llm) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert events[-1].type is EventType.MESSAGE_COMPLETE
    report = fake_llm.check_retries(attempts=3, honours_retry_after=True)
    assert [a.status for a in report.attempts] == [429, 429, 200]


# --8<-- [end:retries]


@pytest.mark.asyncio
async def test_server_errors_back_off_exponentially(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("server_error", times=2), reply("recovered"))
    policy = RetryPolicy(initial=0.1)
    async with client_for(fake_llm, retry_policy=policy) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert events[-1].text == "recovered"
    fake_llm.check_retries(attempts=3, backoff=True)


# --8<-- [start:no_retry_after_output]
@pytest.mark.asyncio
async def test_no_retry_once_output_was_yielded(fake_llm: FakeLLM) -> None:
    """A stream cut mid-way ends in one ERROR event; retrying would repeat the text shown."""
    fake_llm.add(reply(chunks=["Paris ", "is ", "the ", "capital"], fault=Fault("reset", after_chunk=3)))
    fake_llm.add(reply("never requested", optional=True))
    async with client_for(fake_llm) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert [e.type for e in events] == [EventType.TEXT_DELTA, EventType.TEXT_DELTA, EventType.ERROR]
    assert events[-1].retryable is True
    fake_llm.check_retries(attempts=1)


# --8<-- [end:no_retry_after_output]


@pytest.mark.asyncio
async def test_failures_before_output_are_retried(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("lost", fault=Fault("reset")), reply("second time lucky"))
    async with client_for(fake_llm, retry_policy=RetryPolicy(initial=0.05)) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert events[-1].text == "second time lucky"
    assert len(fake_llm.journal) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("scripted", "retryable", "attempts"),
    [
        (error("bad_request"), False, 1),
        (error("unauthorized"), False, 1),
        (error("server_error", should_retry=False), False, 1),
        (error("rate_limit", retry_after=300), True, 1),  # above the 60 s cap: give up, don't hammer
        (error("overloaded", retry_after_ms=10, times=3), True, 3),
    ],
    ids=["400", "401", "500-should-not-retry", "retry-after-too-long", "overloaded-3x"],
)
async def test_giving_up_yields_one_error_event(
    fake_llm: FakeLLM, scripted: Any, retryable: bool, attempts: int
) -> None:
    fake_llm.add(scripted)
    async with client_for(fake_llm) as client:
        collected = await collect(client.chat_completion(HELLO))
    assert collected.error is None, "the client never raises; it yields ERROR"
    (event,) = collected.events
    assert event.type is EventType.ERROR
    assert event.retryable is retryable
    assert event.error
    assert len(fake_llm.journal) == attempts


@pytest.mark.asyncio
async def test_in_band_error_event(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["a", "b", "c", "d"], fault=Fault("error_event", after_chunk=2)))
    async with client_for(fake_llm) as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert [e.type for e in events] == [EventType.TEXT_DELTA, EventType.ERROR]
    assert "server had an error" in (events[-1].error or "")


@pytest.mark.asyncio
async def test_whole_answer_when_not_streaming(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("The capital of France is Paris."))
    async with client_for(fake_llm) as client:
        (event,) = (await collect(client.chat_completion(HELLO, stream=False))).events
    assert event == StreamEvent(
        EventType.MESSAGE_COMPLETE,
        finish_reason="stop",
        usage=event.usage,
        text="The capital of France is Paris.",
    )
    assert event.usage is not None
    assert event.usage.total_tokens == event.usage.prompt_tokens + event.usage.completion_tokens


@pytest.mark.asyncio
async def test_configured_from_the_environment(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    fake_llm.add(reply("from the environment"))
    async with LLMClient() as client:
        events = (await collect(client.chat_completion(HELLO))).events
    assert events[-1].text == "from the environment"
    assert fake_llm.journal[0].headers["authorization"].startswith("Bearer sk-spa")


# --8<-- [start:cleanup]
@pytest.mark.asyncio
async def test_cleanup_on_every_way_out(fake_llm: FakeLLM) -> None:
    async with client_for(fake_llm) as client:
        report = await fake_llm.check_cleanup(lambda: client.chat_completion(HELLO), bound=1.0)
    assert report.ok
    assert {r.way for r in report.results} == {
        "complete",
        "break",
        "cancel",
        "consumer_error",
        "server_fault",
        "abandon",
    }


# --8<-- [end:cleanup]
