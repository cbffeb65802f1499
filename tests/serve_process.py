"""A `sparring serve --port 0` subprocess, for tests (and the bench) that drive an external server.

Its stdout is read to the end by a thread: the first lines give the URL, and the request log
that follows must be drained, or a busy server blocks on a full pipe.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

BASE_URL = re.compile(r"base URL: (http://127\.0\.0\.1:\d+)/v1")
START_TIMEOUT = 30.0  # a cold interpreter importing aiohttp, faker and yaml: about a second
STOP_TIMEOUT = 10.0
SRC = Path(__file__).resolve().parents[1] / "src"


class ServeLog:
    """Every line the server printed (stdout and stderr), as it prints them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def add(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first line containing `text`, waiting up to `timeout` seconds for it."""
        with self._changed:
            found = self._changed.wait_for(lambda: next((line for line in self.lines if text in line), None), timeout)
        if found is None:
            raise AssertionError(f"no line with {text!r} in {timeout} s; the log: {self.lines}")
        return found


@contextmanager
def sparring_serve(
    *args: str, log: ServeLog | None = None, preexec_fn: Callable[[], None] | None = None
) -> Iterator[str]:
    """Start `sparring serve --port 0 ARGS`, from this checkout's sources; yield its root URL
    (`http://127.0.0.1:PORT`); stop it at the end. `log`, when given, gets every line it prints;
    `preexec_fn` runs in the child before it starts (e.g. to lower a resource limit)."""
    with serve_process(*args, log=log, preexec_fn=preexec_fn) as (_, url, _):
        yield url


@contextmanager
def serve_process(
    *args: str, log: ServeLog | None = None, preexec_fn: Callable[[], None] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str, queue.Queue[str | None]]]:
    """`sparring_serve`, for a test that signals the process itself: the process, its root
    URL, and its lines after the URL (then None once it has exited). Stopped at the end
    unless the test stopped it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparring", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=preexec_fn,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    reader = threading.Thread(target=_drain, args=(proc.stdout, lines, log), daemon=True)
    reader.start()
    try:
        yield proc, _wait_for_url(proc, lines), lines
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)
        proc.stdout.close()


def _drain(stream: IO[str], lines: queue.Queue[str | None], log: ServeLog | None) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
        if log is not None:
            log.add(line.rstrip("\n"))
    lines.put(None)


def _wait_for_url(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> str:
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"sparring serve printed no base URL in {START_TIMEOUT} s; so far: {seen}") from None
        if line is None:
            raise RuntimeError(f"sparring serve exited ({proc.poll()}) before printing its URL: {seen}")
        seen.append(line)
        found = BASE_URL.search(line)
        if found:
            return found.group(1)


def when_ready(report: str, argv: list[str]) -> str:
    """Run `sparring <argv>` in a fresh interpreter and, once it prints where it listens, run
    the Python lines `report` there (they write to `out`) and exit: what that process holds at
    the moment it is ready, as text."""
    body = "\n".join("            " + line for line in report.splitlines())
    code = (
        "import os, sys\n"
        "from sparring.cli import main\n"
        "class Ready:\n"  # the server's stdout: once it says where it listens, report and stop
        "    def write(self, text):\n"
        "        if 'base URL' in text:\n"
        "            out = sys.__stdout__\n"
        f"{body}\n"
        "            out.flush()\n"
        "            os._exit(0)\n"
        "        return len(text)\n"
        "    def flush(self):\n"
        "        pass\n"
        "sys.stdout = Ready()\n"
        f"main({argv!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()
