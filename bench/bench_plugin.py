"""Per-test cost of the `fake_llm` fixture, beside respx mocking the same test. Not part of the suite.

    .venv/bin/python bench/bench_plugin.py [--tests 200] [--chunks 20] [--runs 3] [--python .venv-openai2/bin/python]

Writes three test files to a temporary directory and runs pytest on each in a subprocess:

- fake_llm: N async tests, each scripting `reply(chunks=[...])` and streaming it through
  `AsyncOpenAI` over a real socket to the plugin's session server;
- respx: the same N tests, with respx's `respx_mock` answering `POST /v1/chat/completions`
  with the same chunks as one realistic SSE body (respx only intercepts httpx, so the runs use
  an interpreter with `openai` 2.x; `openai` 3.x sends through `httpx2`);
- baseline: N empty async tests in a module importing the same libraries;
- fake_llm_external: the fake_llm tests again, with `--sparring-url` pointing at a
  `sparring serve` subprocess started for the bench: each test's namespace is made, scripted,
  read and dropped over the control API instead of in process.

Every run gets the same ini, plugins and imports, so what differs is the per-test work. Each
variant runs `--runs` times, interleaved; the tables print medians. Nothing is asserted about
speed: the script fails (exit status 1) only when a run does not pass every test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PYTHON = ROOT / ".venv-openai2" / "bin" / "python"
VARIANTS = ("baseline", "respx", "respx_tls", "fake_llm", "fake_llm_external")

INI = """\
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

# Records every test phase's duration unrounded (what `--durations` prints, rounded to 10 ms).
CONFTEST = """\
import json
import os

_DURATIONS = {}


def pytest_runtest_logreport(report):
    _DURATIONS.setdefault(report.nodeid, {})[report.when] = report.duration


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_DURATIONS"], "w") as out:
        json.dump(_DURATIONS, out)
"""

# Every variant imports the same things, so module import is the same fixed cost in each.
COMMON = """\
import httpx
import openai
import pytest
import respx
from openai import AsyncOpenAI
from sparring import reply

# One-off imports, paid here in every variant alike rather than by the first test of one: the
# SDK's resources and types (imported on first use) and the plugin's server (imported by the
# fixture when a test first asks for it).
import openai.resources.chat.completions
import openai.types.chat
import sparring.plugin.fake_llm

CHUNKS = {chunks!r}
MESSAGES = [{{"role": "user", "content": "bench"}}]
N = {tests}


async def read(client):
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    return [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
"""

BASELINE = """
@pytest.mark.asyncio
@pytest.mark.parametrize("n", range(N))
async def test_stream(n):
    pass
"""

FAKE_LLM = """
@pytest.mark.asyncio
@pytest.mark.parametrize("n", range(N))
async def test_stream(n, fake_llm):
    fake_llm.add(reply(chunks=CHUNKS))
    async with fake_llm.async_openai(max_retries=0) as client:
        assert await read(client) == CHUNKS
"""

RESPX = """
BODY = {body!r}
HEADERS = {headers!r}


@pytest.mark.asyncio
@pytest.mark.parametrize("n", range(N))
async def test_stream(n, respx_mock):
    route = respx_mock.post("https://api.openai.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, headers=HEADERS, content=BODY)
    )
    async with AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0) as client:
        assert await read(client) == CHUNKS
    assert route.call_count == 1
"""


# respx with the client built as fake_llm.async_openai() builds it (one shared TLS context):
# what is left is the cost of real sockets and a real server against an in-memory mock.
RESPX_TLS = RESPX.replace(
    'AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0)',
    'AsyncOpenAI(api_key="sk-test", base_url="https://api.openai.com/v1", max_retries=0, '
    "http_client=openai.DefaultAsyncHttpxClient(verify=TLS))",
).replace("BODY = {body!r}", "import ssl\nTLS = ssl.create_default_context()\nBODY = {body!r}")


def sse_body(chunks: list[str]) -> bytes:
    """A Chat Completions stream as the real API sends it: a role delta, one event per chunk,
    a `finish_reason` delta, `[DONE]`; every event a whole `chat.completion.chunk`."""
    base = {
        "id": "chatcmpl-BenchBenchBenchBenchBenchBench",
        "object": "chat.completion.chunk",
        "created": 1_795_526_654,
        "model": "gpt-4o",
        "service_tier": "default",
        "system_fingerprint": "fp_49465f4131",
    }

    def event(delta: dict[str, object], finish_reason: str | None, obfuscation: str) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        payload = {**base, "choices": [choice], "obfuscation": obfuscation}
        return "data: " + json.dumps(payload, separators=(",", ":")) + "\n\n"

    events = [event({"role": "assistant", "content": "", "refusal": None}, None, "kvB9fj9V5fUm2Nx9")]
    events += [event({"content": chunk}, None, "U2N2Y"[: 1 + i % 5]) for i, chunk in enumerate(chunks)]
    events += [event({}, "stop", "WWqYb1nb"), "data: [DONE]\n\n"]
    return "".join(events).encode()


SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "x-request-id": "req_63fee404c10cfcffc060967e380b9471",
    "openai-processing-ms": "1",
    "openai-version": "2020-10-01",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
}


def write_project(folder: Path, tests: int, chunks: int) -> None:
    pieces = [f"tok{i:02d} " for i in range(chunks)]
    common = COMMON.format(chunks=pieces, tests=tests)
    (folder / "pytest.ini").write_text(INI)
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_baseline.py").write_text(common + BASELINE)
    (folder / "test_fake_llm.py").write_text(common + FAKE_LLM)
    (folder / "test_fake_llm_external.py").write_text(common + FAKE_LLM)
    (folder / "test_respx.py").write_text(common + RESPX.format(body=sse_body(pieces), headers=SSE_HEADERS))
    tls = RESPX_TLS.format(body=sse_body(pieces), headers=SSE_HEADERS)
    (folder / "test_respx_tls.py").write_text(common + tls)


def ensure_respx(python: Path) -> None:
    if subprocess.run([str(python), "-c", "import respx"], capture_output=True).returncode == 0:
        return
    print(f"respx is missing from {python}; installing it: {python} -m pip install respx", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "respx"], check=True)


def run_once(python: Path, folder: Path, variant: str, tests: int, url: str) -> dict[str, float]:
    durations_file = folder / f"durations-{variant}.json"
    command = [
        str(python),
        "-m",
        "pytest",
        f"test_{variant}.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",  # unrelated, and it imports hypothesis at the end of the run
        *(["--sparring-url", url] if variant == "fake_llm_external" else []),
    ]
    env = {**os.environ, "BENCH_DURATIONS": str(durations_file)}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or f"{tests} passed" not in summary:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        sys.exit(f"FAILED: the {variant} run did not pass all {tests} tests ({summary!r})")
    tests_seen = json.loads(durations_file.read_text()).values()
    phases = {phase: [t.get(phase, 0.0) for t in tests_seen] for phase in ("setup", "call", "teardown")}
    per_test = [sum(t.values()) for t in tests_seen]
    return {
        "wall": wall,
        **{phase: sum(values) for phase, values in phases.items()},
        "median_test": statistics.median(per_test),
        "max_test": max(per_test),
    }


def versions(python: Path) -> str:
    code = (
        "import importlib.metadata as m, platform, os;"
        "print(f'Python {platform.python_version()} | ' + ' | '.join(f'{p} {m.version(p)}' for p in "
        "('pytest', 'pytest-asyncio', 'openai', 'httpx', 'respx', 'sparring')))"
    )
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="tests per file (default 200)")
    parser.add_argument("--chunks", type=int, default=20, help="chunks per streamed answer (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant; medians are printed (default 3)")
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="interpreter with openai 2.x and pytest")
    args = parser.parse_args()
    if not args.python.exists():
        sys.exit(f"no interpreter at {args.python}; make one with `make .venv-openai2/.installed` or pass --python")

    ensure_respx(args.python)
    sys.path.insert(0, str(ROOT))
    from tests.serve_process import sparring_serve

    with tempfile.TemporaryDirectory(prefix="sparring-bench-") as tmp, sparring_serve() as url:
        folder = Path(tmp)
        write_project(folder, args.tests, args.chunks)
        results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        for _ in range(args.runs):
            for variant in VARIANTS:  # interleaved, so drifting load falls on every variant alike
                results[variant].append(run_once(args.python, folder, variant, args.tests, url))

    med = {v: {k: statistics.median(r[k] for r in results[v]) for k in results[v][0]} for v in VARIANTS}
    n = args.tests
    base = med["baseline"]

    print(f"\n{n} async tests per run, {args.chunks} chunks per stream, median of {args.runs} runs per variant\n")
    header = f"{'variant':<17} | {'wall s':>7} | {'ms/test':>7} | {'overhead ms/test':>16} | runs (wall s)"
    print(header)
    print("-" * len(header))
    for v in VARIANTS:
        runs = ", ".join(f"{r['wall']:.2f}" for r in results[v])
        overhead = "-" if v == "baseline" else f"{(med[v]['wall'] - base['wall']) / n * 1e3:.2f}"
        print(f"{v:<17} | {med[v]['wall']:>7.2f} | {med[v]['wall'] / n * 1e3:>7.2f} | {overhead:>16} | {runs}")

    print("\nper test from pytest's own reports (setup + call + teardown, what --durations adds up), ms\n")
    header = (
        f"{'variant':<17} | {'setup':>6} | {'call':>6} | {'teardown':>8} | {'mean':>6} | {'over base':>9} "
        f"| {'median':>6} | {'over base':>9} | {'slowest':>7}"
    )
    print(header)
    print("-" * len(header))
    mean = {v: (med[v]["setup"] + med[v]["call"] + med[v]["teardown"]) / n * 1e3 for v in VARIANTS}
    median = {v: med[v]["median_test"] * 1e3 for v in VARIANTS}
    for v in VARIANTS:
        s, c, t = (med[v][phase] / n * 1e3 for phase in ("setup", "call", "teardown"))
        over_mean = "-" if v == "baseline" else f"{mean[v] - mean['baseline']:.2f}"
        over_median = "-" if v == "baseline" else f"{median[v] - median['baseline']:.2f}"
        print(
            f"{v:<17} | {s:>6.2f} | {c:>6.2f} | {t:>8.2f} | {mean[v]:>6.2f} | {over_mean:>9} "
            f"| {median[v]:>6.2f} | {over_median:>9} | {med[v]['max_test'] * 1e3:>7.1f}"
        )

    fake = (med["fake_llm"]["wall"] - base["wall"]) / n * 1e3
    respx = (med["respx"]["wall"] - base["wall"]) / n * 1e3
    verdict = "within" if fake <= respx else "over"
    print(
        f"\nfake_llm overhead {fake:.2f} ms/test vs respx {respx:.2f} ms/test (wall, over baseline): "
        f"{verdict} the target (no worse than respx), ratio {fake / respx:.2f}"
    )
    external = (med["fake_llm_external"]["wall"] - med["fake_llm"]["wall"]) / n * 1e3
    print(f"an external server (--sparring-url) costs {external:.2f} ms/test more than the plugin's own (wall)")
    print(f"env: {versions(args.python)} | {platform.platform()} | {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
