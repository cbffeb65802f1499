"""What `sparring serve` would pay in CPU under another allocator: pymalloc (Python's default,
what `serve` runs under) against the C library's malloc (`PYTHONMALLOC=malloc`), plain and with
a larger glibc thread cache. Prints figures; asserts nothing.

    .venv/bin/python bench/allocator_cost.py [--src DIR] [--rounds 5] [--requests 1000]

The workloads are `where_time.py`'s: the peers benchmark's row A (sequential 20-chunk
streams) and row B (20,000-chunk streams), read by a raw aiohttp client from a `sparring
serve` process of their own. The server's CPU over each workload is read from /proc/PID/stat;
the two allocators run in turn, round after round, so load that drifts falls on both. The
table gives the least and the median over the rounds (a shared machine only adds time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from where_time import SCENARIO, SRC, measure

# The environment of each variant's `serve` process.
ALLOCATORS = {
    "pymalloc": {"PYTHONMALLOC": "pymalloc"},
    "malloc": {"PYTHONMALLOC": "malloc"},
    "malloc, tcache 64": {"PYTHONMALLOC": "malloc", "GLIBC_TUNABLES": "glibc.malloc.tcache_count=64"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=SRC)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000, help="row A requests per round")
    parser.add_argument("--b-chunks", type=int, default=20_000)
    args = parser.parse_args()
    words = lambda n: " ".join(f"w{i}" for i in range(n))  # noqa: E731
    scenario = Path(tempfile.mkdtemp()) / "allocator_cost.yaml"
    scenario.write_text(SCENARIO % (words(20), words(args.b_chunks)))
    rows = (("A, µs per request", "a", args.requests, args.requests), ("B, µs per chunk", "b", 5, 5 * args.b_chunks))
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, env in ALLOCATORS.items():
            for key in ("PYTHONMALLOC", "GLIBC_TUNABLES"):
                os.environ.pop(key, None)
            os.environ.update(env)
            for label, model, runs, per in rows:
                cpu.setdefault((label, name), []).append(measure(args.src, scenario, model, runs, None) / per * 1e6)
    for key in ("PYTHONMALLOC", "GLIBC_TUNABLES"):
        os.environ.pop(key, None)
    print("| workload | allocator | least | median | median vs pymalloc |\n|---|---|---|---|---|")
    for label, *_ in rows:
        base = statistics.median(cpu[(label, "pymalloc")])
        for name in ALLOCATORS:
            got = cpu[(label, name)]
            change = statistics.median(got) / base - 1
            print(f"| {label} | {name} | {min(got):.1f} | {statistics.median(got):.1f} | {change:+.1%} |")


if __name__ == "__main__":
    main()
