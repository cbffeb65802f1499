"""A client's close that raises a `BaseException` (anyio's `BaseExceptionGroup` of a
`GeneratorExit`, a bare `GeneratorExit`) is a finding of `check_cleanup` and an `error` of
`collect`, never a crash; Ctrl-C, `SystemExit` and the cancellation of the check's own task
still go through."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from sparring import FakeLLM, FakeServer, reply
from sparring.checks import check_cleanup, collect, collect_sync
from tests.clients import correct, holds_task_group


def holds_group(http: httpx.AsyncClient, fake: FakeLLM) -> AsyncIterator[str]:
    return holds_task_group.httpx_chat(http, fake.base_url, fake.api_key)


@pytest.mark.asyncio
async def test_an_exception_group_out_of_aclose_is_a_finding_of_the_break_way(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        report = await check_cleanup(lambda: holds_group(http, fake_llm), fake_llm, raise_on_leak=False)
    assert len(report.results) == 6  # every way was taken: nothing escaped the check
    assert report["break"].problems == (
        "aclose() raised BaseExceptionGroup('unhandled errors in a TaskGroup', [GeneratorExit()]): a task group or "
        "cancel scope held open across a `yield` raises the close's GeneratorExit back out",
    )
    assert report["break"].request is not None
    assert report["break"].request.outcome == "client_disconnected"  # the reader closed the response
    assert report["complete"].ok
    assert report["cancel"].ok
    # Closed by the event loop's finalizer in a task of its own, anyio's scope cannot exit.
    for way in ("consumer_error", "abandon"):
        assert any("cancel scope in a different task" in p for p in report[way].problems), report[way]


@pytest.mark.asyncio
async def test_collect_records_an_exception_group_out_of_aclose(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("one two three four"))
    async with httpx.AsyncClient() as http:
        got = await collect(holds_group(http, fake_llm), limit=2)
    assert got.events == ["one", " two"]
    assert isinstance(got.error, BaseException)
    assert type(got.error).__name__ == "BaseExceptionGroup"
    assert [type(e) for e in got.error.exceptions] == [GeneratorExit]  # type: ignore[attr-defined]
    assert got.closed  # it raised, but its frame is gone: nothing is left suspended


@pytest.mark.asyncio
async def test_collect_records_a_generator_exit_raised_while_streaming() -> None:
    class Odd:
        def __aiter__(self) -> Odd:
            return self

        async def __anext__(self) -> str:
            raise GeneratorExit

    got = await collect(Odd())
    assert isinstance(got.error, GeneratorExit)
    assert not got.closed  # no aclose(): never closed


@pytest.mark.asyncio
@pytest.mark.skipif(sys.version_info < (3, 11), reason="BaseExceptionGroup is built in from 3.11")
async def test_a_cancellation_wrapped_in_a_group_is_the_clients_doing(fake_llm: FakeLLM) -> None:
    async def wraps_cancel(http: httpx.AsyncClient) -> AsyncIterator[str]:
        inner = correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key)
        try:
            async for text in inner:
                yield text
        except asyncio.CancelledError as exc:
            raise BaseExceptionGroup("wrapped", [exc]) from None  # noqa: F821 - built in from 3.11
        finally:
            await inner.aclose()

    async with httpx.AsyncClient() as http:
        report = await check_cleanup(lambda: wraps_cancel(http), fake_llm, ways=["cancel"], raise_on_leak=False)
    assert report["cancel"].problems == (
        "the client turned the cancellation into BaseExceptionGroup('wrapped', [CancelledError()]) "
        "instead of letting it through",
    )


# -- what still goes through -------------------------------------------------------------------


async def exits_on_close(log: list[str]) -> AsyncIterator[str]:
    try:
        yield "a"
        yield "b"
    finally:
        log.append("finally")
        raise SystemExit(3)  # stands in for Ctrl-C, which would stop the test run


def test_collect_lets_system_exit_through() -> None:
    log: list[str] = []
    with pytest.raises(SystemExit):
        asyncio.run(collect(exits_on_close(log), limit=1))
    assert log == ["finally"]


def test_check_cleanup_lets_system_exit_through(server: FakeServer) -> None:
    log: list[str] = []
    with pytest.raises(SystemExit):
        asyncio.run(check_cleanup(lambda: exits_on_close(log), server, ways=["break"]))
    assert log == ["finally"]


def test_collect_sync_lets_keyboard_interrupt_through() -> None:
    def interrupted() -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect_sync(interrupted(), limit=1)


@pytest.mark.asyncio
async def test_cancelling_check_cleanup_cancels_its_consumer_too(fake_llm: FakeLLM) -> None:
    consumers: list[asyncio.Task[object]] = []
    started = asyncio.Event()

    async def stream(http: httpx.AsyncClient) -> AsyncIterator[str]:
        task = asyncio.current_task()
        assert task is not None
        consumers.append(task)  # the task the check consumes the stream in
        async for text in correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key):
            started.set()
            yield text

    async with httpx.AsyncClient() as http:
        check = asyncio.create_task(check_cleanup(lambda: stream(http), fake_llm, ways=["complete"]))
        await started.wait()
        check.cancel()
        with pytest.raises(asyncio.CancelledError):
            await check
        (consumer,) = consumers
        await asyncio.wait([consumer], timeout=2.0)
    assert consumer.cancelled()  # not left streaming on its own after the check was gone
