"""What the largest replies and scenarios allowed cost the server, and how long its event loop
stalls meanwhile. Not part of the test suite.

    .venv/bin/python bench/render_cost.py [--runs 3]

1. Render time (resolve, wire events, planned writes) of the largest replies the limits allow
   (sparring.scenario._cost), and of the largest rendered on the loop rather than in a worker
   thread, per API, measured directly: the median of `--runs`.
2. The longest the server's loop went without running a task (a probe on the loop sleeps 1 ms
   at a time and records how late it wakes), while one client asks for the largest reply, and
   while another PUTs a scenario of the most replies allowed over the control API; each twice
   (the first run grows the heap, so the garbage collector's full passes fall in it). Idle,
   the figure is the machine's own scheduling noise. The heavy work runs in a worker thread;
   what stalls the loop then is the GIL: the collector's passes and the OS scheduling a busy
   machine's threads late.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import threading
import time
from collections.abc import Callable

import httpx

from sparring import FakeServer, Scenario, Wire, reply
from sparring.fake_server import playback
from sparring.fake_server.app import DIALECTS
from sparring.fake_server.resolve import resolve
from sparring.scenario._cost import EVENT_BYTES, INLINE_CHUNKS, INLINE_WRITES, MAX_CHUNKS, MAX_REPLIES, MAX_WRITES
from sparring.scenario.model import Answer

USER = [{"role": "user", "content": "hi"}]
BODIES: dict[str, dict[str, object]] = {
    "chat": {"model": "gpt-4o", "messages": USER, "stream": True},
    "responses": {"model": "gpt-4o", "input": "hi", "stream": True},
    "messages": {"model": "claude-sparring-1", "max_tokens": 10, "messages": USER, "stream": True},
}
WRITE_CHUNKS = MAX_WRITES // (EVENT_BYTES + 1) - 5  # the most 1-byte-write chunks allowed
REPLIES = {
    f"{MAX_CHUNKS:,} chunks (the most)": reply(chunks=["x"] * MAX_CHUNKS),
    f"{WRITE_CHUNKS:,} chunks in 1-byte writes (the most)": reply(chunks=["x"] * WRITE_CHUNKS, wire=Wire(write_size=1)),
    f"{INLINE_CHUNKS} chunks (the most on the loop)": reply(chunks=["x"] * INLINE_CHUNKS),
    f"{INLINE_WRITES // EVENT_BYTES} chunks in 1-byte writes (~the most on the loop)": reply(
        chunks=["x"] * (INLINE_WRITES // EVENT_BYTES), wire=Wire(write_size=1)
    ),
}


def render_ms(api: str, answer: Answer) -> float:
    dialect = next(d for d in DIALECTS if d.name == api)
    parsed = dialect.parse(BODIES[api])
    rng = random.Random(0)
    start = time.perf_counter()
    resolved = resolve(answer.content, n=1, model="m", messages=parsed.messages, rng=rng)
    frames = list(dialect.stream(resolved, parsed, rng))
    playback.shape(frames, answer.timing, answer.wire, None, lambda sent: [])
    return (time.perf_counter() - start) * 1000


def loop_stall_ms(server: FakeServer, during: Callable[[], None]) -> float:
    """The longest the server's loop was late waking a 1 ms sleep while `during()` ran."""
    loop = server._loop  # the bench looks inside: what matters is that loop's own latency
    assert loop is not None
    stop = threading.Event()

    async def probe() -> float:
        worst = 0.0
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)
        return worst

    future = asyncio.run_coroutine_threadsafe(probe(), loop)
    try:
        during()
    finally:
        stop.set()
    return future.result(timeout=30) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("Render time, ms (median of", args.runs, "runs)")
    print(f"{'reply':<52}" + "".join(f"{api:>12}" for api in BODIES))
    for name, answer in REPLIES.items():
        cells = [statistics.median(render_ms(api, answer) for _ in range(args.runs)) for api in BODIES]
        print(f"{name:<52}" + "".join(f"{ms:>12.1f}" for ms in cells))

    print("\nLongest event-loop stall, ms")
    with FakeServer() as server, httpx.Client(timeout=120) as client:
        stall = loop_stall_ms(server, lambda: time.sleep(3))
        print(f"  idle for 3 s (the machine's own noise): {stall:.1f}")
        server.set_scenario(Scenario.of(REPLIES[f"{MAX_CHUNKS:,} chunks (the most)"], reply("x", repeat=True)))
        body = {**BODIES["chat"], "stream": False}
        for _ in range(2):
            started = time.perf_counter()
            stall = loop_stall_ms(server, lambda: client.post(f"{server.base_url}/chat/completions", json=body))
            print(f"  a {MAX_CHUNKS:,}-chunk answer ({time.perf_counter() - started:.2f} s in all): {stall:.1f}")
            server.set_scenario(Scenario.of(REPLIES[f"{MAX_CHUNKS:,} chunks (the most)"]))
        big = json.dumps({"replies": [{"text": f"reply {i}"} for i in range(MAX_REPLIES)]}).encode()
        for _ in range(2):
            started = time.perf_counter()
            stall = loop_stall_ms(server, lambda: client.put(f"{server.url}/_sparring/scenario", content=big))
            print(f"  PUT of {MAX_REPLIES:,} replies ({time.perf_counter() - started:.2f} s in all): {stall:.1f}")


if __name__ == "__main__":
    main()
