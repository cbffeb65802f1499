"""Timing, measured at the client: delays, gaps, jitter and log-normal draws, keep-alives.

Bounds are lower bounds with a little slack for clock granularity (asyncio never wakes a
sleeper early); upper bounds, where any, are loose, because a loaded CI machine only adds.
Each chunk is due at a fixed time from the stream's start, so the bounds are on when each
chunk arrives after the request, not on the gap since the chunk before it: a chunk that
went out late is followed by a shorter gap.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time

import httpx
import openai

from sparring import FakeServer, Fault, Scenario, Timing, reply

SLACK = 0.015  # seconds: timer and scheduling granularity on a loaded machine
CHUNKS = ["a", "b", "c", "d", "e", "f"]
BODY = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}


def content_arrivals(server: FakeServer) -> tuple[float, float, list[float]]:
    """(request sent, headers received, arrival of each content delta), via the SDK."""
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        sent = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        headers_at = time.monotonic()
        arrivals = [time.monotonic() for chunk in raw.parse() if chunk.choices and chunk.choices[0].delta.content]
    return sent, headers_at, arrivals


def gaps(arrivals: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(arrivals)]


def assert_on_schedule(sent: float, arrivals: list[float], gaps_drawn: list[float]) -> None:
    """Content delta i is due i + 1 gaps after the role chunk (sent at once): never earlier."""
    due = list(itertools.accumulate(gaps_drawn))
    for i, (arrived, at) in enumerate(zip(arrivals, due, strict=False)):
        assert arrived - sent >= at - SLACK, f"content delta {i} came {at - (arrived - sent):.3f} s early"


def test_headers_delay_and_first_chunk(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, timing=Timing(headers_delay=0.3, first_chunk=0.4))))
    sent, headers_at, arrivals = content_arrivals(server)
    assert headers_at - sent >= 0.3 - SLACK
    # The role chunk comes after first_chunk; the first content delta right behind it.
    assert arrivals[0] - headers_at >= 0.4 - SLACK


def test_fixed_gap_between_chunks(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, timing=Timing(gap=0.08))))
    sent, _, arrivals = content_arrivals(server)
    measured = gaps(arrivals)
    assert len(measured) == len(CHUNKS) - 1
    assert_on_schedule(sent, arrivals, [0.08] * len(CHUNKS))
    # Loose ceiling: a gap ten times too long would mean the schedule is wrong, not the machine slow.
    assert statistics.median(measured) < 0.8


def test_jitter_stays_in_its_band_and_is_reproducible(server: FakeServer) -> None:
    timing = Timing(gap=0.1, jitter=0.06, seed=7)
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, timing=timing), reply(chunks=CHUNKS, timing=timing)))
    rng = random.Random(7)  # independently: the role chunk takes no draw, then one per later chunk
    drawn = [max(0.0, 0.1 + rng.uniform(-0.06, 0.06)) for _ in range(len(CHUNKS))]
    assert all(0.04 <= d <= 0.16 for d in drawn)
    sent, _, first = content_arrivals(server)
    assert_on_schedule(sent, first, drawn)
    again, _, second = content_arrivals(server)
    assert_on_schedule(again, second, drawn)
    # The same seed draws the same gaps: the two runs agree far better than the jitter band.
    offsets = [(a - sent) - (b - again) for a, b in zip(first, second, strict=True)]
    assert max(abs(d) for d in offsets) < 0.05


def test_lognormal_gaps_follow_the_seeded_draws(server: FakeServer) -> None:
    timing = Timing(gap=0.05, distribution="lognormal", sigma=0.8, seed=3)
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, timing=timing)))
    sent, _, arrivals = content_arrivals(server)
    # Independently: the role chunk takes no draw, then one draw per later paced event.
    rng = random.Random(3)
    draws = [0.05 * rng.lognormvariate(0.0, 0.8) for _ in range(len(CHUNKS))]
    assert_on_schedule(sent, arrivals, draws)
    assert arrivals[-1] - sent >= sum(draws) - SLACK


def test_a_whole_answer_takes_as_long_as_the_stream(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=CHUNKS, timing=Timing(first_chunk=0.1, gap=0.05))))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        started = time.monotonic()
        answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        took = time.monotonic() - started
    assert answer.choices[0].message.content == "abcdef"
    # first_chunk + 6 content gaps + the finish chunk's gap = 0.1 + 7 * 0.05
    assert took >= 0.45 - SLACK


def test_keepalive_comments_while_waiting(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("hello", timing=Timing(first_chunk=0.35, keepalive=0.1))))
    with httpx.Client() as client, client.stream("POST", f"{server.base_url}/chat/completions", json=BODY) as r:
        body = b"".join(r.iter_raw())
    head = body.split(b"data:")[0]
    assert head == b": ping\n\n" * 3, "three keep-alives fit in 0.35 s, before the first event"
    (entry,) = server.journal()
    assert [c.kind for c in entry.chunks[:3]] == ["keepalive"] * 3


def test_keepalive_comments_during_a_stall_between_events_sent_together(server: FakeServer) -> None:
    """Events with no gap share a write; a stall after chunk 2 cuts that write between two
    events, where keep-alive comments still belong (they were once left out there)."""
    stall = Fault("stall", after_chunk=2, duration=0.35)
    server.set_scenario(Scenario.of(reply("one two three", timing=Timing(keepalive=0.1), fault=stall)))
    with httpx.Client() as client, client.stream("POST", f"{server.base_url}/chat/completions", json=BODY) as r:
        body = b"".join(r.iter_raw())
    before, _, after = body.partition(b": ping\n\n")
    assert before.count(b"data:") == 2, "the first keep-alive follows the second event"
    assert body.count(b": ping\n\n") == 3, "three keep-alives fit in the 0.35 s stall"
    assert after.startswith(b": ping\n\n: ping\n\ndata:")


def test_the_sdk_ignores_keepalive_comments(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("hello world", timing=Timing(first_chunk=0.25, gap=0.12, keepalive=0.05))))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "hello world"
    (entry,) = server.journal()
    assert sum(c.kind == "keepalive" for c in entry.chunks) >= 4
