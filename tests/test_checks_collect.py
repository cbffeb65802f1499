"""`collect`: events with their arrival times, the error a stream ended with (recorded, never
raised), and whether it was left closed, for async generators and plain async iterables;
`limit` and `timeout` stop early and close the stream, which the fake server sees."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sys
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from sparring import FakeLLM, Fault, Timing, reply
from sparring.checks import Collected, collect
from tests.clients import correct

WORDS = ["Hello", " there", ",", " friend", "!"]


async def outcome(fake: FakeLLM, index: int, within: float = 2.0) -> str | None:
    """How request `index` ended, once the server has seen it end (polled, with a deadline)."""
    deadline = time.monotonic() + within
    while True:
        journal = fake.journal
        if (len(journal) > index and journal[index].outcome is not None) or time.monotonic() > deadline:
            return journal[index].outcome if len(journal) > index else None
        await asyncio.sleep(0.01)


async def letters(log: list[str], text: str = "abc") -> AsyncIterator[str]:
    try:
        for letter in text:
            await asyncio.sleep(0)
            yield letter
    finally:
        log.append("finally")


@pytest.mark.asyncio
async def test_records_events_times_and_a_clean_end() -> None:
    log: list[str] = []
    got = await collect(letters(log))
    assert got.events == ["a", "b", "c"]
    assert got.error is None
    assert got.closed
    assert got.ok
    assert log == ["finally"]
    assert len(got.times) == 3
    assert got.times == sorted(got.times)
    assert got.times[0] >= 0
    assert got.times[-1] <= got.duration


@pytest.mark.asyncio
async def test_times_follow_the_servers_pacing(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=WORDS, timing=Timing(gap=0.05)))
    async with httpx.AsyncClient() as http:
        got = await collect(correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key))
    assert got.events == WORDS
    assert got.ok
    # Piece i is due i + 1 gaps of 0.05 s after the role chunk: never earlier (a late piece
    # is followed by a shorter gap, so the bound is on each time, not on the gaps).
    assert all(at >= 0.05 * (i + 1) - 0.01 for i, at in enumerate(got.times)), got.times
    assert await outcome(fake_llm, 0) == "completed"


@pytest.mark.asyncio
async def test_limit_stops_early_and_closes_the_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=WORDS, timing=Timing(gap=0.05)))
    async with httpx.AsyncClient() as http:
        got = await collect(correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key), limit=2)
    assert got.events == WORDS[:2]
    assert got.ok
    assert await outcome(fake_llm, 0) == "client_disconnected"  # closed mid-stream, over the socket


@pytest.mark.asyncio
async def test_timeout_is_recorded_as_a_timeout_error_and_closes_the_stream(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=WORDS, fault=Fault("stall", after_chunk=3)))  # role, "Hello", " there", then silence
    async with httpx.AsyncClient() as http:
        got = await collect(correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key), timeout=0.2)
    assert got.events == WORDS[:2]
    assert isinstance(got.error, TimeoutError)
    assert str(got.error) == "no event within 0.2 s (waiting for event #3)"
    assert got.closed  # the timeout cancelled the read; the client's finally closed the response
    assert await outcome(fake_llm, 0) == "stalled"  # the client left while the server stalled


@pytest.mark.asyncio
@pytest.mark.parametrize("timeout", [None, 5.0])
async def test_a_timeout_error_of_the_streams_own_is_kept_as_it_is(timeout: float | None) -> None:
    own = TimeoutError("the client's own read timeout")

    async def times_out() -> AsyncIterator[str]:
        yield "a"
        raise own

    got = await collect(times_out(), timeout=timeout)
    assert got.events == ["a"]
    assert got.error is own
    assert got.closed


@pytest.mark.asyncio
async def test_the_streams_error_is_recorded_not_raised(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=WORDS, timing=Timing(gap=0.01), fault=Fault("reset", after_chunk=3)))
    async with httpx.AsyncClient() as http:
        got = await collect(correct.httpx_chat(http, fake_llm.base_url, fake_llm.api_key))
    assert got.events == WORDS[:2]
    assert isinstance(got.error, httpx.TransportError), repr(got.error)
    assert got.closed
    assert not got.ok


class Countdown:
    """A plain async iterator, not a generator; `aclose` only if asked for."""

    def __init__(self, start: int, *, closable: bool) -> None:
        self.left = start
        self.closes = 0
        if closable:
            self.aclose = self._aclose

    def __aiter__(self) -> Countdown:
        return self

    async def __anext__(self) -> int:
        if self.left == 0:
            raise StopAsyncIteration
        self.left -= 1
        return self.left

    async def _aclose(self) -> None:
        self.closes += 1


@pytest.mark.asyncio
async def test_plain_async_iterators_with_and_without_aclose() -> None:
    bare = Countdown(3, closable=False)
    got = await collect(bare)
    assert (got.events, got.error, got.closed) == ([2, 1, 0], None, False)  # nothing to close it with

    closable = Countdown(3, closable=True)
    got = await collect(closable, limit=1)
    assert (got.events, got.error, got.closed, closable.closes) == ([2], None, True, 1)


@pytest.mark.asyncio
async def test_an_async_iterable_is_iterated_and_its_generator_closed() -> None:
    log: list[str] = []

    class Letters:
        def __aiter__(self) -> AsyncIterator[str]:
            return letters(log, "xyz")

    got = await collect(Letters(), limit=2)
    assert (got.events, got.error, got.closed) == (["x", "y"], None, True)
    assert log == ["finally"]


@pytest.mark.asyncio
async def test_a_yield_during_close_is_recorded_and_leaves_it_open() -> None:
    async def stubborn() -> AsyncIterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            yield "bye"  # the bug: a yield while being closed

    got = await collect(stubborn(), limit=1)
    assert got.events == ["a"]
    assert isinstance(got.error, RuntimeError)
    assert str(got.error) == "async generator ignored GeneratorExit"
    assert not got.closed


@pytest.mark.asyncio
async def test_cancelling_the_collecting_task_still_cancels_it() -> None:
    """`collect` records the stream's errors but never swallows its own cancellation."""
    log: list[str] = []
    started = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            yield 1
            started.set()
            await asyncio.Event().wait()
            yield 2
        finally:
            log.append("finally")

    task = asyncio.create_task(collect(endless()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert log == ["finally"]


@pytest.mark.asyncio
@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 cannot tell whose cancellation it is")
async def test_a_cancelled_error_from_the_stream_itself_is_recorded() -> None:
    async def gives_up() -> AsyncIterator[int]:
        yield 1
        raise asyncio.CancelledError  # e.g. an inner task it awaited was cancelled

    got = await collect(gives_up())
    assert got.events == [1]
    assert isinstance(got.error, asyncio.CancelledError)
    assert got.closed


@pytest.mark.asyncio
async def test_repr_and_immutability() -> None:
    got = await collect(letters([], "abcdefgh"))
    assert re.fullmatch(
        r"Collected\(8 events in \d\.\d{3} s: \['a', 'b', 'c', 'd', 'e', \.\.\.\], no error, closed\)", repr(got)
    )
    assert len(got) == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.error = None  # type: ignore[misc]
    failed = Collected(events=[], times=[], error=TimeoutError("slow"), closed=False, duration=1.5)
    assert repr(failed) == "Collected(0 events in 1.500 s: [], error=TimeoutError('slow'), NOT closed)"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": -1}, "limit must be an integer >= 0 or None, got -1"),
        ({"limit": True}, "limit must be an integer >= 0 or None, got True"),
        ({"timeout": 0}, "timeout must be > 0 seconds or None, got 0"),
    ],
)
async def test_bad_arguments_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        await collect(letters([]), **options)  # type: ignore[arg-type]
