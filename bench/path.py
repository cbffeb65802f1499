"""The request path's figures: time to headers and total time of one long stream, and how late
paced chunks arrive when many streams run at once. Prints figures; asserts nothing about speed.

    .venv/bin/python bench/path.py [--src DIR] [--runs 5] [--streams 100 500] [--uvloop] [--json]

The server is `sparring serve` in a process of its own, from `--src` (default: this checkout's
`src`), so the client does not share its GIL; the client is a raw aiohttp reader.

- **One long stream.** 20,000 chunks, no gaps: time from sending the request to the response
  headers, time to the last byte, and chunks per second (median of `--runs`).
- **The reader's ceiling.** The same stream's bytes, captured, then sent by a bare aiohttp
  server in one write: what the reader manages when the server costs nothing. On 2 cores the
  reader parses every line in Python, so a server's chunks per second cannot pass this.
- **C2 lateness.** N streams at once, each 30 chunks 10 ms apart. For each chunk after the first,
  lateness = (arrival - first chunk's arrival) - i x 10 ms, as in the peers benchmark; and for
  every chunk, against the schedule from the headers' arrival (negative values in the first
  measure are chunks catching up with a late first chunk). p50, p99 and max over every chunk
  of every stream. The client is one Python process too: at 500 streams its own lag counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

SRC = Path(__file__).resolve().parents[1] / "src"
BASE_URL = re.compile(r"base URL: (http://127\.0\.0\.1:\d+)/v1")
BIG_CHUNKS = 20_000
C2_CHUNKS, C2_GAP = 30, 0.010
_ON_UVLOOP = "import uvloop; uvloop.install(); from sparring.cli import main; raise SystemExit(main())"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "bench"}], "stream": True}


@contextmanager
def serve(src: Path, extra: list[str], uvloop: bool = False, command: str = "serve") -> Iterator[tuple[str, int]]:
    """`sparring serve --port 0` (or another `command` that serves, like `record`) from `src`,
    on uvloop's event loop with `uvloop`; yields its root URL and process id."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", PYTHONPATH=str(src))
    start = ["-c", _ON_UVLOOP] if uvloop else ["-m", "sparring"]
    proc = subprocess.Popen(
        [sys.executable, *start, command, "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    url: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # the request log must be read, or a busy server blocks on the pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            found = BASE_URL.search(line)
            if found and not url:
                url.append(found.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(30) or not url:
            raise SystemExit(f"sparring {command} did not start")
        yield url[0], proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


async def put_scenario(session: aiohttp.ClientSession, url: str, scenario: dict[str, Any]) -> None:
    async with session.put(f"{url}/_sparring/scenario", json=scenario) as response:
        if response.status != 200:
            raise SystemExit(f"scenario refused: {await response.text()}")


async def one_long_stream(session: aiohttp.ClientSession, url: str) -> tuple[float, float, int]:
    """Seconds to the headers, seconds to the last byte, content events seen."""
    started = time.perf_counter()
    async with session.post(f"{url}/v1/chat/completions", json=BODY) as response:
        headers_at = time.perf_counter() - started
        events = 0
        async for line in response.content:
            if line.startswith(b"data: {") and b'"content":"x"' in line:
                events += 1
    return headers_at, time.perf_counter() - started, events


async def captured_stream(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.post(f"{url}/v1/chat/completions", json=BODY) as response:
        return await response.read()


# A server that costs nothing: the captured body, in one write, to every request.
_BARE = """
import asyncio
import sys
from aiohttp import web
body = open(sys.argv[1], "rb").read()
async def answer(request):
    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(body)
    return response
app = web.Application()
app.router.add_post("/v1/chat/completions", answer)
async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"base URL: http://127.0.0.1:{runner.addresses[0][1]}/v1", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


@contextmanager
def bare_server(body: bytes) -> Iterator[str]:
    with tempfile.NamedTemporaryFile(suffix=".sse") as file:
        file.write(body)
        file.flush()
        proc = subprocess.Popen([sys.executable, "-c", _BARE, file.name], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        try:
            found = BASE_URL.search(proc.stdout.readline())
            if not found:
                raise SystemExit("the bare server did not start")
            yield found.group(1)
        finally:
            proc.terminate()
            proc.wait(30)


async def ceiling(body: bytes, runs: int) -> float:
    """Chunks per second the reader manages on `body` from a server that only writes it."""
    with bare_server(body) as url:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            await one_long_stream(session, url)  # warm-up
            totals = [(await one_long_stream(session, url))[1] for _ in range(runs)]
    return BIG_CHUNKS / statistics.median(totals)


async def paced_stream(session: aiohttp.ClientSession, url: str) -> tuple[list[float], list[float]]:
    """The lateness of each chunk in ms: after the first, against the first's arrival (the
    peers benchmark's measure); and every chunk, against the headers' arrival (the schedule)."""
    arrivals: list[float] = []
    async with session.post(f"{url}/v1/chat/completions", json=BODY) as response:
        headers_at = time.perf_counter()
        async for line in response.content:
            if line.startswith(b"data: {") and b'"content":"w"' in line:
                arrivals.append(time.perf_counter())
    if len(arrivals) != C2_CHUNKS:
        raise SystemExit(f"a paced stream gave {len(arrivals)} chunks, expected {C2_CHUNKS}")
    # The role chunk goes out at once, the first "w" one gap after it, each later one a gap on.
    relative = [((t - arrivals[0]) - i * C2_GAP) * 1000 for i, t in enumerate(arrivals) if i]
    scheduled = [((t - headers_at) - (i + 1) * C2_GAP) * 1000 for i, t in enumerate(arrivals)]
    return relative, scheduled


def cpu_ms(pid: int) -> float:
    """CPU time the process has used so far (user and system), in ms: a figure a busy machine
    changes far less than the wall-clock ones."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def measure(url: str, pid: int, runs: int, streams: list[int]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await put_scenario(session, url, {"replies": [{"chunks": ["x"] * BIG_CHUNKS, "repeat": True}]})
        await one_long_stream(session, url)  # warm-up
        heads, totals = [], []
        cpu = cpu_ms(pid)
        for _ in range(runs):
            head, total, events = await one_long_stream(session, url)
            if events != BIG_CHUNKS:
                raise SystemExit(f"the long stream gave {events} chunks, expected {BIG_CHUNKS}")
            heads.append(head * 1000)
            totals.append(total * 1000)
        total_ms = statistics.median(totals)
        figures["long"] = {
            "headers_ms": statistics.median(heads),
            "total_ms": total_ms,
            "chunks_per_s": BIG_CHUNKS / total_ms * 1000,
            "server_cpu_ms": (cpu_ms(pid) - cpu) / runs,
        }
        figures["body"] = await captured_stream(session, url)
        paced = {"chunks": ["w"] * C2_CHUNKS, "timing": {"gap": C2_GAP}, "repeat": True}
        await put_scenario(session, url, {"replies": [paced]})
        for n in streams:
            cpu = cpu_ms(pid)
            got = await asyncio.gather(*(paced_stream(session, url) for _ in range(n)))
            figures[f"cpu_{n}"] = cpu_ms(pid) - cpu
            for name, late in (("c2", [x for r, _ in got for x in r]), ("sched", [x for _, s in got for x in s])):
                figures[f"{name}_{n}"] = {"p50_ms": pct(late, 50), "p99_ms": pct(late, 99), "max_ms": max(late)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, default=SRC, help="the sparring sources to serve (default: this checkout)")
    parser.add_argument("--runs", type=int, default=5, help="long streams measured (median)")
    parser.add_argument("--streams", type=int, nargs="+", default=[100, 500], help="concurrent paced streams")
    parser.add_argument("--serve-arg", action="append", default=[], help="an extra `sparring serve` argument")
    parser.add_argument("--uvloop", action="store_true", help="serve on uvloop's event loop (pip install uvloop)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    with serve(args.src, args.serve_arg, args.uvloop) as (url, pid):
        figures = asyncio.run(measure(url, pid, args.runs, args.streams))
    figures["ceiling_chunks_per_s"] = asyncio.run(ceiling(figures.pop("body"), args.runs))
    long = figures["long"]
    loop = "uvloop" if args.uvloop else "asyncio"
    print(f"sparring serve from {args.src} on {loop} {' '.join(args.serve_arg)}".rstrip())
    print(
        f"one {BIG_CHUNKS:,}-chunk stream: headers after {long['headers_ms']:.1f} ms, "
        f"last byte after {long['total_ms']:.0f} ms, {long['chunks_per_s']:,.0f} chunks/s; "
        f"server CPU {long['server_cpu_ms']:.0f} ms"
    )
    print(
        f"the reader's ceiling: {figures['ceiling_chunks_per_s']:,.0f} chunks/s on the same bytes from a bare"
        f" aiohttp server (one write); sparring reaches {long['chunks_per_s'] / figures['ceiling_chunks_per_s']:.0%}"
    )
    for n in args.streams:
        print(f"{n} streams x {C2_CHUNKS} chunks: server CPU {figures[f'cpu_{n}']:.0f} ms")
        for name, against in (("c2", "the first chunk"), ("sched", "the headers")):
            late = figures[f"{name}_{n}"]
            print(
                f"{n} streams x {C2_CHUNKS} chunks @ {C2_GAP * 1000:.0f} ms, lateness against {against}: "
                f"p50 {late['p50_ms']:.1f} ms, p99 {late['p99_ms']:.1f} ms, max {late['max_ms']:.1f} ms"
            )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
