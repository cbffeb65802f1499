"""The `sparring` command, run as a real subprocess: `validate`, `--version`, help, `serve`
(over a real socket, with the openai SDK) and its signals, and `demo`."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import openai
import pytest
from openai import OpenAI

from sparring import Entry, FakeServer, Fault, Scenario, reply
from sparring.cli import request_line
from tests.serve_process import when_ready

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
NAMES = [
    "generated-answer",
    "plain-stream",
    "rate-limited-then-ok",
    "refusal",
    "slow-first-token",
    "tool-call",
    "two-choices",
]
PLAIN_TEXT = "The capital of France is Paris. It has been the capital since the 10th century."

# Bounds: a cold interpreter importing aiohttp, faker and yaml takes about a second; these
# leave a wide margin for a loaded CI machine.
START_TIMEOUT = 30.0
RUN_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0  # the brief's bound for Ctrl-C / SIGTERM
LINE_TIMEOUT = 15.0

BASE_URL = re.compile(r"base URL: (http://127\.0\.0\.1:(\d+)/v1)")
LOG_LINE = re.compile(
    r"^\d{2}:\d{2}:\d{2} (?P<method>[A-Z]+) (?P<path>/\S+) (?P<status>\d{3})"
    r" · (?P<answered>.+?) · (?P<outcome>[a-z_]+)(?: · .+?)? · (?P<seconds>\d+\.\d{3})s$"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_COLOR"] = "1"
    return env


def sparring(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `python -m sparring ARGS` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "sparring", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


# -- validate, version, help ------------------------------------------------------------------


def test_validate_all_fixtures_by_path() -> None:
    """Every library file validates: exit 0, one `ok:` line per file."""
    paths = [str(FIXTURES / f"{name}.yaml") for name in NAMES]
    result = sparring("validate", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(NAMES)
    for line, path in zip(lines, paths, strict=True):
        assert line.startswith(f"ok: {path} ("), line


def test_validate_by_builtin_name() -> None:
    """Built-in names validate too, with rule and reply counts."""
    result = sparring("validate", "plain-stream", "rate-limited-then-ok")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "ok: plain-stream (1 rule, 1 reply)",
        "ok: rate-limited-then-ok (1 rule, 2 replies)",
    ]


def test_validate_bad_file(tmp_path: Path) -> None:
    """A bad file: exit 1 and `file:line: path: message (did you mean ...)` for each mistake;
    the good file beside it is still reported ok."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("replies:\n  - text: hi\n    split: wrod\n  - txt: there\n", encoding="utf-8")
    good = FIXTURES / "refusal.yaml"
    result = sparring("validate", str(good), str(bad))
    assert result.returncode == 1
    out = result.stdout
    assert f"ok: {good} (" in out
    where = re.escape(str(bad))
    split_typo = rf"^error: {where}:3: replies\[0\]\.split: .*'wrod'.* \(did you mean 'word'\?\)$"
    key_typo = rf"^error: {where}:4: replies\[1\]\.txt: unknown key 'txt'.* \(did you mean 'text'\?\)$"
    assert re.search(split_typo, out, re.MULTILINE), out
    assert re.search(key_typo, out, re.MULTILINE), out


def test_validate_unknown_builtin_suggests() -> None:
    """An unknown name fails validation and suggests the close built-in name."""
    result = sparring("validate", "plain-stram")
    assert result.returncode == 1
    assert "plain-stram" in result.stdout
    assert "(did you mean 'plain-stream'?)" in result.stdout


def test_version() -> None:
    """`sparring --version` prints the installed version and exits 0."""
    result = sparring("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"sparring {importlib.metadata.version('sparring')}"


def test_no_command_prints_help_and_exits_2() -> None:
    """With no command: the usage and the commands, exit status 2."""
    result = sparring()
    assert result.returncode == 2
    assert result.stdout.startswith("usage: sparring")
    for command in ("serve", "validate", "demo"):
        assert command in result.stdout


def test_module_help() -> None:
    """`python -m sparring --help` works and lists the commands."""
    result = sparring("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sparring")
    for command in ("serve", "validate", "demo"):
        assert command in result.stdout


def test_serve_bad_scenario_name_exits_2() -> None:
    """`serve` with an unknown scenario exits 2 at once, saying what is wrong and suggesting a name."""
    result = sparring("serve", "--port", "0", "plain-stram", timeout=START_TIMEOUT)
    assert result.returncode == 2
    assert result.stderr.startswith("sparring: ")
    assert "(did you mean 'plain-stream'?)" in result.stderr
    assert "base URL" not in result.stdout


# -- serve ------------------------------------------------------------------------------------


class Served:
    """A `sparring serve` subprocess; its stdout lines arrive on a queue, read by a thread."""

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        self.stderr_file = stderr_path.open("w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sparring", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            text=True,
            env=_env(),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        ready = self.wait_for(lambda line: BASE_URL.search(line) is not None, START_TIMEOUT)
        found = BASE_URL.search(ready)
        assert found is not None
        self.base_url = found.group(1)
        self.port = int(found.group(2))

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def next_line(self, deadline: float) -> str | None:
        """The next stdout line, or None at end of output; fails at the deadline."""
        remaining = deadline - time.monotonic()
        try:
            line = self.lines.get(timeout=max(remaining, 0.0))
        except queue.Empty:
            pytest.fail(f"no output line before the deadline; so far: {self.seen}")
        if line is not None:
            self.seen.append(line)
        return line

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(deadline)
            if line is None:
                pytest.fail(f"output ended (exit {self.proc.poll()}) before the expected line; got: {self.seen}")
            if predicate(line):
                return line

    def log_line(self) -> re.Match[str]:
        """The next request log line."""
        line = self.wait_for(lambda text: LOG_LINE.match(text) is not None, LINE_TIMEOUT)
        found = LOG_LINE.match(line)
        assert found is not None
        return found

    def stop(self, sig: signal.Signals) -> list[str]:
        """Send a signal, wait (bounded) for exit, and return the rest of stdout."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=STOP_TIMEOUT)
        rest: list[str] = []
        deadline = time.monotonic() + LINE_TIMEOUT
        while (line := self.next_line(deadline)) is not None:
            rest.append(line)
        return rest

    def stderr(self) -> str:
        self.stderr_file.seek(0)
        return self.stderr_file.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr_file.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `sparring serve --port 0 ARGS...`; every process started is killed at teardown."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = Served(list(args), tmp_path / f"stderr-{len(started)}.txt")
        started.append(served)
        return served

    yield start
    for served in started:
        with contextlib.suppress(Exception):
            served.close()


def ask(base_url: str, prompt: str) -> tuple[str, int]:
    """One streamed chat request through the openai SDK: the text and the number of content chunks."""
    with OpenAI(base_url=base_url, api_key="sk-cli-test", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": prompt}], stream=True
        )
        with stream:
            pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    return "".join(pieces), len(pieces)


def test_serve_prints_base_url_with_real_port(serve: Callable[..., Served]) -> None:
    """`--port 0` binds a free port and prints the base URL with the real port."""
    served = serve()
    assert 0 < served.port < 65536
    assert served.base_url == f"http://127.0.0.1:{served.port}/v1"
    assert any("serving generated answers" in line for line in served.seen), served.seen
    # the port really is served
    response = httpx.get(f"{served.base_url}/models", timeout=10)
    assert response.status_code == 200


def test_serve_generates_deterministic_answers_and_logs(serve: Callable[..., Served]) -> None:
    """With no scenario every chat request gets a streamed generated answer, the same one for the
    same prompt; each request logs one line: method, path, status, who answered, outcome, duration."""
    served = serve()
    first, chunks = ask(served.base_url, "Tell me about Paris")
    assert len(first) > 40
    assert chunks > 5  # streamed, not one piece
    line = served.log_line()
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/chat/completions", "200")
    assert line["answered"] == "generated default answer"
    assert line["outcome"] == "completed"
    assert 0.0 < float(line["seconds"]) < 30.0

    second, _ = ask(served.base_url, "Tell me about Paris")
    assert second == first
    served.log_line()
    other, _ = ask(served.base_url, "Tell me about Rome")
    assert other != first
    served.log_line()

    rest = served.stop(signal.SIGINT)
    assert not [line for line in rest if LOG_LINE.match(line)], "one log line per request, no more"


def test_serve_scenario_then_miss(serve: Callable[..., Served]) -> None:
    """`serve plain-stream` plays the scenario once; the next request gets sparring's 404 miss."""
    served = serve("plain-stream")
    assert any("serving plain-stream" in line for line in served.seen), served.seen
    text, _ = ask(served.base_url, "What is the capital of France?")
    assert text == PLAIN_TEXT
    line = served.log_line()
    assert line["status"] == "200"
    assert line["answered"].startswith("rule 1, reply 1")
    assert line["outcome"] == "completed"

    with pytest.raises(openai.NotFoundError) as info:
        ask(served.base_url, "What is the capital of France?")
    assert "sparring" in str(info.value)
    assert info.value.response.headers["x-should-retry"] == "false"
    line = served.log_line()
    assert line["status"] == "404"
    assert line["outcome"] == "unmatched"


def test_serve_loop_answers_again(serve: Callable[..., Served]) -> None:
    """With `--loop`, a used-up scenario starts over: the second request is answered again."""
    served = serve("--loop", "plain-stream")
    assert ask(served.base_url, "first")[0] == PLAIN_TEXT
    assert ask(served.base_url, "second")[0] == PLAIN_TEXT
    statuses = [served.log_line()["status"], served.log_line()["status"]]
    assert statuses == ["200", "200"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly_on_signal(serve: Callable[..., Served], sig: signal.Signals) -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop the server promptly: exit 0, `sparring: stopped`, no traceback."""
    served = serve()
    started = time.monotonic()
    rest = served.stop(sig)  # waits at most STOP_TIMEOUT
    assert time.monotonic() - started < STOP_TIMEOUT
    assert served.proc.returncode == 0
    assert "sparring: stopped" in rest
    assert "Traceback" not in served.stderr()


def test_serve_stops_on_sigint_during_a_stream(serve: Callable[..., Served]) -> None:
    """Ctrl-C while a response is still streaming (slow first token) still exits 0 promptly."""
    served = serve("slow-first-token")
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"{served.base_url}/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            headers={"Authorization": "Bearer sk-cli-test"},
        ) as response,
    ):
        assert response.status_code == 200  # headers are out; the first chunk is 1.5 s away
        rest = served.stop(signal.SIGINT)
        with contextlib.suppress(httpx.HTTPError):
            response.read()
    assert served.proc.returncode == 0
    assert "sparring: stopped" in rest
    assert "Traceback" not in served.stderr()


def test_demo_runs() -> None:
    """`sparring demo` tells its story through the reference client and ends with `done`."""
    result = sparring("demo", timeout=120)  # about 4 s of scripted waits; generous for slow machines
    assert result.returncode == 0, result.stdout + result.stderr
    assert "done" in result.stdout
    for name in ("clean", "rate-limit", "cut", "early-exit"):
        assert f"── {name}:" in result.stdout
    assert "#1 -> 429" in result.stdout, "the rate limit was answered"
    assert "#2 -> 200" in result.stdout, "and retried"
    assert "ERROR connection failed" in result.stdout, "the cut stream ends in an ERROR event"
    assert "client_disconnected" in result.stdout, "the server saw the early exit"
    assert "\033[" not in result.stdout  # NO_COLOR and a pipe: plain text


def test_demo_runs_one_part_and_rejects_unknown_ones() -> None:
    result = sparring("demo", "cut", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "── cut:" in result.stdout
    assert "── clean:" not in result.stdout
    wrong = sparring("demo", "clen", timeout=60)
    assert wrong.returncode == 2
    assert "did you mean 'clean'?" in wrong.stderr


FIVE_APIS = ("Chat Completions", "Responses", "legacy Completions", "Embeddings", "Anthropic Messages")


def test_help_names_all_five_apis() -> None:
    """`sparring --help`, the docs overview and getting started name every API the server speaks."""
    result = sparring("--help")
    assert result.returncode == 0, result.stderr
    said = {
        "sparring --help": result.stdout,
        "docs/index.md": (ROOT / "docs" / "index.md").read_text(encoding="utf-8"),
        "docs/getting-started.md": (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8"),
    }
    for where, text in said.items():
        flat = " ".join(text.split())
        missing = [api for api in FIVE_APIS if api not in flat]
        assert not missing, f"{where} does not name {missing}"


def test_serve_reset_after_a_put_returns_to_generated_answers(serve: Callable[..., Served]) -> None:
    """A scenario put over the control API brings its own fallback (`miss`); a reset returns the
    namespace to how `serve` started it: generated answers for everything."""
    served = serve()
    root = served.base_url.removesuffix("/v1")
    with httpx.Client(base_url=root, timeout=10) as control:
        put = control.put("/_sparring/scenario", content='{"replies": [{"text": "scripted"}]}')
        assert put.status_code == 200, put.text
        assert ask(served.base_url, "hi")[0] == "scripted"
        with pytest.raises(openai.NotFoundError):  # the put scenario's fallback: sparring's 404
            ask(served.base_url, "hi")
        assert control.post("/_sparring/reset").status_code == 200
    text, chunks = ask(served.base_url, "Tell me about Paris")
    assert len(text) > 40
    assert chunks > 5


# -- the request log line, as `serve` prints it when a request ends -----------------------------


def _logged(scenario: Scenario, *, stream: bool = True) -> tuple[str, Entry]:
    """One request through the openai SDK; the log line made when its entry ended, and the entry."""
    lines: list[str] = []
    with FakeServer(scenario, on_request=lambda entry: lines.append(request_line(entry))) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-cli-test", max_retries=0)
        # openai 2.x lets a broken stream's httpx error through; 3.x wraps it in an APIError
        with client, contextlib.suppress(openai.APIError, httpx.HTTPError):
            chat = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=stream
            )
            if stream:
                with chat:
                    list(chat)  # type: ignore[call-overload]
        [entry] = server.wait_until(lambda j: len(j) == 1 and j[0].outcome is not None)
    assert len(lines) == 1
    return lines[0], entry


def test_log_line_counts_every_chunk_written() -> None:
    line, entry = _logged(Scenario.of(reply(chunks=["a", "b", "c"])))
    assert entry.outcome == "completed"
    assert f" · {len(entry.chunks)} chunks · " in line, line


def test_log_line_names_the_fault_and_where() -> None:
    line, entry = _logged(Scenario.of(reply(chunks=["a", "b", "c", "d"], fault=Fault("close", after_chunk=2))))
    assert entry.outcome == "fault"
    assert " · fault · " in line
    assert "close after chunk 2: cut after " in line, line


def test_log_line_names_a_fault_the_response_survived() -> None:
    line, _ = _logged(Scenario.of(reply(chunks=["a", "b"], fault=Fault("stall", after_chunk=1, duration=0.01))))
    assert " · completed · " in line
    assert "stall after chunk 1" in line, line


@pytest.mark.parametrize("argv", [["--version"], ["validate", "tool-call"], ["--help"], ["serve", "--help"]])
def test_commands_that_do_not_serve_do_not_load_the_server(argv: list[str]) -> None:
    """Start-up cost: `--version` and help never import aiohttp, the server (not even its
    journal) or faker; the commands that read scenarios load the YAML reader, and nothing more."""
    code = (
        "import sys, contextlib, io\n"
        "from sparring.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({argv!r})\n"
        "heavy = ('aiohttp', 'yaml', 'faker', 'sparring.fake_server.app', 'sparring.fake_server.runner',\n"
        "         'sparring.fake_server.journal')\n"
        "print(sorted(m for m in sys.modules if m in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    reads_scenarios = argv[0] == "validate" or argv == ["serve", "--help"]  # help lists the library's names
    expected = "['yaml']" if reads_scenarios else "[]"
    assert done.stdout.strip() == expected, done.stdout


@pytest.mark.parametrize(
    ("scenarios", "expected"),
    [([], []), (["tool-call"], ["sparring.scenario.loader", "yaml"])],
    ids=["generated-answers", "scenario"],
)
def test_serve_loads_only_what_serving_needs(scenarios: list[str], expected: list[str]) -> None:
    """Start-up cost: `serve` ready to answer has loaded no faker (until an answer needs
    generated text), no `regex` (until a rule has a pattern), no checks, plugin or snapshot
    library, no client SDK; the YAML reader and the loader only when it has scenario files."""
    heavy = ("yaml", "faker", "regex", "syrupy", "openai", "anthropic", "httpx")
    heavy += ("sparring.checks", "sparring.plugin", "sparring.scenario.loader")
    report = f"out.write(repr(sorted(m for m in sys.modules if m in {heavy!r})))"
    assert when_ready(report, ["serve", "--port", "0", *scenarios]) == repr(expected)
