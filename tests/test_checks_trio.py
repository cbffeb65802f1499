"""Under trio (through anyio's pytest plugin): `collect` works, its timeout included, and never
swallows trio's cancellation; `check_cleanup`, built on asyncio's hooks, refuses at once with
a message that says what to do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
import pytest

from sparring import FakeLLM, Fault, reply
from sparring.checks import check_cleanup, collect
from tests.clients.common import chat_request, delta

trio = pytest.importorskip("trio")

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def chat(http: httpx.AsyncClient, fake: FakeLLM) -> AsyncIterator[str]:
    """A raw SSE reader that closes httpx's line iterator too: trio warns about one left to
    its finalizer (a ResourceWarning, an error under this suite's settings)."""
    request = chat_request(http, fake.base_url, fake.api_key)
    response = await http.send(request, stream=True)
    try:
        async with aclosing(response.aiter_lines()) as lines:
            async for line in lines:
                text = delta(line)
                if text is not None:
                    yield text
    finally:
        await response.aclose()


async def test_collect_drives_a_stream_under_trio(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo", "!"]))
    async with httpx.AsyncClient() as http:
        got = await collect(chat(http, fake_llm))
    assert got.events == ["Hel", "lo", "!"]
    assert got.ok


async def test_collect_stops_at_the_limit_and_closes_under_trio() -> None:
    # A generator of its own: httpx's inner line iterators are never closed on an early exit,
    # and trio warns about each.
    log: list[str] = []

    async def letters() -> AsyncIterator[str]:
        try:
            for letter in "abcd":
                await trio.sleep(0)
                yield letter
        finally:
            await trio.sleep(0)  # an await in cleanup, as closing a response needs
            log.append("finally")

    got = await collect(letters(), limit=2)
    assert got.events == ["a", "b"]
    assert got.closed
    assert log == ["finally"]


async def test_collect_times_out_under_trio(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["a", "b"], fault=Fault("stall", after_chunk=2)))
    async with httpx.AsyncClient() as http:
        got = await collect(chat(http, fake_llm), timeout=0.3)
    assert got.events == ["a"]
    assert isinstance(got.error, TimeoutError)
    assert str(got.error) == "no event within 0.3 s (waiting for event #2)"
    assert got.closed


async def test_collect_lets_trios_cancellation_through() -> None:
    finished: list[str] = []

    async def endless() -> AsyncIterator[int]:
        try:
            yield 1
            await trio.sleep_forever()
            yield 2
        finally:
            finished.append("finally")

    with trio.move_on_after(0.1) as scope:
        await collect(endless())
        finished.append("collect returned")  # what swallowing the cancellation would do
    assert scope.cancelled_caught
    assert finished == ["finally"]


async def test_check_cleanup_refuses_trio_at_once(fake_llm: FakeLLM) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(RuntimeError) as refused:
            await check_cleanup(lambda: chat(http, fake_llm), fake_llm)
    assert str(refused.value).startswith("check_cleanup runs under asyncio only, and this test runs under trio:")
    assert "@pytest.mark.parametrize('anyio_backend', ['asyncio'])" in str(refused.value)
    assert fake_llm.journal == []
