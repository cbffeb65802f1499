"""Throughput and latency figures for sparring's fake server. Not part of the test suite.

    .venv/bin/python bench/bench_chat.py [--requests 300] [--warmup 20] [--big-chunks 20000] [--startups 20] [--json]

Client and server share one process (the server runs in its own thread, as it does in tests),
so every figure includes the two contending for the GIL: it is what a test suite sees, not a
ceiling for the server on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import openai
from openai import AsyncOpenAI

from sparring import FakeServer, Scenario, Timing, reply
from sparring.scenario._cost import MAX_CHUNKS

SMALL_CHUNKS = [f"tok{i:02d} " for i in range(20)]
REQUEST: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "bench"}], "stream": True}
HEADERS = {"Authorization": "Bearer sk-test"}
FRAMING_EVENTS = 3  # besides one event per chunk: the role delta, the finish_reason delta, and [DONE]

Figures = dict[str, dict[str, Any]]


def p99(values: list[float]) -> float:
    """Nearest-rank percentile: the smallest value with at least 99% of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


async def sequential(one: Callable[[], Awaitable[int]], expected: int, requests: int, warmup: int) -> dict[str, float]:
    """Run `one` `warmup` times unmeasured (connection set-up, first-use imports and caches), then
    `requests` times one after another; each call returns the count of events it saw."""
    for _ in range(warmup):
        await one()
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter()
        got = await one()
        latencies.append(time.perf_counter() - t0)
        if got != expected:  # a fast wrong answer is no answer: fail the run rather than report it
            sys.exit(f"MISMATCH: a stream gave {got} events, expected {expected}")
    elapsed = time.perf_counter() - started
    return {
        "median_ms": statistics.median(latencies) * 1e3,
        "p99_ms": p99(latencies) * 1e3,
        "requests_per_s": requests / elapsed,
    }


async def sdk_stream(client: AsyncOpenAI) -> int:
    """The openai SDK's own path: httpx, its SSE decoder, and a pydantic model per chunk."""
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "bench"}], stream=True
    )
    return sum([1 async for chunk in stream if chunk.choices and chunk.choices[0].delta.content])


async def raw_stream(session: aiohttp.ClientSession, url: str, keep: list[bytes] | None = None) -> tuple[int, int]:
    """A minimal SSE reader: read lines, count `data:` events and bytes, parse nothing."""
    events = nbytes = 0
    async with session.post(url, json=REQUEST, headers=HEADERS) as response:
        response.raise_for_status()
        async for line in response.content:  # reads up to the end of the body, so the connection is reused
            nbytes += len(line)
            if line.startswith(b"data:"):
                events += 1
                if keep is not None:
                    keep.append(line)
    return events, nbytes


async def big_stream(server: FakeServer, session: aiohttp.ClientSession, count: int) -> dict[str, Any]:
    chunks = [f"w{i % 1000:03d} " for i in range(count)]  # 5 characters each
    server.reset()  # empties the journal, so reading it back later copies one entry, not hundreds
    server.set_scenario(Scenario.of(reply(chunks=chunks, timing=Timing())))  # Timing(): no gaps at all
    lines: list[bytes] = []
    t0 = time.perf_counter()
    events, nbytes = await raw_stream(session, f"{server.base_url}/chat/completions", keep=lines)
    seconds = time.perf_counter() - t0
    # Checked after the clock stops: the content events, in order, must spell the scripted text.
    payloads = [json.loads(line[5:]) for line in lines if line.strip() != b"data: [DONE]"]
    pieces = [c for p in payloads for choice in p["choices"] if (c := choice["delta"].get("content"))]
    outcome = server.journal()[-1].outcome
    text_matches = "".join(pieces) == "".join(chunks)
    return {
        "ok": len(pieces) == count and events == count + FRAMING_EVENTS and text_matches and outcome == "completed",
        "scripted_chunks": count,
        "data_events": events,
        "content_events": len(pieces),
        "text_matches": text_matches,
        "server_outcome": outcome,
        "seconds": seconds,
        "chunks_per_s": count / seconds,
        "mb_per_s": nbytes / seconds / 1e6,
        "bytes": nbytes,
    }


async def streams(args: argparse.Namespace) -> Figures:
    with FakeServer(Scenario.of(reply(chunks=SMALL_CHUNKS, repeat=True, timing=Timing()))) as server:
        url = f"{server.base_url}/chat/completions"
        # max_retries=0: a retry would hide a failure inside a slow latency figure.
        async with AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            sdk = await sequential(lambda: sdk_stream(client), len(SMALL_CHUNKS), args.requests, args.warmup)
        async with aiohttp.ClientSession() as session:
            expected = len(SMALL_CHUNKS) + FRAMING_EVENTS

            async def one() -> int:
                return (await raw_stream(session, url))[0]

            raw = await sequential(one, expected, args.requests, args.warmup)
            big = await big_stream(server, session, args.big_chunks)
    return {"openai_sdk": sdk, "aiohttp_sse": raw, "big_stream": big}


def startups(runs: int) -> dict[str, float]:
    """start() returns once the socket is bound and the loop serves; close() joins the thread."""
    starts: list[float] = []
    closes: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        server = FakeServer().start()
        t1 = time.perf_counter()
        server.close()
        closes.append(time.perf_counter() - t1)
        starts.append(t1 - t0)
    return {
        "start_median_ms": statistics.median(starts) * 1e3,
        "start_max_ms": max(starts) * 1e3,
        "close_median_ms": statistics.median(closes) * 1e3,
    }


def table(figures: Figures, args: argparse.Namespace) -> str:
    sdk, raw, big, up = figures["openai_sdk"], figures["aiohttp_sse"], figures["big_stream"], figures["startup"]
    n = f"{args.requests} seq. requests"
    rows = [
        (f"openai SDK, 20-chunk stream ({n})", "median latency", f"{sdk['median_ms']:.2f} ms"),
        ("", "p99 latency", f"{sdk['p99_ms']:.2f} ms"),
        ("", "throughput", f"{sdk['requests_per_s']:.0f} req/s"),
        (f"aiohttp SSE, 20-chunk stream ({n})", "median latency", f"{raw['median_ms']:.2f} ms"),
        ("", "p99 latency", f"{raw['p99_ms']:.2f} ms"),
        ("", "throughput", f"{raw['requests_per_s']:.0f} req/s"),
        (f"one {big['scripted_chunks']:,}-chunk stream, aiohttp", "total time", f"{big['seconds']:.3f} s"),
        ("", "chunks/s", f"{big['chunks_per_s']:,.0f}"),
        ("", "MB/s (10^6 B)", f"{big['mb_per_s']:.2f} ({big['bytes']:,} B)"),
        ("", "content events", f"{big['content_events']:,} of {big['scripted_chunks']:,}"),
        (f"server start-up ({args.startups} runs)", "start median", f"{up['start_median_ms']:.2f} ms"),
        ("", "start max", f"{up['start_max_ms']:.2f} ms"),
        ("", "close median", f"{up['close_median_ms']:.2f} ms"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{'benchmark':<{widths[0]}}  {'figure':<{widths[1]}}  value", "-" * (widths[0] + widths[1] + 24)]
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
    env = figures["env"]
    lines.append(
        f"env: Python {env['python']} | {env['platform']} | {env['cpus']} CPUs"
        f" | aiohttp {env['aiohttp']} | openai {env['openai']}"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="measured requests per client (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first (default 20)")
    parser.add_argument("--big-chunks", type=int, default=20_000, help="chunks in the one long stream (default 20000)")
    parser.add_argument("--startups", type=int, default=20, help="server start/close cycles (default 20)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    if args.requests < 1 or args.big_chunks < 1 or args.startups < 1 or args.warmup < 0:
        parser.error("--requests, --big-chunks and --startups must be >= 1, --warmup >= 0")
    if args.big_chunks > MAX_CHUNKS:
        parser.error(f"--big-chunks: a reply may have at most {MAX_CHUNKS:,} chunks")

    figures = asyncio.run(streams(args))
    figures["startup"] = startups(args.startups)
    figures["env"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "aiohttp": aiohttp.__version__,
        "openai": openai.__version__,
    }
    print(table(figures, args))
    if args.json:
        print(json.dumps(figures, indent=2))

    big = figures["big_stream"]
    if not big["ok"]:
        print(f"\n!!! MISMATCH in the long stream: {json.dumps(big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
