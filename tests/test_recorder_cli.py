"""`sparring record` as a user runs it: a process of its own in front of an upstream on
127.0.0.1; the file is saved after every exchange, validates, loads to the events the client
got, holds no credential; Ctrl-C keeps everything; bad options get clear errors."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import httpx
import pytest

from sparring import load_scenario
from sparring.cli import main
from sparring.scenario.recording import Recorded
from tests.recorder_upstreams import CHAT_EVENTS, MESSAGES_EVENTS, SSE_HEADERS, Script, Upstream, cut, kept_reads
from tests.serve_process import SRC, STOP_TIMEOUT, sparring_serve
from tests.test_recorder_proxy import CHAT_BODY, reads_of

BASE_URL = re.compile(r"base URL: (http://127\.0\.0\.1:\d+)/v1")
CLIENT_KEY = "sk-client-cli-5e4d3c2b1a09"
UPSTREAM_KEY = "sk-upstream-cli-a1b2c3d4e5f6"


@contextmanager
def sparring_record(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str, queue.Queue[str | None]]]:
    """`sparring record --port 0 ARGS` from this checkout: the process, its root URL, and the
    lines it prints after the URL (None once it exited)."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), full_env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparring", "record", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def drain() -> None:
        for line in stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        url = None
        while url is None:
            line = lines.get(timeout=30)  # a cold interpreter importing aiohttp: about a second
            assert line is not None, f"sparring record exited ({proc.wait()}) before printing its URL"
            found = BASE_URL.search(line)
            url = found.group(1) if found else None
        yield proc, url, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)
        stdout.close()


def wait_for(lines: queue.Queue[str | None], text: str, seen: list[str]) -> str:
    """The next line holding `text`; every line read on the way is added to `seen`."""
    while True:
        line = lines.get(timeout=30)
        assert line is not None, f"exited before printing {text!r}: {seen}"
        seen.append(line)
        if text in line:
            return line


def rest(lines: queue.Queue[str | None]) -> list[str]:
    """Every line printed until the process exits."""
    out = []
    while (line := lines.get(timeout=STOP_TIMEOUT)) is not None:
        out.append(line)
    return out


def test_record_saves_each_exchange_and_ctrl_c_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    chat_reads = cut(CHAT_EVENTS, 150, 500)
    scripts = (
        Script(reads=chat_reads, headers=SSE_HEADERS),
        Script(reads=cut(MESSAGES_EVENTS, 300), headers={"content-type": "text/event-stream"}),
    )
    with Upstream(*scripts) as upstream:
        args = ("--upstream", upstream.url, "--out", str(out), "--api-key-env", "UPSTREAM_KEY", "--redact", "x-team")
        with sparring_record(*args, env={"UPSTREAM_KEY": UPSTREAM_KEY}) as (proc, url, lines):
            headers = {"Authorization": f"Bearer {CLIENT_KEY}", "x-team": "team-secret-77"}
            with httpx.stream("POST", f"{url}/v1/chat/completions", json=CHAT_BODY, headers=headers) as response:
                got = b"".join(response.iter_raw())
            printed: list[str] = []
            saved = wait_for(lines, "recorded", printed)
            first = load_scenario(str(out))  # saved before the line is printed
            body = {
                "model": "claude-x",
                "max_tokens": 9,
                "stream": True,
                "messages": [{"role": "user", "content": "Yo"}],
            }
            with httpx.stream("POST", f"{url}/v1/messages", json=body, headers={"x-api-key": CLIENT_KEY}) as response:
                response.read()
            wait_for(lines, "recorded", printed)
            second = load_scenario(str(out))
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=STOP_TIMEOUT) == 0
            printed += rest(lines)
        seen = upstream.seen
    assert got == b"".join(CHAT_EVENTS)
    assert len(first.rules) == 1
    assert len(second.rules) == 2
    made = first.rules[0].replies[0]
    assert isinstance(made, Recorded)
    assert kept_reads(reads_of(made.events), chat_reads)
    assert load_scenario(str(out)).rules == second.rules
    # One line per exchange, and the last word.
    exchanges = [line for line in printed if " recorded " in line]
    assert len(exchanges) == 2
    assert saved == exchanges[0]
    assert "recorded [endpoint='chat', model='gpt-4o-mini', message='Say hello'] 200" in saved
    assert saved.endswith(f"200: recording of chat (6 events) · saved to {out} (1 rule)")
    assert printed[-1] == f"sparring: stopped; 2 rules in {out}"
    # The upstream got the recorder's key; nothing written holds a key or the redacted header.
    assert seen[0].headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert seen[1].headers["x-api-key"] == UPSTREAM_KEY
    for text in (out.read_text(), "\n".join(printed)):
        for secret in (CLIENT_KEY, UPSTREAM_KEY, "team-secret-77"):
            assert secret not in text
    # An ordinary scenario: validate accepts it, serve loads it.
    said = io.StringIO()
    with redirect_stdout(said):
        assert main(["validate", str(out)]) == 0
    assert said.getvalue() == f"ok: {out} (2 rules, 2 replies)\n"
    with sparring_serve(str(out)) as served:
        assert served.startswith("http://127.0.0.1:")


def test_append_adds_to_the_file(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    with Upstream(Script(reads=CHAT_EVENTS, headers=SSE_HEADERS, gap=0)) as upstream:
        for _ in range(2):
            with sparring_record("--upstream", upstream.url, "--out", str(out), "--append") as (proc, url, lines):
                with httpx.stream("POST", f"{url}/v1/chat/completions", json=CHAT_BODY) as response:
                    response.read()
                wait_for(lines, "recorded", [])
                proc.send_signal(signal.SIGINT)
                assert proc.wait(timeout=STOP_TIMEOUT) == 0
                rest(lines)
    (held,) = load_scenario(str(out)).rules  # the same request: one rule, two answers
    assert len(held.replies) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--upstream", "api.openai.com"], "is not an http(s) URL"),
        (["--upstream", "http://127.0.0.1:9", "--match", "endpoint,modle"], "did you mean 'model'?"),
        (["--upstream", "http://127.0.0.1:9", "--api-key-env", "SPARRING_NO_SUCH_VAR"], "is not set"),
        (["--upstream", "http://127.0.0.1:9", "--host", "0.0.0.0"], "not a loopback address"),
        (["--upstream", "http://127.0.0.1:9", "--redact", "a b"], "neither a header name nor a body path"),
        (
            ["--upstream", "http://127.0.0.1:9", "--out", "/no/such/folder/r.yaml"],
            "the folder /no/such/folder does not",
        ),
    ],
)
def test_bad_options_get_a_clear_error(argv: list[str], message: str) -> None:
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["record", *argv]) == 2
    assert message in err.getvalue()
    assert err.getvalue().startswith("sparring record: ")


def test_an_unreachable_upstream_gets_a_line_and_no_rule(tmp_path: Path) -> None:
    with Upstream(Script()) as upstream:
        url = upstream.url  # nothing listens there once the block ends
    out = tmp_path / "recorded.yaml"
    with sparring_record("--upstream", url, "--out", str(out)) as (proc, proxy_url, lines):
        response = httpx.post(f"{proxy_url}/v1/chat/completions", json=CHAT_BODY)
        line = wait_for(lines, "not recorded", [])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0
        printed = rest(lines)
    assert response.status_code == 502
    assert "POST /v1/chat/completions 502 · not recorded · rejected (sparring record: cannot reach" in line
    assert printed[-1] == f"sparring: stopped; 0 rules in {out}"
    assert not out.exists()


def test_upstream_is_required() -> None:
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as exited:
        main(["record"])
    assert exited.value.code == 2
    assert "--upstream" in err.getvalue()


def test_ctrl_c_during_an_answer_records_all_of_it(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    reads = cut(CHAT_EVENTS, 150, 400, 700, 1000)
    with (
        Upstream(Script(reads=reads, headers=SSE_HEADERS, gap=0.2)) as upstream,
        sparring_record("--upstream", upstream.url, "--out", str(out)) as (proc, url, lines),
    ):
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=CHAT_BODY) as response:
            stream = response.iter_raw()
            assert next(stream).startswith(reads[0])
            proc.send_signal(signal.SIGINT)  # while the upstream has four reads to go
            with pytest.raises(httpx.TransportError):
                list(stream)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0
        printed = rest(lines)
    assert printed[-1] == f"sparring: stopped; 1 rule in {out}"
    (held,) = load_scenario(str(out)).rules
    made = held.replies[0]
    assert isinstance(made, Recorded)
    assert kept_reads(reads_of(made.events), reads)
