"""Property-based chaos, examples per second: with and without virtual time.

One property (docs/how-to/property-based-chaos.md): an `AsyncOpenAI` client streams the
answer of each `misbehaving_streams` scenario, checked by `check_cleanup_ran` and
`check_stream_invariants`. Three runs, each a pytest session of its own (the plugin, the
marker and hypothesis as a user has them):

- `virtual, waits in seconds`: `@pytest.mark.sparring_virtual_time`, `max_wait=30` (retry-after,
  header and first-token delays, gaps, stalls of up to 30 s): hours of scripted waits;
- `virtual, small waits`: the same with `max_wait=0.02`, the strategies' default;
- `real time, small waits`: no marker (the server on its thread, the waits slept).

Real time with waits in seconds is not run: it would take hours. Each test records when each
example started and ended, on the wall and on the loop's clock; the figures are the wall time
from the first example's start to the last one's end, the examples per second, and the
scripted time the examples went through (on the loop's clock). Exits 1 if a property fails.

    PYTHONPATH=src .venv/bin/python bench/chaos.py [--examples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TEST = """
import asyncio, json, os, time

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings

from sparring import strategies

TEXT = "Paris is the capital of France."


@pytest_asyncio.fixture
async def client(fake_llm):
    async with fake_llm.async_openai(max_retries=2) as sdk:
        yield sdk


async def chat_text(sdk):
    received = ""
    try:
        stream = await sdk.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "capital?"}], stream=True
        )
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received += chunk.choices[0].delta.content
    except Exception as exc:
        return received, exc
    return received, None


@pytest.mark.asyncio
MARKER
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=strategies.misbehaving_streams(text=TEXT, max_wait=WAIT))
async def test_property(fake_llm, client, script):
    loop = asyncio.get_running_loop()
    wall, virtual = time.perf_counter(), loop.time()
    async with fake_llm.example(script):
        received, error = await chat_text(client)
        await strategies.check_cleanup_ran(fake_llm)
    strategies.check_stream_invariants(fake_llm, TEXT, received, error)
    with open(os.environ["CHAOS_BENCH_OUT"], "a") as out:
        out.write(json.dumps([wall, time.perf_counter(), loop.time() - virtual]) + "\\n")
"""

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

RUNS = (
    ("virtual, waits in seconds", True, 30.0),
    ("virtual, small waits", True, 0.02),
    ("real time, small waits", False, 0.02),
)


def run(examples: int, virtual: bool, wait: float, folder: Path) -> tuple[int, float, float]:
    """Examples run, their wall time (first start to last end) and scripted (loop) time."""
    body = TEST.replace("EXAMPLES", str(examples)).replace("WAIT", repr(wait))
    body = body.replace("MARKER", "@pytest.mark.sparring_virtual_time" if virtual else "")
    (folder / "test_chaos_bench.py").write_text(body)
    (folder / "pytest.ini").write_text(INI)
    out = folder / "examples.jsonl"
    out.unlink(missing_ok=True)
    env = {**os.environ, "CHAOS_BENCH_OUT": str(out)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "test_chaos_bench.py",
    ]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the property failed:\n{result.stdout[-4000:]}{result.stderr[-2000:]}")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    wall = max(end for _, end, _ in rows) - min(start for start, _, _ in rows)
    return len(rows), wall, sum(virtual for _, _, virtual in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    print(f"{args.examples} examples of misbehaving_streams through AsyncOpenAI, invariants and cleanup checked")
    with tempfile.TemporaryDirectory() as folder:
        for name, virtual, wait in RUNS:
            count, wall, scripted = run(args.examples, virtual, wait, Path(folder))
            print(
                f"  {name:26} max_wait={wait:<5g} {count} examples in {wall:6.2f} s wall: "
                f"{count / wall:6.1f} examples/s; {scripted:8.1f} s on the loop's clock"
            )


if __name__ == "__main__":
    main()
