"""What the recording proxy adds: time to first byte, and delay per chunk. Prints figures;
asserts nothing about speed.

    .venv/bin/python bench/record_overhead.py [--runs 10] [--chunks 500] [--gap 0.002] [--json]

The upstream is `sparring serve` and the proxy `sparring record` (into a temporary file), each
a process of its own; the client is a raw aiohttp reader in this one. Each run streams the
same scripted answer (`--chunks` chunks, `--gap` seconds apart) once directly and once through
the proxy, alternately, so both see the same machine.

- **TTFB**: from sending the request to the first body byte, direct and proxied; the added
  TTFB is the proxied figure less the direct one (p50 of each, p99 of each).
- **Per-chunk delay**: for every write the upstream made (its journal has each write's time,
  on the machine's monotonic clock, which this process shares), the time until the client had
  every byte up to the end of that write. Direct, that is the loopback and the client; through
  the proxy, also the proxy's read, record and write. The added delay per chunk is the proxied
  figure less the direct one (p50 of each, p99 of each).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from path import SRC, serve  # bench/path.py: sparring's own processes, started the same way

from sparring import Scenario, Timing, dump_scenario, reply
from sparring.fake_server.journal import Entry

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "bench"}], "stream": True}


async def read(session: aiohttp.ClientSession, url: str) -> tuple[float, list[tuple[float, int]]]:
    """The TTFB in seconds, and each read's arrival (monotonic) with the bytes received so far."""
    arrivals: list[tuple[float, int]] = []
    total = 0
    sent = time.monotonic()
    async with session.post(f"{url}/v1/chat/completions", json=BODY) as response:
        async for data in response.content.iter_any():
            total += len(data)
            arrivals.append((time.monotonic(), total))
    return arrivals[0][0] - sent, arrivals


def delays(entry: Entry, arrivals: list[tuple[float, int]]) -> list[float]:
    """For each write of the upstream, seconds until the client had all of it."""
    ends = [total for _, total in arrivals]
    out = []
    written = 0
    for chunk in entry.chunks:
        written += chunk.nbytes
        i = bisect.bisect_left(ends, written)
        if i == len(ends):
            raise SystemExit(f"the client got {ends[-1]} bytes, the upstream wrote {written}")
        out.append(arrivals[i][0] - (entry.arrived + chunk.at))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def measure(upstream: str, proxy: str, runs: int, chunks: int, gap: float) -> dict[str, Any]:
    scenario = Scenario.of(reply(chunks=[f"w{i} " for i in range(chunks)], timing=Timing(gap=gap), repeat=True))
    async with aiohttp.ClientSession() as session:
        put = f"{upstream}/_sparring/scenario"
        async with session.put(put, data=dump_scenario(scenario), headers={"content-type": "application/json"}) as r:
            if r.status != 200:
                raise SystemExit(f"scenario refused: {await r.text()}")
        await read(session, upstream)  # warm-up: connections, first-use imports
        await read(session, proxy)
        taken: dict[str, list[tuple[float, list[tuple[float, int]]]]] = {"direct": [], "proxied": []}
        for _ in range(runs):
            taken["direct"].append(await read(session, upstream))
            taken["proxied"].append(await read(session, proxy))
        async with session.get(f"{upstream}/_sparring/journal") as r:
            entries = [Entry.from_json(e) for e in (await r.json())["entries"]][2:]  # after the warm-up
    figures: dict[str, Any] = {}
    for i, way in enumerate(("direct", "proxied")):
        ttfb = [t for t, _ in taken[way]]
        per_chunk = [d for run, (_, arrivals) in enumerate(taken[way]) for d in delays(entries[2 * run + i], arrivals)]
        figures[way] = {
            "ttfb_p50_ms": pct(ttfb, 0.5) * 1e3,
            "ttfb_p99_ms": pct(ttfb, 0.99) * 1e3,
            "chunk_p50_ms": pct(per_chunk, 0.5) * 1e3,
            "chunk_p99_ms": pct(per_chunk, 0.99) * 1e3,
            "chunks_measured": len(per_chunk),
        }
    direct, proxied = figures["direct"], figures["proxied"]
    figures["added"] = {key: proxied[key] - direct[key] for key in direct if key.endswith("_ms")}
    figures["setup"] = {"runs": runs, "chunks": chunks, "gap_s": gap, "cpus": os.cpu_count()}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="streams each way (default: %(default)s)")
    parser.add_argument("--chunks", type=int, default=500, help="chunks per stream (default: %(default)s)")
    parser.add_argument("--gap", type=float, default=0.002, help="seconds between chunks (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serve(SRC, []) as (upstream, _):
        out = str(Path(tmp) / "recorded.yaml")
        with serve(SRC, ["--upstream", upstream, "--out", out], command="record") as (proxy, _):
            figures = asyncio.run(measure(upstream, proxy, args.runs, args.chunks, args.gap))
    print(f"{args.runs} streams each way, {args.chunks} chunks {args.gap * 1e3:g} ms apart")
    print(f"{'':22}{'p50 ms':>10}{'p99 ms':>10}")
    for way in ("direct", "proxied"):
        f = figures[way]
        print(f"TTFB, {way:<16}{f['ttfb_p50_ms']:10.2f}{f['ttfb_p99_ms']:10.2f}")
    for way in ("direct", "proxied"):
        f = figures[way]
        print(f"per chunk, {way:<11}{f['chunk_p50_ms']:10.2f}{f['chunk_p99_ms']:10.2f}")
    added = figures["added"]
    print(f"{'added TTFB':22}{added['ttfb_p50_ms']:10.2f}{added['ttfb_p99_ms']:10.2f}")
    print(f"{'added per chunk':22}{added['chunk_p50_ms']:10.2f}{added['chunk_p99_ms']:10.2f}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
