"""`check_cleanup` against real clients over real sockets: correct clients pass every way out;
each deliberately broken one (tests/clients/) fails on exactly the ways its bug shows, and
the message says which and why. Nothing of sparring is mocked: leaks are what the fake
server saw, what the event loop reported, and what the generator's frame shows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any

import httpx
import pytest

from sparring import FakeLLM, FakeServer, SparringError
from sparring.checks import WAYS_OUT, CleanupError, CleanupReport, check_cleanup
from tests.clients import correct, leaks_task, no_finally, swallows_cancel, yields_in_finally

HI: Any = [{"role": "user", "content": "Hi"}]
EVERY_OUTCOME = {
    "complete": "completed",
    "break": "client_disconnected",
    "cancel": "client_disconnected",
    "consumer_error": "client_disconnected",
    "server_fault": "fault",
    "abandon": "client_disconnected",
}


def over_httpx(client: ModuleType, http: httpx.AsyncClient, fake: FakeLLM) -> Callable[[], AsyncIterator[str]]:
    return lambda: client.httpx_chat(http, fake.base_url, fake.api_key)


def leaked(error: pytest.ExceptionInfo[CleanupError]) -> list[str]:
    return [result.way for result in error.value.report.leaks]


def lines(error: pytest.ExceptionInfo[CleanupError]) -> dict[str, str]:
    """The message's line for each way out that leaked."""
    found = {}
    for line in str(error.value).splitlines()[1:]:
        way, _, text = line.removeprefix("- ").partition(": ")
        found[way] = text
    return found


def assert_all_clean(report: CleanupReport) -> None:
    assert report.ok, str(report)
    assert [r.way for r in report.results] == list(WAYS_OUT)
    assert {r.way: r.request.outcome for r in report.results if r.request} == EVERY_OUTCOME
    assert str(report).startswith("cleanup ok on all 6 ways out:\n- complete: ok (")


# -- correct clients pass ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_correct_httpx_client_passes_every_way_out(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        report = await check_cleanup(over_httpx(correct, http, fake_llm), fake_llm)
    assert_all_clean(report)
    assert report["complete"].events == 12
    assert [report[way].events for way in ("break", "cancel", "consumer_error", "abandon")] == [1, 1, 1, 1]


@pytest.mark.asyncio
async def test_correct_openai_sdk_client_passes_every_way_out(fake_llm: FakeLLM) -> None:
    async with fake_llm.async_openai(max_retries=0) as client:
        report = await check_cleanup(lambda: correct.openai_chat(client), fake_llm)
    assert_all_clean(report)


@pytest.mark.asyncio
async def test_a_consumer_that_leaves_after_the_stream_ended_is_tried_again_on_a_slower_stream(
    fake_llm: FakeLLM,
) -> None:
    """On a machine so busy that the consumer got its first event only after the server had
    sent the whole stream, closing and never closing look the same: the way is taken again,
    4x slower, and judged on that try."""
    streams = 0

    async def held_back_once(http: httpx.AsyncClient) -> AsyncIterator[str]:
        nonlocal streams
        streams += 1
        hold = streams == 1
        async with contextlib.aclosing(correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key)) as events:
            async for text in events:
                if hold:  # what a busy machine does to the first try: the stream ends first
                    await asyncio.to_thread(fake_llm.wait_until, lambda j: bool(j) and j[-1].outcome is not None)
                    hold = False
                yield text

    async with httpx.AsyncClient() as http:
        report = await check_cleanup(lambda: held_back_once(http), fake_llm, ways=["abandon"])
    assert report.ok, str(report)
    first, second = fake_llm.journal
    assert (first.outcome, second.outcome) == ("completed", "client_disconnected")
    assert report["abandon"].request is not None
    assert report["abandon"].request.index == second.index
    assert streams == 2


@pytest.mark.asyncio
async def test_the_sdks_own_async_stream_closed_with_async_with_passes(fake_llm: FakeLLM) -> None:
    """The SDK's AsyncStream itself, raw chunks and all, in the thinnest wrapper that closes it."""
    async with fake_llm.async_openai(max_retries=0) as client:

        async def chunks() -> AsyncIterator[Any]:
            async with await client.chat.completions.create(model="m", messages=HI, stream=True) as stream:
                async for chunk in stream:
                    yield chunk

        report = await check_cleanup(chunks, fake_llm)
    assert_all_clean(report)
    assert report["complete"].events >= 13  # role, 12 pieces of text, finish


@pytest.mark.asyncio
async def test_the_sdks_async_stream_left_unclosed_leaks(fake_llm: FakeLLM) -> None:
    """Iterating an AsyncStream without `async with` leaves its response open: the stream and
    its inner iterator form a reference cycle that only the garbage collector breaks."""
    async with fake_llm.async_openai(max_retries=0) as client:

        async def chunks() -> AsyncIterator[Any]:
            stream = await client.chat.completions.create(model="m", messages=HI, stream=True)
            async for chunk in stream:
                yield chunk

        with pytest.raises(CleanupError) as error:
            await check_cleanup(chunks, fake_llm, ways=["break", "cancel"])
    assert leaked(error) == ["break"]
    assert "AsyncStream.__aiter__ unclosed" in lines(error)["break"]


# -- each broken client fails, for its own reason -----------------------------------------------


@pytest.mark.asyncio
async def test_closing_outside_finally_leaks_the_connection_on_early_exits(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(CleanupError) as error:
            await check_cleanup(over_httpx(no_finally, http, fake_llm), fake_llm)
    assert leaked(error) == ["break", "consumer_error", "abandon"]
    assert str(error.value).startswith(
        "cleanup leaked on 3 of 6 ways out:\n"
        "- break: the client never closed the connection: the server streamed request #2 to its end ('completed' at +"
    )
    for way in ("break", "consumer_error", "abandon"):
        assert lines(error)[way].endswith(
            "s after the consumer left) — it left Response.aiter_lines unclosed, and nothing else closed the connection"
        )
        request = error.value.report[way].request
        assert request is not None
        assert request.outcome == "completed"  # what the server saw


@pytest.mark.asyncio
async def test_without_strict_cpythons_finalizer_hides_that_leak(fake_llm: FakeLLM) -> None:
    """What `strict` is for: left alone, the event loop finalizes httpx's orphaned line iterator
    at once, and its own cleanup closes the connection the client never closed."""
    async with httpx.AsyncClient() as http:
        report = await check_cleanup(
            over_httpx(no_finally, http, fake_llm), fake_llm, ways=["break", "consumer_error", "abandon"], strict=False
        )
    assert report.ok, str(report)


@pytest.mark.asyncio
async def test_yield_in_finally_is_caught_on_every_close(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(CleanupError) as error:
            await check_cleanup(over_httpx(yields_in_finally, http, fake_llm), fake_llm)
    assert leaked(error) == ["break", "cancel", "consumer_error", "abandon"]
    said = lines(error)
    assert said["break"] == (
        "the generator yielded during aclose(): a `yield` in `finally` "
        "(RuntimeError: async generator ignored GeneratorExit)"
    )
    assert said["cancel"] == (
        "the stream yielded 1 event(s) after its consumer was cancelled: a `yield` in `finally` or in "
        "`except CancelledError`"
    )
    for way in ("consumer_error", "abandon"):
        assert said[way] == (
            "the event loop's finalizer could not close the generator: a `yield` in `finally` "
            "(RuntimeError: async generator ignored GeneratorExit)"
        )
    # The response itself was closed every time: the failure is the yield alone.
    assert {r.way: r.request.outcome for r in error.value.report.results if r.request} == EVERY_OUTCOME


@pytest.mark.asyncio
async def test_swallowed_cancellation_is_caught(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        report = await check_cleanup(over_httpx(swallows_cancel, http, fake_llm), fake_llm, raise_on_leak=False)
    assert [r.way for r in report.leaks] == ["cancel"]
    assert report["cancel"].problems == (
        "the client swallowed the cancellation: the cancelled consumer finished normally "
        "(clean up, then re-raise CancelledError)",
    )
    assert str(report).startswith(
        "cleanup leaked on 1 of 6 ways out:\n- complete: ok (12 events; request #1 completed)"
    )


@pytest.mark.asyncio
async def test_a_task_left_running_is_caught_and_then_stopped(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(CleanupError) as error:
            await check_cleanup(
                over_httpx(leaks_task, http, fake_llm), fake_llm, ways=["complete", "break", "server_fault"], bound=0.5
            )
    assert leaked(error) == ["break", "server_fault"]
    assert lines(error)["break"] == "1 task(s) it started still ran 0.5 s after the consumer left: watchdog (sleep)"
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "watchdog"]  # the check cancelled them


@pytest.mark.asyncio
async def test_a_stream_the_client_keeps_a_reference_to_is_never_finalized(fake_llm: FakeLLM) -> None:
    """A client that remembers its current stream keeps it alive after the consumer drops it:
    no finalizer ever runs its `finally`, and the connection stays open."""

    class Remembers:
        def __init__(self, http: httpx.AsyncClient) -> None:
            self.http = http
            self.current: AsyncIterator[str] | None = None

        def chat(self) -> AsyncIterator[str]:
            self.current = correct.httpx_chat(self.http, fake_llm.base_url, fake_llm.api_key)  # the bug
            return self.current

    async with httpx.AsyncClient() as http:
        client = Remembers(http)
        with pytest.raises(CleanupError) as error:
            await check_cleanup(client.chat, fake_llm, ways=["consumer_error"], bound=0.8)
        assert client.current is not None
        await client.current.aclose()  # type: ignore[attr-defined]
    first, second = error.value.report["consumer_error"].problems
    assert first == (
        "nothing finalized the generator within 0.8 s of the consumer dropping it: something still references it "
        "(the client keeping it? a reference cycle?), so its `finally` has not run"
    )
    assert second.startswith(("the client never closed the connection", "the server still had the connection open"))


# -- probes, targets, arguments -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_failing_probe_fails_its_way_out(fake_llm: FakeLLM, kind: str) -> None:
    seen: list[str] = []

    def check(way: str) -> None:
        seen.append(way)
        assert way != "cancel", "the client's stream counter is still 1"

    async def acheck(way: str) -> None:
        await asyncio.sleep(0)
        check(way)

    async with httpx.AsyncClient() as http:
        with pytest.raises(CleanupError) as error:
            await check_cleanup(
                over_httpx(correct, http, fake_llm),
                fake_llm,
                ways=["break", "cancel"],
                probe=check if kind == "sync" else acheck,
            )
    assert seen == ["break", "cancel"]
    assert str(error.value) == (
        "cleanup leaked on 1 of 2 ways out:\n"
        "- cancel: probe failed: the client's stream counter is still 1\n    assert 'cancel' != 'cancel'"
    )


@pytest.mark.asyncio
async def test_a_plain_fake_server_in_a_namespace(server: FakeServer) -> None:
    server.store.route("sk-cleanup", "cleanup")
    async with httpx.AsyncClient() as http:
        report = await check_cleanup(
            lambda: correct.httpx_chat(http, server.base_url, "sk-cleanup"),
            server,
            namespace="cleanup",
            ways=["break", "abandon"],
        )
    assert report.ok, str(report)
    assert [e.outcome for e in server.journal("cleanup")] == ["client_disconnected", "client_disconnected"]
    assert server.journal() == []


@pytest.mark.asyncio
async def test_a_stream_that_fails_at_once_is_reported(fake_llm: FakeLLM) -> None:
    async def broken() -> AsyncIterator[str]:
        raise ConnectionError("wrong base URL")
        yield ""  # an async generator all the same

    report = await check_cleanup(broken, fake_llm, ways=["break"], bound=0.2, raise_on_leak=False)
    assert report["break"].problems == (
        "the stream failed before its first event: ConnectionError('wrong base URL')",
        "no request reached the fake server",
    )


@pytest.mark.asyncio
async def test_bad_arguments_are_refused(fake_llm: FakeLLM, server: FakeServer) -> None:
    def nothing() -> AsyncIterator[str]:
        raise AssertionError("never called by check_cleanup")

    with pytest.raises(
        ValueError, match=r"unknown way out 'brake'; ways: complete, break, .* \(did you mean 'break'\?\)"
    ):
        await check_cleanup(nothing, fake_llm, ways=["brake"])
    with pytest.raises(ValueError, match="give at least one way out"):
        await check_cleanup(nothing, fake_llm, ways=[])
    with pytest.raises(ValueError, match="bound must be a number of seconds > 0, got 0"):
        await check_cleanup(nothing, fake_llm, bound=0)
    with pytest.raises(TypeError, match="namespace= applies to a FakeServer"):
        await check_cleanup(nothing, fake_llm, namespace="x")

    async def one() -> AsyncIterator[str]:
        yield "a stream, not a function that makes one"

    with pytest.raises(TypeError, match="stream must be a function that makes a fresh stream each time"):
        await check_cleanup(one(), fake_llm)  # type: ignore[arg-type]
    assert fake_llm.journal == []


@pytest.mark.asyncio
async def test_a_coroutine_instead_of_a_stream_is_a_clear_type_error(fake_llm: FakeLLM) -> None:
    """The usual slip with the SDK: `create(stream=True)` must be awaited before iterating."""
    async with fake_llm.async_openai() as client:
        with pytest.raises(
            TypeError,
            match=r"stream\(\) returned a coroutine \(AsyncCompletions.create\), not an async iterator; await it",
        ):
            await check_cleanup(
                lambda: client.chat.completions.create(model="m", messages=HI, stream=True),  # type: ignore[arg-type, return-value]
                fake_llm,
                ways=["break"],
            )
    assert fake_llm.journal == []


def test_cleanup_error_is_an_assertion_and_a_sparring_error() -> None:
    assert issubclass(CleanupError, AssertionError)
    assert issubclass(CleanupError, SparringError)
