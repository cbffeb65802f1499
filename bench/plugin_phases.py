"""Where a `fake_llm` test's time goes, phase by phase, beside respx. Not part of the suite.

    PYTHONPATH=src .venv-openai2/bin/python bench/plugin_phases.py [--tests 200] [--rounds 3]

Generates test files shaped like the peer benchmark's row D (an `AsyncOpenAI` per test on one
shared TLS context, a streamed 20-chunk answer) and variants that stop earlier, then runs each
with pytest in a subprocess, the variants interleaved round by round. A small plugin records,
per test, each phase's wall time and the test thread's CPU time (`time.thread_time`), and the
server thread's CPU time over the run. Medians over the tests (the first five left out) and
then over the rounds. Nothing is asserted about speed; exit status 1 if a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAD = """\
import ssl

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from sparring import FakeServer, Scenario, reply

TEXT = " ".join(f"w{i}" for i in range(20))
_TLS = ssl.create_default_context()


async def one(base_url, api_key="x"):
    client = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                         http_client=openai.DefaultAsyncHttpxClient(verify=_TLS))
    try:
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        n = sum([1 async for c in stream if c.choices and c.choices[0].delta.content])
        assert n == 20, n
    finally:
        await client.close()
"""

# name -> (module-level code, test body); each runs `--tests` times.
VARIANTS: dict[str, tuple[str, str]] = {
    "empty": ("", "async def test_{i}():\n    pass\n"),
    "fixture + add": ("", "async def test_{i}(fake_llm):\n    fake_llm.add(reply(TEXT, optional=True))\n"),
    "+ client": (
        "",
        "async def test_{i}(fake_llm):\n    fake_llm.add(reply(TEXT, optional=True))\n"
        "    await AsyncOpenAI(base_url=fake_llm.base_url, api_key='x',\n"
        "        http_client=openai.DefaultAsyncHttpxClient(verify=_TLS)).close()\n",
    ),
    "fake_llm (row D)": (
        "",
        "async def test_{i}(fake_llm):\n    fake_llm.add(reply(TEXT))\n"
        "    await one(fake_llm.base_url, fake_llm.api_key)\n",
    ),
    "FakeServer, no fixture": (
        "SERVER = FakeServer().start()\n\n\n@pytest.fixture(autouse=True, scope='module')\n"
        "def _close():\n    yield\n    SERVER.close()\n",
        "async def test_{i}():\n    SERVER.store.extend(Scenario.of(reply(TEXT)))\n    await one(SERVER.base_url)\n",
    ),
    "respx (row D)": (
        "BODY = {body!r}\n",
        "async def test_{i}(respx_mock):\n"
        "    respx_mock.post('https://api.openai.com/v1/chat/completions').mock(return_value=httpx.Response(\n"
        "        200, content=BODY, headers={{'content-type': 'text/event-stream'}}))\n"
        "    await one('https://api.openai.com/v1')\n",
    ),
}

PLUGIN = """\
import json, os, time
import pytest

_PHASES = {"setup": [], "call": [], "teardown": []}
_CPU = {"setup": [], "call": [], "teardown": []}
_SERVER = []
try:
    from sparring.fake_server import runner
    _run = runner.FakeServer._run
    def _timed(self):
        start = time.thread_time()
        try:
            _run(self)
        finally:
            _SERVER.append(time.thread_time() - start)
    runner.FakeServer._run = _timed
except ImportError:
    pass


def _phase(name):
    @pytest.hookimpl(wrapper=True)
    def hook(item, *args):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return (yield)
        finally:
            _PHASES[name].append(time.perf_counter() - wall)
            _CPU[name].append(time.thread_time() - cpu)
    return hook


pytest_runtest_setup = _phase("setup")
pytest_runtest_call = _phase("call")
pytest_runtest_teardown = _phase("teardown")


def pytest_unconfigure(config):
    with open(os.environ["PHASES_OUT"], "w") as out:
        json.dump({"wall": _PHASES, "cpu": _CPU, "server_cpu": sum(_SERVER)}, out)
"""


def sse_body() -> bytes:
    """The body respx hands over: what the fake sends for the same reply, minus the padding."""
    chunk = '{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{}]}}'
    choice = '{{"index":0,"delta":{},"finish_reason":{}}}'
    events = [chunk.format(choice.format('{"role":"assistant","content":""}', "null"))]
    events += [chunk.format(choice.format(json.dumps({"content": f"w{i} "}), "null")) for i in range(20)]
    events.append(chunk.format(choice.format("{}", '"stop"')))
    return "".join(f"data: {e}\n\n" for e in [*events, "[DONE]"]).encode()


def write(d: Path, tests: int) -> None:
    (d / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    (d / "_phases.py").write_text(PLUGIN)
    for k, (module, body) in enumerate(VARIANTS.values()):
        src = HEAD + module.format(body=sse_body()) + "\n\n" + "\n\n".join(body.format(i=i) for i in range(tests))
        (d / f"test_v{k}.py").write_text(src)


def run(d: Path, k: int, name: str, python: str) -> dict[str, float]:
    out = d / f"v{k}.json"
    plugins = ["-p", "no:cacheprovider", "-p", "_phases"] + (["-p", "no:sparring"] if "respx" in name else [])
    env = {
        **os.environ,
        "PHASES_OUT": str(out),
        "PYTHONPATH": os.pathsep.join([str(d), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [python, "-m", "pytest", "-q", *plugins, f"test_v{k}.py"], cwd=d, env=env, capture_output=True
    )
    if done.returncode != 0:
        sys.exit(f"{name}: pytest failed\n{done.stdout.decode()[-2000:]}")
    data = json.loads(out.read_text())
    row = {f"{p} ms": statistics.median(v[5:]) * 1000 for p, v in data["wall"].items()}
    row["call cpu ms"] = statistics.median(data["cpu"]["call"][5:]) * 1000
    row["server cpu ms"] = data["server_cpu"] * 1000 / len(data["wall"]["call"])
    row["total ms"] = row["setup ms"] + row["call ms"] + row["teardown ms"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), args.tests)
        for _ in range(args.rounds):
            for k, name in enumerate(VARIANTS):
                rows[name].append(run(Path(tmp), k, name, args.python))
    cols = ["setup ms", "call ms", "teardown ms", "total ms", "call cpu ms", "server cpu ms"]
    print(f"{args.tests} tests per run, medians over tests, then over {args.rounds} interleaved rounds")
    print(f"| {'variant':<24} | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for name, runs in rows.items():
        cells = [f"{statistics.median(r[c] for r in runs):.2f}".rjust(len(c)) for c in cols]
        print(f"| {name:<24} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
