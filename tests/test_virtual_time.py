"""Virtual time (`@pytest.mark.sparring_virtual_time`): a minute of scripted waits through the
openai SDK in a fraction of a second, the journal spaced as the virtual schedule was."""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from typing import Any

import httpx
import openai
import pytest

from sparring import FakeLLM, Fault, Timing, Wire, error, reply
from sparring._optional import MissingExtraError
from sparring.checks.retries import check_retries
from sparring.errors import ServerError
from sparring.plugin.virtual import LoopServer, on_virtual_loop
from tests.test_plugin import run, write

pytest_plugins = ["pytester"]

TEXT = "one two three four five six"

# Two 429s asking for 20 s each, a 10 s first chunk, then 10 s of gaps: 60 s scripted.
WORDS = len(TEXT.split())
GAP = 10 / (WORDS + 1)  # a gap before each chunk after the role chunk: the words and the finish


def script(fake_llm: FakeLLM, scale: float) -> None:
    fake_llm.add(
        error("rate_limit", retry_after=20 * scale, times=2),
        reply(TEXT, timing=Timing(first_chunk=10 * scale, gap=GAP * scale)),
    )


async def stream_text(fake_llm: FakeLLM, **options: Any) -> str:
    async with fake_llm.async_openai(**{"max_retries": 2, **options}) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "count"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_a_big_reply_shaped_for_a_fault_is_not_overtaken_by_the_clients_timeout(fake_llm: FakeLLM) -> None:
    """A big reply is shaped in a worker thread, whose work the virtual clock cannot see: it
    used to jump to the client's read timeout meanwhile, and the client timed out before the
    headers (two runs in three, found by property-based chaos). Under virtual time it is inline."""
    fake_llm.add(reply("x" * 300, split="char", wire=Wire(write_size=1), fault=Fault("reset", after_chunk=1)))
    with pytest.raises((openai.APIConnectionError, httpx.TransportError)):
        await stream_text(fake_llm, max_retries=0, timeout=600.0)
    (entry,) = await fake_llm.wait_for(lambda j: bool(j) and j[0].outcome is not None)
    assert (entry.status, entry.outcome) == (200, "fault")  # not (None, "client_disconnected")
    assert entry.ended is not None
    assert entry.ended < 1.0  # virtual seconds: no timeout's 600 s went by


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_a_minute_of_waits_takes_no_wall_time(fake_llm: FakeLLM) -> None:
    script(fake_llm, scale=1.0)
    loop = asyncio.get_running_loop()
    started, virtual_start = time.perf_counter(), loop.time()
    assert await stream_text(fake_llm) == TEXT
    wall, virtual = time.perf_counter() - started, loop.time() - virtual_start
    # The loop's clock went through the whole schedule; the wall clock did not (a generous
    # bound: about 0.15 s measured, against 60 s in real time).
    assert virtual == pytest.approx(60.0, abs=0.5)
    assert wall < 30.0  # 60 s in real time
    first, second, answer = fake_llm.journal
    assert second.arrived - first.arrived >= 20.0
    assert answer.arrived - second.arrived >= 20.0
    assert answer.chunks[0].at == pytest.approx(10.0, abs=0.05)  # the role chunk, after first_chunk
    assert answer.ended == pytest.approx(20.0, abs=0.05)  # 10 s first chunk + 10 s of gaps
    report = check_retries(fake_llm.journal, attempts=3, honours_retry_after=True)
    assert [a.status for a in report.attempts] == [429, 429, 200]


async def impatient_post(fake_llm: FakeLLM) -> None:
    """A client that retries a 429 after its own 1 s, whatever the retry-after says."""
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {fake_llm.api_key}"}) as http:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "count"}]}
        for _ in range(3):
            if (await http.post(f"{fake_llm.base_url}/chat/completions", json=body)).status_code != 429:
                return
            await asyncio.sleep(1)


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_virtual_time_still_catches_a_client_that_ignores_retry_after(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after=20), reply(TEXT))
    await impatient_post(fake_llm)
    report = check_retries(fake_llm.journal, attempts=2, raise_on_violation=False)
    assert not report.ok
    assert "after 1.000s, but the server asked for 20.000s (retry-after: 20)" in str(report)


@pytest.mark.asyncio
async def test_real_time_catches_the_same_client(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after=20), reply(TEXT))
    await impatient_post(fake_llm)  # 1 s, for real
    report = check_retries(fake_llm.journal, attempts=2, raise_on_violation=False)
    assert not report.ok
    assert "but the server asked for 20.000s (retry-after: 20)" in str(report)


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_user_sleeps_are_virtual_and_journaled_in_order(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("a"), reply("b"))
    assert await stream_text(fake_llm) == "a"
    await asyncio.sleep(3600)  # an hour, in no wall time
    assert await stream_text(fake_llm) == "b"
    first, second = fake_llm.journal
    assert second.arrived - first.arrived >= 3600
    assert second.wall_time - first.wall_time >= 3600  # wall times follow the virtual clock too


@pytest.mark.asyncio
async def test_the_same_schedule_in_real_time_gets_the_same_verdict(fake_llm: FakeLLM) -> None:
    script(fake_llm, scale=0.01)  # 0.6 s of waits, played for real
    assert await stream_text(fake_llm) == TEXT
    first, second, _ = fake_llm.journal
    assert second.arrived - first.arrived >= 0.2 - 0.05
    report = check_retries(fake_llm.journal, attempts=3, honours_retry_after=True)
    assert [a.status for a in report.attempts] == [429, 429, 200]


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_sync_clients_are_refused(fake_llm: FakeLLM) -> None:
    with pytest.raises(ServerError, match="needs an async test with async clients"):
        fake_llm.openai()
    with pytest.raises(ServerError, match="needs an async test with async clients"):
        fake_llm.anthropic()
    with pytest.raises(ServerError, match="blocks the event loop"):
        fake_llm.wait_until(lambda journal: bool(journal), timeout=1)


SYNC_TEST = """
import pytest

@pytest.mark.sparring_virtual_time
def test_sync(fake_llm):
    pass
"""


def test_a_sync_test_is_refused_with_the_reason(pytester: pytest.Pytester) -> None:
    write(pytester, SYNC_TEST)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.sparring_virtual_time needs an async test with async clients*"])


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_a_stall_meets_the_clients_read_timeout_in_virtual_time(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(TEXT, fault=Fault("stall")))  # nothing more until the client gives up
    started = time.perf_counter()
    # openai 3.x wraps a read timeout mid-stream in its own error; 2.x lets httpx's through.
    with pytest.raises((openai.APITimeoutError, httpx.ReadTimeout)):
        await stream_text(fake_llm, max_retries=0, timeout=30.0)
    # The server sees the disconnect on the next turns of the loop the test shares with it.
    (entry,) = await fake_llm.wait_for(lambda journal: journal[0].outcome is not None)
    assert time.perf_counter() - started < 15.0  # 30 s of read timeout, not waited (about 0.05 s)
    assert entry.outcome == "stalled"
    assert entry.ended == pytest.approx(30.0, abs=0.05)


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_keepalives_keep_a_long_first_chunk_alive_on_the_virtual_schedule(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(TEXT, timing=Timing(first_chunk=120.0, keepalive=5.0)))  # 30 s read timeout
    assert await stream_text(fake_llm, max_retries=0, timeout=30.0) == TEXT
    (entry,) = fake_llm.journal
    assert entry.outcome == "completed"
    comments = [c.at for c in entry.chunks if c.kind != "event"]
    assert len(comments) == 23  # one every 5 s of the 120 s wait, none at its end
    assert all(later - earlier == pytest.approx(5.0, abs=0.01) for earlier, later in itertools.pairwise(comments))


def test_without_looptime_the_marker_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "looptime", None)
    server = LoopServer()
    try:
        with pytest.raises(MissingExtraError, match=r"pip install 'sparring\[virtual\]'"):
            on_virtual_loop(stream_text, server)
    finally:
        server.close()
