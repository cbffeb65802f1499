"""The wall time of a minute of scripted waits through the openai SDK under virtual time.

The scenario is docs/examples/slow-retries.yaml (as bench/speed.py): two 429s advising
`retry-after: 20`, a 10 s first token, 2 s gaps (seven of them: six words and the finish
chunk), 64 s in all. Each run serves it on a fresh
looptime loop (the fake server and an `AsyncOpenAI` client on the same loop, real sockets
on 127.0.0.1, as `@pytest.mark.sparring_virtual_time` does) and checks the virtual
schedule the journal recorded: the retries at least 20 s apart, the stream 24 s long.
Any run that breaks it (an event reordered by a clock jump) exits 1.

    PYTHONPATH=src .venv/bin/python bench/virtual_time.py [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import looptime
from openai import AsyncOpenAI

from sparring import load_scenario
from sparring.checks.retries import check_retries
from sparring.plugin.virtual import LoopServer

SCENARIO = Path(__file__).resolve().parents[1] / "docs" / "examples" / "slow-retries.yaml"
TEXT = "Paris is the capital of France"
STREAM = 10 + 7 * 2  # the first chunk, then a gap before each word and before the finish chunk


async def once() -> tuple[float, float]:
    server = LoopServer()
    server.store.set_scenario(load_scenario(SCENARIO))
    loop = asyncio.get_running_loop()
    try:
        async with server.serving():
            started, virtual_start = time.perf_counter(), loop.time()
            async with AsyncOpenAI(base_url=f"{server.url}/v1", api_key="sk-test", max_retries=2) as client:
                stream = await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "capital?"}], stream=True
                )
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            wall, virtual = time.perf_counter() - started, loop.time() - virtual_start
    finally:
        server.close()
    journal = server.store.space().journal.entries()
    first, second, answer = journal
    problems = [
        f"text {text!r}" if text != TEXT else "",
        f"retry 1 after {second.arrived - first.arrived:.3f}s" if second.arrived - first.arrived < 20 else "",
        f"retry 2 after {answer.arrived - second.arrived:.3f}s" if answer.arrived - second.arrived < 20 else "",
        f"stream took {answer.ended:.3f}s" if abs((answer.ended or 0) - STREAM) > 0.05 else "",
        "" if check_retries(journal, attempts=3, raise_on_violation=False).ok else "check_retries failed",
    ]
    if any(problems):
        raise SystemExit("a virtual run broke the schedule: " + "; ".join(p for p in problems if p))
    return wall, virtual


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    walls, virtuals = [], []
    for _ in range(args.runs):
        loop = looptime.new_event_loop(start=0)
        try:
            wall, virtual = loop.run_until_complete(once())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        walls.append(wall)
        virtuals.append(virtual)
    print(f"{args.runs} runs of 64 s of scripted waits under virtual time, every schedule as scripted")
    print(f"  wall:    median {statistics.median(walls) * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms")
    later = max(walls[1:], default=0.0)
    print(f"  first run {walls[0] * 1000:.0f} ms (the SDK's first-use costs), the others at most {later * 1000:.0f} ms")
    print(f"  virtual: median {statistics.median(virtuals):.3f} s, max {max(virtuals):.3f} s")


if __name__ == "__main__":
    main()
