"""How faithfully a recording is replayed in time: the error of each write against the
recorded schedule. Prints a table; asserts nothing (it fails only if the bytes differ).

    .venv/bin/python bench/replay_timing.py [--runs 10] [--events 60] [--seed 1] [--json]

The recording is a chat stream of `--events` events whose gaps are drawn between 5 and
40 ms (seeded), some read together (a 0 ms gap) and one in seven torn across two reads
(the rest of it 2 ms later), made into a recording as the recorder makes one
(`frames_of`). A `FakeServer` in this process replays it `--runs` times, one request after
another, at speed 1 and at speed 10, to a raw aiohttp reader.

Two errors are measured for each recorded read, in ms, against its recorded time divided
by the speed (from the request's arrival):
- *server*: when the server wrote it (the journal's write times, from the request's arrival);
- *client*: when the reader had all of its bytes (from the moment the request was sent, so
  it includes the request's way in and the bytes' way out over loopback).
A positive error is late; the server never writes early (it waits for deadlines), so its
minimum shows the clock's rounding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from typing import Any

import aiohttp

from sparring import FakeServer, Scenario, recorded
from sparring.recorder.frames import frames_of

HEADERS_AT = 0.2


def recording_reads(events: int, seed: int) -> list[tuple[bytes, float]]:
    """The reads of a chat stream of `events` events: (bytes, arrival in seconds)."""
    rng = random.Random(seed)
    head = '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764680501,"model":"gpt-4.1-nano",'
    reads: list[tuple[bytes, float]] = []
    at = HEADERS_AT + 0.3  # time to the first token
    for i in range(events):
        word = rng.choice(["Hello", " world", ",", " how", " are", " you", " today", "?"])
        frame = f'data: {head}"choices":[{{"index":0,"delta":{{"content":{json.dumps(word)}}}}}]}}\n\n'.encode()
        if i % 7 == 3:  # torn: the rest of the event came 2 ms later
            reads += [(frame[:40], at), (frame[40:], at + 0.002)]
        elif i % 9 == 5 and reads:  # read together with the event before
            previous, when = reads.pop()
            reads.append((previous + frame, when))
            continue
        else:
            reads.append((frame, at))
        at += rng.uniform(0.005, 0.040)
    reads.append((b"data: [DONE]\n\n", at))
    return reads


async def replay_once(url: str, server: FakeServer, body_expected: bytes) -> tuple[list[float], list[float]]:
    """One replay: the server's write times and the reader's arrival times of each write."""
    request = {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    before = len(server.journal())
    async with aiohttp.ClientSession() as session:
        sent = time.monotonic()
        async with session.post(url + "/v1/chat/completions", json=request) as response:
            arrivals: list[tuple[int, float]] = []
            got = 0
            async for piece in response.content.iter_any():
                got += len(piece)
                arrivals.append((got, time.monotonic() - sent))
    entry = server.journal()[before]
    if sum(c.nbytes for c in entry.chunks) != len(body_expected) or got != len(body_expected):
        raise SystemExit("the replayed body differs from the recording")
    server_times = [c.at for c in entry.chunks]
    client_times: list[float] = []
    end = 0
    for chunk in entry.chunks:  # when the reader had all of each write's bytes
        end += chunk.nbytes
        client_times.append(next(t for total, t in arrivals if total >= end))
    return server_times, client_times


def stats(errors: list[float]) -> dict[str, float]:
    ms = sorted(e * 1000 for e in errors)
    p99 = ms[min(len(ms) - 1, round(0.99 * len(ms)) - 1)]  # nearest rank
    return {"min": ms[0], "p50": statistics.median(ms), "p99": p99, "max": ms[-1]}


async def measure(runs: int, events: int, seed: int) -> dict[str, dict[str, dict[str, float]]]:
    reads = recording_reads(events, seed)
    body = b"".join(data for data, _ in reads)
    recorded_events, tail = frames_of(reads)
    assert tail is None
    results: dict[str, dict[str, dict[str, float]]] = {}
    with FakeServer() as server:
        for speed in (1.0, 10.0):
            reply = recorded("chat", events=recorded_events, headers_at=HEADERS_AT, speed=speed, repeat=True)
            server.set_scenario(Scenario.of(reply))
            due = [at / speed for _, at in reads]
            server_errors: list[float] = []
            client_errors: list[float] = []
            for _ in range(runs):
                server_times, client_times = await replay_once(server.url, server, body)
                if len(server_times) != len(due):
                    raise SystemExit(f"{len(server_times)} writes, {len(due)} recorded reads")
                server_errors += [t - d for t, d in zip(server_times, due, strict=True)]
                client_errors += [t - d for t, d in zip(client_times, due, strict=True)]
            results[f"speed {speed:g}"] = {"server": stats(server_errors), "client": stats(client_errors)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    reads = recording_reads(args.events, args.seed)
    print(
        f"replaying {args.events} events in {len(reads)} reads over {reads[-1][1]:.2f} s "
        f"(headers at {HEADERS_AT} s), {args.runs} runs per speed; error per write in ms (late > 0)"
    )
    results = asyncio.run(measure(args.runs, args.events, args.seed))
    print(f"{'':10} {'':7} {'min':>7} {'p50':>7} {'p99':>7} {'max':>7}")
    for speed, sides in results.items():
        for side, figures in sides.items():
            row = " ".join(f"{figures[k]:7.2f}" for k in ("min", "p50", "p99", "max"))
            print(f"{speed:10} {side:7} {row}")
    if args.json:
        out: dict[str, Any] = {"runs": args.runs, "events": args.events, "results": results}
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
