"""Where `sparring serve`'s CPU goes, per request of the peers benchmark's row A (sequential
20-chunk streams) and per chunk of its row B (one 20,000-chunk stream), both read by a raw
aiohttp client. Prints tables; asserts nothing.

    .venv/bin/python bench/where_time.py [--src DIR] [--requests 500] [--prof-dir DIR]

The server runs in a process of its own. Its CPU per request (or chunk) is read from
/proc/PID/stat around the workload with no profiler attached; a second run of the same
workload under cProfile (switched on and off by signals, so start-up is not in it) splits that
CPU by where each function lives (own time, `tottime`), and counts the writes to the socket.
cProfile's overhead falls hardest on small, frequent calls: the split is proportions, scaled
to the unprofiled CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

import aiohttp

SRC = Path(__file__).resolve().parents[1] / "src"
BASE_URL = re.compile(r"base URL: (http://127\.0\.0\.1:\d+)/v1")
TICK = os.sysconf("SC_CLK_TCK")
SCENARIO = """name: where-time
rules:
- name: A
  match: {model: a}
  replies: [{text: "%s", split: word, repeat: true}]
- name: B
  match: {model: b}
  replies: [{text: "%s", split: word, repeat: true}]
"""
# Started under the profiler, idle until SIGUSR1; SIGUSR2 stops it and writes the stats.
LAUNCH = """
import cProfile, signal, sys
out = sys.argv.pop(1)
profiler = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
def dump(*_):
    profiler.disable()
    profiler.dump_stats(out)
    print("profile written", flush=True)
signal.signal(signal.SIGUSR2, dump)
from sparring.cli import main
raise SystemExit(main(sys.argv[1:]))
"""

# (bucket, test on "file:function") in order; the first that holds wins.
BUCKETS: list[tuple[str, re.Pattern[str]]] = [
    ("idle (left out)", re.compile(r":<method 'poll' of")),
    ("request log (serve's stdout)", re.compile(r"sparring/cli\.py|:<built-in method builtins\.print>")),
    ("socket send (kernel)", re.compile(r":<method 'send' of '_socket")),
    ("waiting on the worker thread (a big reply resolved off the loop)", re.compile(r":<method 'acquire' of '_thread")),
    ("journal", re.compile(r"fake_server/(journal|writes|packed|exchange)\.py")),
    (
        "parse",
        re.compile(r"fake_server/bodies\.py|dialects/.*:(parse|_parse|_messages|_n|_options)|json/decoder|:loads"),
    ),
    ("match", re.compile(r"fake_server/(callbacks|store|miss)\.py|scenario/(request|match|rules?)\.py")),
    ("resolve", re.compile(r"fake_server/resolve\.py|scenario/(text|split|model|content)\.py|_cost\.py")),
    (
        "render",
        re.compile(r"fake_server/dialects/|json/encoder|:dumps|random\.py|:<method '(choices|getrandbits|random)'"),
    ),
    ("playback", re.compile(r"fake_server/(playback|faults|offload)\.py|scenario/delivery\.py")),
    ("middleware", re.compile(r"fake_server/(app|context|security)\.py")),
    ("aiohttp + asyncio", re.compile(r"aiohttp/|asyncio/|selectors|socket|multidict|yarl|:<method '(send|recv)")),
]


def bucket_of(where: str) -> str:
    return next((name for name, test in BUCKETS if test.search(where)), "other")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Server:
    def __init__(self, src: Path, scenario: Path, profile: Path | None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", PYTHONPATH=str(src))
        start = ["-c", LAUNCH, str(profile)] if profile else ["-m", "sparring"]
        self.proc = subprocess.Popen(
            [sys.executable, *start, "serve", "--port", "0", str(scenario)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.url: list[str] = []
        self.ready, self.dumped = threading.Event(), threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(30) or not self.url:
            raise SystemExit("sparring serve did not start")

    def _drain(self) -> None:  # the request log must be read, or a busy server blocks on the pipe
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            found = BASE_URL.search(line)
            if found and not self.url:
                self.url.append(found.group(1))
                self.ready.set()
            if "profile written" in line:
                self.dumped.set()
        self.ready.set()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def one(session: aiohttp.ClientSession, url: str, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": model}], "stream": True}
    events = 0
    async with session.post(url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer x"}) as resp:
        assert resp.status == 200, resp.status
        async for line in resp.content:
            events += line.startswith(b"data:")
    return events


async def workload(url: str, model: str, requests: int, before: object, after: object) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for _ in range(10):
            await one(session, url, model)
        before()  # type: ignore[operator]
        for _ in range(requests):
            await one(session, url, model)
        after()  # type: ignore[operator]


def measure(src: Path, scenario: Path, model: str, requests: int, profile: Path | None) -> float:
    """Server CPU seconds over the workload (profiled if `profile`)."""
    server = Server(src, scenario, profile)
    pid, marks = server.proc.pid, []
    try:

        def before() -> None:
            if profile:
                os.kill(pid, signal.SIGUSR1)
            marks.append(cpu_seconds(pid))

        def after() -> None:
            marks.append(cpu_seconds(pid))
            if profile:
                os.kill(pid, signal.SIGUSR2)
                server.dumped.wait(30)

        asyncio.run(workload(server.url[0], model, requests, before, after))
    finally:
        server.close()
    return marks[1] - marks[0]


def split(profile: Path) -> tuple[dict[str, float], dict[str, int]]:
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    own: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for (file, _line, func), (_cc, ncalls, tottime, _ct, callers) in stats.items():
        where = f"{file}:{func}"
        calls[where] = ncalls
        bucket = bucket_of(where)
        if bucket != "other" or not callers:
            own[bucket] += tottime
            continue
        # A builtin (len, list.append, a C method) or a generated function counts where it was
        # called from, up the callers until one falls in a bucket.
        for caller, (_, _, caller_tt, _) in callers.items():
            own[_bucket_up(stats, caller)] += caller_tt
    return own, calls


def _bucket_up(stats: dict, key: tuple[str, int, str], depth: int = 0) -> str:
    bucket = bucket_of(f"{key[0]}:{key[2]}")
    if bucket != "other" or depth == 3 or key not in stats:
        return bucket
    callers = stats[key][4]
    if not callers:
        return bucket
    return _bucket_up(stats, max(callers, key=lambda c: callers[c][2]), depth + 1)


def report(label: str, unit: str, per: int, cpu: float, own: dict[str, float], calls: dict[str, int]) -> None:
    own = {name: seconds for name, seconds in own.items() if not name.startswith("idle")}
    total = sum(own.values())
    print(f"\n{label}: server CPU {cpu / per * 1e6:.1f} µs per {unit} (unprofiled)")
    print(f"| part | share | µs per {unit} |\n|---|---|---|")
    for name, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {seconds / total:.0%} | {seconds / total * cpu / per * 1e6:.1f} |")
    sends = sum(n for where, n in calls.items() if "<method 'send' of '_socket" in where)
    print(f"socket sends: {sends / per:.3f} per {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=SRC)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5, help="unprofiled runs; the least CPU counts")
    parser.add_argument("--b-chunks", type=int, default=20_000)
    parser.add_argument("--prof-dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    words = lambda n: "".join(f"w{i}" if i == 0 else f" w{i}" for i in range(n))  # noqa: E731
    scenario = args.prof_dir / "where_time.yaml"
    scenario.write_text(SCENARIO % (words(20), words(args.b_chunks)))
    for label, model, per, unit, runs in (
        ("A (20-chunk streams)", "a", args.requests, "request", args.requests),
        ("B (long streams, 5 in turn)", "b", 5 * args.b_chunks, "chunk", 5),
    ):
        cpu = min(measure(args.src, scenario, model, runs, None) for _ in range(args.runs))
        prof = args.prof_dir / f"where_time_{model}.prof"
        measure(args.src, scenario, model, runs, prof)
        own, calls = split(prof)
        report(label, unit, per, cpu, own, calls)
        print(f"profile: {prof} (python -m pstats {prof})")


if __name__ == "__main__":
    main()
