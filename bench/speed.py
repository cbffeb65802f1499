"""The wall time of a minute of scripted waits through the openai SDK, at several speeds.

The scenario is docs/examples/slow-retries.yaml: two 429s advising `retry-after: 20`, a 10 s
first token, 10 s of gaps. Each run makes a fresh client (the SDK retries twice, then
streams) against a FakeServer at `--speed`, and the median and worst wall times are printed
beside the scripted minute divided by the speed (the floor no run can beat).

    PYTHONPATH=src .venv/bin/python bench/speed.py [--runs 10] [--speeds 100 1000 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from openai import OpenAI

from sparring import FakeServer, load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "docs" / "examples" / "slow-retries.yaml"
SCRIPTED = 60.0  # seconds of waits the scenario scripts
TEXT = "Paris is the capital of France"


def once(speed: float) -> float:
    with FakeServer(load_scenario(SCENARIO), speed=speed) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2)
        started = time.monotonic()
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "capital?"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        wall = time.monotonic() - started
        client.close()
        if text != TEXT or len(server.journal()) != 3:
            raise SystemExit(f"wrong run at speed {speed:g}: {text!r}, {len(server.journal())} requests")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--speeds", type=float, nargs="+", default=[100.0, 1000.0, 10000.0])
    args = parser.parse_args()
    print(f"{SCRIPTED:g} s of scripted waits through the openai SDK (3 requests), {args.runs} runs each")
    print(f"{'speed':>8} {'floor':>9} {'median':>9} {'max':>9}")
    for speed in args.speeds:
        walls = [once(speed) for _ in range(args.runs)]
        floor, median, worst = SCRIPTED / speed * 1000, statistics.median(walls) * 1000, max(walls) * 1000
        print(f"{speed:>8g} {floor:>7.1f}ms {median:>7.1f}ms {worst:>7.1f}ms")


if __name__ == "__main__":
    main()
