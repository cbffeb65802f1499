"""The request path: an exchange per request with its own generator, events taken as they are
sent, unshaped events coalesced into few writes, pacing against absolute deadlines, and the
fault kinds as one registry."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from sparring import FakeServer, Scenario, Timing, reply, respond
from sparring.fake_server import faults, playback
from sparring.fake_server.context import STATE, ServerState
from sparring.fake_server.dialects.base import Frame
from sparring.fake_server.exchange import Exchange
from sparring.fake_server.store import Store
from sparring.scenario.delivery import BEFORE_HEADERS, FAULT_KINDS, MID_STREAM, Wire
from sparring.scenario.request import Request

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True}
BOUND = 10.0  # seconds: waits that only run out if the server is stuck


def stream_body(server: FakeServer) -> bytes:
    with httpx.Client(timeout=BOUND) as client:
        response = client.post(f"{server.base_url}/chat/completions", json=BODY)
    assert response.status_code == 200
    return response.content


def test_unshaped_events_with_no_wait_between_them_share_a_write(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=["w"] * 200)))
    body = stream_body(server)
    (entry,) = server.wait_until(lambda j: bool(j) and j[0].outcome is not None)
    events = body.count(b"data: ")
    assert events == 203  # the role chunk, 200 words, the finish chunk, [DONE]
    assert (entry.events_sent, entry.content_sent) == (events, 200)
    # At most 64 events a write: the cap that gives other clients a turn.
    assert len(entry.chunks) == math.ceil(events / 64)
    assert sum(c.nbytes for c in entry.chunks) == len(body) == entry.bytes_sent


def test_each_paced_event_has_a_write_of_its_own(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=["a", "b", "c"], timing=Timing(gap=0.01))))
    body = stream_body(server)
    (entry,) = server.wait_until(lambda j: bool(j) and j[0].outcome is not None)
    # The role chunk, three words and the finish chunk each wait; [DONE] follows the finish chunk.
    assert [c.nbytes for c in entry.chunks][-1] == len(b"".join(body.split(b"\n\n")[-3:-1])) + 4
    assert len(entry.chunks) == 5
    assert (entry.events_sent, entry.content_sent) == (6, 3)


def test_shaped_streams_keep_their_event_grouping(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=["a", "b", "c", "d"], wire=Wire(events_per_write=2))))
    body = stream_body(server)
    (entry,) = server.wait_until(lambda j: bool(j) and j[0].outcome is not None)
    events = body.split(b"\n\n")[:-1]
    assert len(events) == 7
    pairs = [sum(len(e) + 2 for e in events[i : i + 2]) for i in range(0, len(events), 2)]
    assert [c.nbytes for c in entry.chunks] == pairs


def test_a_late_write_does_not_delay_the_ones_after_it(server: FakeServer) -> None:
    """The server's loop is held up for 0.5 s early in a 1.3 s stream (a callback that blocks,
    answering another request): the chunks due meanwhile go out late, then catch up, half a
    gap at a time, so the stream ends about when scripted, not 0.5 s later as relative sleeps
    would make it; and they go out paced, not in a burst."""

    def blocking(request: Request) -> str:
        time.sleep(0.5)  # on the server's loop: every stream waits meanwhile
        return "done"

    server.set_scenario(Scenario.of(reply(chunks=["a"] * 12, timing=Timing(gap=0.1)), respond(blocking)))
    with (
        httpx.Client(timeout=BOUND) as client,
        client.stream("POST", f"{server.base_url}/chat/completions", json=BODY) as response,
    ):
        lines = response.iter_lines()
        next(line for line in lines if '"content":"a"' in line)
        other = threading.Thread(target=lambda: httpx.post(f"{server.base_url}/chat/completions", json=BODY))
        other.start()
        list(lines)
        other.join(BOUND)
    entry = server.wait_until(lambda j: len(j) == 2 and all(e.outcome for e in j))[0]
    assert entry.outcome == "completed"
    times = [c.at for c in entry.chunks]
    took = times[-1] - times[0]
    # Scripted: 1.3 s (12 words and the finish chunk). Relative sleeps: at least 1.8 s.
    assert took < 1.55, f"the stream took {took:.2f} s: the blocked half second added up"
    # Catching up, each write still waited at least half its gap (less timer granularity).
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.05 - 0.015


@pytest.mark.asyncio
async def test_the_headers_go_out_before_the_events_are_taken() -> None:
    """Playback takes events from any iterable as it sends them: a client has the headers
    while a lazily rendered stream has given only what its first write needs."""
    taken: list[int] = []

    def events() -> Iterator[Frame]:
        for i in range(50):
            taken.append(i)
            yield Frame(b"data: %d\n\n" % i)

    async def handle(request: web.Request) -> web.StreamResponse:
        exchange = Exchange.arrive(request, request.app[STATE], None)
        timing = Timing(first_chunk=0.0, gap=BOUND)  # the second event waits far longer than the test
        return await playback.stream(
            exchange, events(), timing=timing, wire=Wire(), fault=None, error_frames=lambda sent: [], headers={}
        )

    app = web.Application(handler_args={"handler_cancellation": True})
    app[STATE] = ServerState(Store(), random.Random(0))
    app.router.add_post("/", handle)
    async with TestServer(app, host="127.0.0.1") as test_server, ClientSession() as session:
        async with session.post(test_server.make_url("/")) as response:
            assert response.status == 200
            assert await response.content.readuntil(b"\n\n") == b"data: 0\n\n"
            # The first event; the second, its write made while the first goes out; and the
            # third, taken to learn that the second goes alone: 3 of 50.
            assert taken == [0, 1, 2]
        journal = app[STATE].store.space().journal
        (entry,) = await asyncio.to_thread(journal.wait_until, lambda j: j[0].outcome is not None, BOUND)
    assert entry.outcome == "client_disconnected"
    assert entry.events_sent == 1


def test_concurrent_streams_draw_their_ids_from_their_own_generator() -> None:
    """Two streams under way at once on a seeded server: each one's bytes are the same as on
    another server with the same seed, however their events interleave."""

    def run() -> tuple[bytes, bytes]:
        slow = reply(chunks=["a", "b", "c", "d"], timing=Timing(gap=0.05))
        with (
            FakeServer(Scenario.of(slow, reply(chunks=["x", "y"])), seed=7) as server,
            httpx.Client(timeout=BOUND) as client,
            client.stream("POST", f"{server.base_url}/chat/completions", json=BODY) as first,
        ):
            lines = first.iter_lines()
            head = next(lines)
            second = client.post(f"{server.base_url}/chat/completions", json=BODY).content
            rest = "\n".join(lines)
        return (head + "\n" + rest).encode(), second

    def masked(body: bytes) -> bytes:
        return re.sub(rb'"created":\d+', b'"created":0', body)

    one, two = run(), run()
    assert masked(one[0]) == masked(two[0])
    assert masked(one[1]) == masked(two[1])
    assert masked(one[0]) != masked(one[1])


def test_every_fault_kind_has_its_object_in_the_phases_the_model_allows() -> None:
    assert set(faults.KINDS) == set(FAULT_KINDS)
    for name, kind in faults.KINDS.items():
        assert ("before_headers" in kind.phases) == (name in BEFORE_HEADERS), name
        assert (kind.phases != ("before_headers",)) == (name in MID_STREAM), name
