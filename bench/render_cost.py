"""What the largest replies and scenarios allowed cost the server, and how long its event loop
stalls meanwhile. Not part of the test suite.

    .venv/bin/python bench/render_cost.py [--runs 3] [--only stream]

0. One 20,000-chunk stream rendered alone, per API (Chat with `include_usage`): the time to
   its first frame (the `stream()` call and the first frame taken), the time to render every
   frame, the cost per event and frames per second; the best and the median of `--runs`
   (at least 5), since a shared machine only ever adds time. Then the same with the JSON of
   each event's varying part (its text piece) encoded by `orjson`, when it is installed.
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
import contextlib
import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator

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
    "ollama_chat": {"model": "llama3.2", "messages": USER},  # NDJSON; streams unless "stream": false
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


STREAMED = {**BODIES, "chat": {**BODIES["chat"], "stream_options": {"include_usage": True}}}
STREAMED["completions"] = {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "stream": True}


def stream_timings(api: str, chunks: int) -> tuple[float, float, int]:
    """Seconds to the first frame, seconds to the last, and the number of frames."""
    dialect = next(d for d in DIALECTS if d.name == api)
    parsed = dialect.parse(STREAMED[api])
    rng = random.Random(0)
    resolved = resolve(reply(chunks=["word "] * chunks).content, n=1, model="m", messages=parsed.messages, rng=rng)
    start = time.perf_counter()
    frames = iter(dialect.stream(resolved, parsed, rng))
    next(frames)
    first = time.perf_counter()
    count = 1 + sum(1 for _ in frames)
    return first - start, time.perf_counter() - start, count


def stream_section(runs: int, chunks: int = MAX_CHUNKS) -> None:
    print(f"One {chunks:,}-chunk stream rendered alone (best / median of {runs} runs)")
    print(f"{'api':<13}{'first frame, ms':>18}{'all frames, ms':>18}{'per event, µs':>18}{'frames/s':>22}")
    for api in STREAMED:
        timings = [stream_timings(api, chunks) for _ in range(runs)]
        firsts, totals, count = [t[0] for t in timings], [t[1] for t in timings], timings[0][2]
        best, median = min(totals), statistics.median(totals)
        print(
            f"{api:<13}{min(firsts) * 1000:>9.2f} /{statistics.median(firsts) * 1000:>6.2f}"
            f"{best * 1000:>11.1f} /{median * 1000:>6.1f}{best / count * 1e6:>11.2f} /{median / count * 1e6:>5.2f}"
            f"{count / best:>12,.0f} /{count / median:>9,.0f}"
        )


@contextlib.contextmanager
def orjson_pieces() -> Iterator[bool]:
    """Within: each event's text piece encoded by `orjson` (the same bytes for a string), for
    a measurement. Yields False, changing nothing, when orjson is not installed."""
    try:
        import orjson
    except ImportError:
        yield False
        return
    from sparring.fake_server.dialects import anthropic_messages, openai_chat, openai_completions, openai_responses

    modules = (openai_chat, openai_completions, openai_responses, anthropic_messages)
    saved = [module.string for module in modules]
    for module in modules:
        module.string = orjson.dumps  # type: ignore[assignment]
    try:
        yield True
    finally:
        for module, string in zip(modules, saved, strict=True):
            module.string = string  # type: ignore[assignment]


def render_ms(api: str, answer: Answer) -> float:
    dialect = next(d for d in DIALECTS if d.name == api)
    parsed = dialect.parse(BODIES[api])
    rng = random.Random(0)
    start = time.perf_counter()
    resolved = resolve(answer.content, n=1, model="m", messages=parsed.messages, rng=rng)
    frames = dialect.stream(resolved, parsed, rng)
    list(playback.plan(frames, answer.timing, answer.wire))
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
    parser.add_argument("--only", choices=["stream"], help="only the stream-rendering figures (section 0)")
    args = parser.parse_args()
    stream_section(max(args.runs, 5))
    with orjson_pieces() as installed:
        if installed:
            print("\nWith orjson for each event's text piece:")
            stream_section(max(args.runs, 5))
    if args.only == "stream":
        return
    print()
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
