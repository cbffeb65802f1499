"""Virtual time through each client the issue names: the openai SDK (this file also runs on the
openai 2.x leg), the anthropic SDK and the reference client. Each scenario is played twice,
the same test body both ways: under `@pytest.mark.sparring_virtual_time` with production's
waits, and for real with them scaled down; the checks must reach the same verdicts."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import httpx
import pytest

from sparring import FakeLLM, Fault, Timing, collect, error, reply
from sparring.checks.collect import Collected
from sparring.checks.retries import check_retries
from sparring.client import EventType, LLMClient, RetryPolicy
from sparring.errors import ServerError
from sparring.plugin.virtual import ASYNCIO_ONLY, LoopServer, on_virtual_loop
from tests.test_plugin import lit, run, write

pytest_plugins = ["pytester"]

TEXT = "one two three four five six"
QUESTION = [{"role": "user", "content": "count"}]
# Writes after the first, each waiting a gap: the openai stream's 6 words and finish chunk; the
# anthropic stream's (7 writes: message_start ... message_stop, as the dialect groups them).
GAPS = {"openai": 7, "anthropic": 6}

# The same body twice: production's waits on the virtual clock, and a hundredth of them for
# real (0.6 s), where the machine can only make things late.
WAYS = [
    pytest.param(1.0, marks=[pytest.mark.sparring_virtual_time], id="virtual"),
    pytest.param(0.01, id="real"),
]


def virtual(scale: float) -> bool:
    return scale == 1.0


def late_or_on_time(measured: float, scripted: float, scale: float) -> None:
    """On time to the microsecond under virtual time; at least what was scripted in real time."""
    if virtual(scale):
        assert measured == pytest.approx(scripted, abs=1e-3)
    else:
        assert measured >= scripted - 0.01


async def sdk_stream(sdk: str, fake_llm: FakeLLM) -> Collected[Any]:
    """The SDK's stream of events, collected with their times (after the headers came)."""
    if sdk == "openai":
        async with fake_llm.async_openai(max_retries=2) as client:
            chunks = await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)  # type: ignore[arg-type]
            return await collect(chunks)
    async with fake_llm.async_anthropic(max_retries=2) as client:
        events = await client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=100,
            messages=QUESTION,  # type: ignore[arg-type]
            stream=True,
        )
        return await collect(events)


def text_of(sdk: str, events: list[Any]) -> str:
    if sdk == "openai":
        return "".join(e.choices[0].delta.content or "" for e in events if e.choices)
    return "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")


@pytest.mark.asyncio
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
@pytest.mark.parametrize("scale", WAYS)
async def test_a_minute_of_waits_through_the_sdk(fake_llm: FakeLLM, sdk: str, scale: float) -> None:
    # 60 s: two 429s asking for 20 s each, 10 s before the first event, 10 s of gaps.
    fake_llm.add(
        error("rate_limit", retry_after=20 * scale, times=2),
        reply(TEXT, timing=Timing(first_chunk=10 * scale, gap=10 / GAPS[sdk] * scale)),
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    got = await sdk_stream(sdk, fake_llm)
    assert got.error is None, got  # (an SDK stream has close(), not aclose(): collect leaves it to the SDK)
    assert text_of(sdk, got.events) == TEXT
    late_or_on_time(loop.time() - started, 60 * scale, scale)  # the loop's clock: virtual or real

    report = check_retries(fake_llm.journal, attempts=3, honours_retry_after=True)
    assert [(a.status, a.retry_after) for a in report.attempts] == [(429, 20 * scale), (429, 20 * scale), (200, None)]
    first, second, answer = fake_llm.journal
    late_or_on_time(second.arrived - first.arrived, 20 * scale, scale)
    late_or_on_time(answer.arrived - second.arrived, 20 * scale, scale)
    late_or_on_time(answer.chunks[0].at, 10 * scale, scale)
    assert answer.ended is not None
    late_or_on_time(answer.ended, 20 * scale, scale)
    # The client's own view, collect's times: the first event 10 s after the headers, the last 20 s.
    late_or_on_time(got.times[0], 10 * scale, scale)
    late_or_on_time(got.times[-1], 20 * scale, scale)


# -- the reference client: its retry loop and backoff sleeps ---------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("scale", WAYS)
async def test_the_reference_client_waits_retries_and_backs_off(fake_llm: FakeLLM, scale: float) -> None:
    fake_llm.add(
        error("rate_limit", retry_after=45 * scale),
        # Cut after the role chunk: nothing was yielded yet, so the client may try again.
        reply(TEXT, timing=Timing(first_chunk=10 * scale), fault=Fault("reset", after_chunk=1)),
        reply(TEXT, timing=Timing(first_chunk=10 * scale, gap=2 * scale)),
    )
    # After the cut, the second attempt's backoff: 2 s doubled, less up to 25 % jitter: 3 to 4 s.
    policy = RetryPolicy(initial=2 * scale, max_retry_after=60 * scale)
    async with LLMClient(
        base_url=fake_llm.base_url, api_key=fake_llm.api_key, retry_policy=policy, rng=random.Random(7)
    ) as client:
        events = [event async for event in client.chat_completion(QUESTION)]
    assert [e.type for e in events] == [EventType.TEXT_DELTA] * 6 + [EventType.MESSAGE_COMPLETE]
    assert events[-1].text == TEXT

    report = check_retries(fake_llm.journal, attempts=3, honours_retry_after=True, min_gap=0.5 * scale)
    assert [(a.status, a.outcome) for a in report.attempts] == [(429, "completed"), (200, "fault"), (200, "completed")]
    first, cut, answer = fake_llm.journal
    late_or_on_time(cut.arrived - first.arrived, 45 * scale, scale)
    assert cut.ended is not None
    backoff = answer.arrived - (cut.arrived + cut.ended)
    assert 3 * scale - 0.01 <= backoff
    if virtual(scale):
        assert backoff <= 4.0 + 1e-3  # the client's own sleep, on the virtual clock


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
async def test_the_reference_client_gives_up_on_a_retry_after_beyond_its_cap(fake_llm: FakeLLM) -> None:
    fake_llm.add(error("rate_limit", retry_after=3600), reply(TEXT, optional=True))
    async with LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key) as client:
        events = [event async for event in client.chat_completion(QUESTION)]
    assert [e.type for e in events] == [EventType.ERROR]  # at once: an hour is above its 60 s cap
    assert len(fake_llm.journal) == 1


# -- retry-after as an HTTP date -------------------------------------------------------------


async def ask_once(client_name: str, fake_llm: FakeLLM) -> None:
    """One call through a client that honours retry-after, its retries on."""
    if client_name == "openai":
        async with fake_llm.async_openai(max_retries=2) as openai_client:
            await openai_client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)  # type: ignore[arg-type]
    elif client_name == "anthropic":
        async with fake_llm.async_anthropic(max_retries=2) as anthropic_client:
            await anthropic_client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=QUESTION)  # type: ignore[arg-type]
    else:
        async with LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key) as reference:
            events = [event async for event in reference.chat_completion(QUESTION, stream=False)]
        assert [e.type for e in events] == [EventType.MESSAGE_COMPLETE]


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@pytest.mark.parametrize("client_name", ["openai", "anthropic", "reference"])
async def test_a_retry_after_date_is_waited_out_on_the_virtual_clock(fake_llm: FakeLLM, client_name: str) -> None:
    fake_llm.add(error("rate_limit", retry_after=20, retry_after_format="date", times=2), reply(TEXT))
    await asyncio.sleep(3600)  # the virtual clock an hour ahead of the real one: dates follow it
    await ask_once(client_name, fake_llm)
    report = check_retries(fake_llm.journal, attempts=3, honours_retry_after=True)
    for asked, retry in itertools.pairwise(report.attempts):
        # The date is rounded up to a whole second: 20 to 21 s, as the client computed it too.
        assert asked.retry_after_header is not None
        assert asked.retry_after_header.endswith("GMT")
        assert asked.retry_after is not None
        assert 20 <= asked.retry_after <= 21
        assert retry.gap_before is not None
        assert asked.retry_after - 0.01 <= retry.gap_before <= 21  # neither 0 nor the hour


async def impatient(fake_llm: FakeLLM, wait: float) -> None:
    """A client that retries a 429 after its own `wait`, whatever the retry-after says."""
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {fake_llm.api_key}"}) as http:
        body = {"model": "gpt-4o-mini", "messages": QUESTION}
        for _ in range(3):
            if (await http.post(f"{fake_llm.base_url}/chat/completions", json=body)).status_code != 429:
                return
            await asyncio.sleep(wait)


@pytest.mark.asyncio
@pytest.mark.parametrize("scale", WAYS)
async def test_a_client_that_ignores_a_retry_after_date_is_caught_both_ways(fake_llm: FakeLLM, scale: float) -> None:
    # A date says whole seconds only: 2 s in real time, 20 s on the virtual clock.
    asked = 20.0 if virtual(scale) else 2.0
    fake_llm.add(error("rate_limit", retry_after=asked, retry_after_format="date"), reply(TEXT))
    await impatient(fake_llm, wait=asked / 20)
    report = check_retries(fake_llm.journal, attempts=2, raise_on_violation=False)
    assert not report.ok
    assert "but the server asked for" in str(report)
    assert report.attempts[0].retry_after is not None
    assert asked <= report.attempts[0].retry_after <= asked + 1


# -- every kind of scripted wait -------------------------------------------------------------

# (the reply, the client's read timeout, the outcome, when the response ended if it says)
STALL = Fault("stall", after_chunk=2, duration=100)
WAITS = {
    "headers_delay": (reply(TEXT, timing=Timing(headers_delay=90)), 120.0, "completed", 90.0),
    "jitter": (reply(TEXT, timing=Timing(gap=10, jitter=5, seed=3)), 30.0, "completed", None),
    "keepalive during a stall": (reply(TEXT, timing=Timing(keepalive=10), fault=STALL), 30.0, "completed", 100.0),
    "stall with a duration": (reply(TEXT, fault=STALL), 300.0, "completed", 100.0),
    "hang with a duration": (reply(TEXT, fault=Fault("hang", duration=100)), 300.0, "fault", 100.0),
}


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@pytest.mark.parametrize("kind", list(WAITS))
async def test_each_scripted_wait_passes_on_the_virtual_clock(fake_llm: FakeLLM, kind: str) -> None:
    scripted, timeout, outcome, ended = WAITS[kind]
    fake_llm.add(scripted)
    async with fake_llm.async_openai(max_retries=0, timeout=timeout) as client:
        try:
            chunks = await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)  # type: ignore[arg-type]
            text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        except Exception as exc:  # the hang: the connection closes with no response
            text = type(exc).__name__
    (entry,) = await fake_llm.wait_for(lambda journal: journal[0].outcome is not None)
    assert entry.outcome == outcome
    assert text == (TEXT if outcome == "completed" else "APIConnectionError")
    if ended is not None:
        assert entry.ended == pytest.approx(ended, abs=1e-3)
    events = [c.at for c in entry.chunks if c.kind == "event"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(events)]
    if kind == "jitter":  # each gap drawn from 5 to 15 s, and not all the same
        assert all(5 - 1e-3 <= gap <= 15 + 1e-3 for gap in gaps)
        assert len({round(gap, 3) for gap in gaps}) > 1
    if kind.startswith("keepalive"):  # a comment every 10 s of the 100 s stall, none at its end
        comments = [c.at for c in entry.chunks if c.kind == "keepalive"]
        assert len(comments) == 9
        assert [b - a for a, b in itertools.pairwise(comments)] == pytest.approx([10.0] * 8, abs=1e-3)
    if kind.startswith("stall"):  # the 100 s fall between two events
        assert max(gaps) == pytest.approx(100.0, abs=1e-3)


# -- raw asyncio HTTP clients ----------------------------------------------------------------


async def raw_lines(client_name: str, fake_llm: FakeLLM) -> list[str]:
    """The SSE lines of a streamed answer, read with httpx or aiohttp: no SDK in between."""
    url, body = f"{fake_llm.base_url}/chat/completions", {"model": "gpt-4o-mini", "messages": QUESTION, "stream": True}
    headers = {"authorization": f"Bearer {fake_llm.api_key}"}
    if client_name == "httpx":
        async with httpx.AsyncClient(timeout=30) as http, http.stream("POST", url, json=body, headers=headers) as r:
            return [line async for line in r.aiter_lines() if line]
    import aiohttp

    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=30)) as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return [line.decode().strip() async for line in response.content if line.strip()]


@pytest.mark.asyncio
@pytest.mark.sparring_virtual_time
@pytest.mark.parametrize("client_name", ["httpx", "aiohttp"])
async def test_raw_clients_read_on_the_virtual_schedule(fake_llm: FakeLLM, client_name: str) -> None:
    # A 120 s first chunk kept alive every 10 s under a 30 s read timeout, then 5 s gaps.
    fake_llm.add(reply(TEXT, timing=Timing(first_chunk=120, gap=5, keepalive=10)))
    lines = await raw_lines(client_name, fake_llm)
    assert lines[-1] == "data: [DONE]"
    assert lines.count(": ping") == 11  # at 10, 20 ... 110 s of the wait (none at its end, none in a 5 s gap)
    (entry,) = fake_llm.journal
    assert entry.outcome == "completed"
    assert entry.ended == pytest.approx(120 + 7 * 5, abs=1e-3)


# -- event loops: asyncio only -----------------------------------------------------------------

TRIO_TEST = """
@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
@pytest.mark.sparring_virtual_time
async def test_both(fake_llm):
    fake_llm.add(reply("Hello"))
    async with fake_llm.async_openai() as client:
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
"""


def test_a_trio_test_is_refused_with_the_reason_and_asyncio_runs(pytester: pytest.Pytester) -> None:
    pytest.importorskip("trio")
    write(pytester, TRIO_TEST)
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)  # anyio on asyncio: virtual time works there
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_both?trio?*",
            lit(ASYNCIO_ONLY.format(library="trio")),  # why, and what to do
        ]
    )


def test_the_virtual_loop_refuses_trio_when_it_gets_there() -> None:
    """The refusal at run time, for a trio runner the setup check did not recognize."""
    trio = pytest.importorskip("trio")
    server = LoopServer()
    ran = []

    async def body() -> None:
        ran.append(True)

    try:
        with pytest.raises(ServerError, match="needs an asyncio event loop, and this test runs under trio"):
            trio.run(on_virtual_loop(body, server))
    finally:
        server.close()
    assert not ran
