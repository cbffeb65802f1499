"""The wall time of a minute of scripted waits under virtual time, through each client.

The schedule is the issue's 60 s (as tests/test_virtual_time_sdks.py scripts it): two 429s
advising `retry-after: 20`, a 10 s first event, then 10 s of gaps spread over the stream's
later writes. Each run serves it on a fresh looptime loop, the fake server and the client on
the same loop, real sockets on 127.0.0.1, as `@pytest.mark.sparring_virtual_time` runs them,
through one of:

- `openai`: `AsyncOpenAI` (the installed major: run it in each venv for 3.x and 2.x);
- `anthropic`: `AsyncAnthropic`;
- `reference`: sparring's `LLMClient`, its own retry loop.

Each run checks the virtual schedule the journal recorded: the retries at least 20 s apart,
the stream 20 s long, `check_retries` passing. A run that breaks it exits 1. The first run of
each client pays the SDK's imports and first-use costs; it is reported apart.

    PYTHONPATH=src .venv/bin/python bench/virtual_time.py [--runs 20] [--client openai ...]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import looptime

from sparring import Scenario, Timing, error, reply
from sparring.checks.retries import check_retries
from sparring.plugin.virtual import LoopServer

TEXT = "Paris is the capital of France"
QUESTION = [{"role": "user", "content": "capital?"}]
# The writes after the first, each after a gap: openai's six words and finish chunk; the
# anthropic stream's six (seven writes, as the dialect groups its events).
GAPS = {"openai": 7, "anthropic": 6, "reference": 7}
CLIENTS = tuple(GAPS)


async def via_openai(url: str) -> str:
    from openai import AsyncOpenAI

    async with AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=2) as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True)  # type: ignore[arg-type]
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def via_anthropic(url: str) -> str:
    from anthropic import AsyncAnthropic

    async with (
        AsyncAnthropic(base_url=url, api_key="sk-ant-test", max_retries=2) as client,
        client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=QUESTION) as stream,  # type: ignore[arg-type]
    ):
        return "".join([text async for text in stream.text_stream])


async def via_reference(url: str) -> str:
    from sparring.client import LLMClient

    async with LLMClient(base_url=f"{url}/v1", api_key="sk-test") as client:
        events = [event async for event in client.chat_completion(QUESTION)]
    return events[-1].text or ""


VIA: dict[str, Callable[[str], Awaitable[str]]] = {
    "openai": via_openai,
    "anthropic": via_anthropic,
    "reference": via_reference,
}


async def once(client: str) -> tuple[float, float]:
    server = LoopServer()
    timing = Timing(first_chunk=10, gap=10 / GAPS[client])
    server.store.set_scenario(Scenario.of(error("rate_limit", retry_after=20, times=2), reply(TEXT, timing=timing)))
    loop = asyncio.get_running_loop()
    try:
        async with server.serving():
            started, virtual_start = time.perf_counter(), loop.time()
            text = await VIA[client](server.url)
            wall, virtual = time.perf_counter() - started, loop.time() - virtual_start
    finally:
        server.close()
    journal = server.store.space().journal.entries()
    first, second, answer = journal
    problems = [
        f"text {text!r}" if text != TEXT else "",
        f"retry 1 after {second.arrived - first.arrived:.3f}s" if second.arrived - first.arrived < 20 else "",
        f"retry 2 after {answer.arrived - second.arrived:.3f}s" if answer.arrived - second.arrived < 20 else "",
        f"stream took {answer.ended:.3f}s" if abs((answer.ended or 0) - 20) > 0.05 else "",
        "" if check_retries(journal, attempts=3, raise_on_violation=False).ok else "check_retries failed",
    ]
    if any(problems):
        raise SystemExit(f"{client}: a virtual run broke the schedule: " + "; ".join(p for p in problems if p))
    return wall, virtual


def bench(client: str, runs: int) -> None:
    walls, virtuals = [], []
    for _ in range(runs + 1):  # the first run pays the imports: reported apart
        loop = looptime.new_event_loop(start=0)
        try:
            wall, virtual = loop.run_until_complete(once(client))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        walls.append(wall)
        virtuals.append(virtual)
    first, rest = walls[0], walls[1:]
    version = _version(client)
    print(
        f"{client:<9} {version:<8} median {statistics.median(rest) * 1000:5.0f} ms, max {max(rest) * 1000:5.0f} ms, "
        f"first run {first * 1000:5.0f} ms; virtual {statistics.median(virtuals):.3f} s"
    )


def _version(client: str) -> str:
    from importlib.metadata import version

    return version("anthropic" if client == "anthropic" else "openai")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--client", action="append", choices=CLIENTS, help="repeat for several (default: all)")
    args = parser.parse_args()
    print(f"{args.runs} runs each (after a first one) of 60 s of scripted waits under virtual time, schedules checked")
    for client in args.client or CLIENTS:
        bench(client, args.runs)


if __name__ == "__main__":
    main()
