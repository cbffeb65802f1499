"""The two servers the soak drives, and what it measures of them from outside.

Both are read the same way where they can be: open fds and RSS from `/proc/PID`, connections
on the server's port from `/proc/PID/net/tcp`, tracebacks from the server's log. The
in-process server adds `FakeServer.activity()` (its loop's tasks and aiohttp's connections).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

SRC = Path(__file__).resolve().parents[1] / "src"
BASE_URL = re.compile(r"base URL: (http://127\.0\.0\.1:(\d+))/v1")
# TCP states in /proc/net/tcp: a socket still held by a process. TIME_WAIT (06) and LISTEN (0A)
# are not connections a leak keeps open.
_HELD_STATES = {"01", "02", "03", "04", "05", "07", "08", "09", "0B"}


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tcp_connections(pid: int, port: int) -> int:
    """Sockets in the server's network namespace whose local port is the server's, apart from
    the listener and TIME_WAIT: the connections the server still holds."""
    held = 0
    for name in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{name}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            parts = line.split()
            local_port = int(parts[1].rsplit(":", 1)[1], 16)
            if local_port == port and parts[3] in _HELD_STATES:
                held += 1
    return held


class Target:
    """A running server: its root URL, its process, its log."""

    name = "?"
    url = ""
    port = 0
    pid = 0

    def tracebacks(self) -> list[str]:
        raise NotImplementedError

    def log_lines(self) -> int:
        raise NotImplementedError

    def activity(self) -> dict[str, int]:
        """Connections (and tasks, when the server's loop can be asked) held right now."""
        return {"tcp": tcp_connections(self.pid, self.port)}

    def close(self) -> None:
        raise NotImplementedError


class _Capture(logging.Handler):
    """Every log record of the in-process server that carries a traceback, or is an error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(self.format(record))


class InProcess(Target):
    name = "inprocess"

    def __init__(self) -> None:
        from sparring import FakeServer

        self.capture = _Capture()
        self.capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        logging.getLogger().addHandler(self.capture)
        self.server = FakeServer().start()
        self.url, self.port, self.pid = self.server.url, self.server.port, os.getpid()

    def tracebacks(self) -> list[str]:
        return list(self.capture.records)

    def log_lines(self) -> int:
        return self.capture.count

    def activity(self) -> dict[str, int]:
        return {**super().activity(), **self.server.activity()}

    def journal(self, namespace: str) -> tuple[list[dict[str, Any]], int]:
        """Read in this process, no JSON of a large journal on the server's loop: the entries,
        and how many a capped journal dropped (when the journal counts them)."""
        book = self.server.store.space(namespace).journal
        entries = [{"outcome": e.outcome, "status": e.status, "detail": e.detail} for e in book.entries()]
        return entries, int(getattr(book, "dropped", 0))

    def close(self) -> None:
        self.server.close()
        logging.getLogger().removeHandler(self.capture)


# The in-process server alone: `FakeServer` in its thread, as a test process runs it, in a
# process that does nothing else (no client, no SDK), so that its RSS is the server's share.
ALONE = """
import logging, sys, threading
from sparring import FakeServer
logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
server = FakeServer().start()
print("base URL: " + server.base_url, flush=True)
threading.Event().wait()
"""


class Serve(Target):
    """`sparring serve --port 0` from this checkout's sources, its stdout and stderr kept."""

    name = "serve"
    command = ("-m", "sparring", "serve", "--port", "0")

    def __init__(self, *args: str, src: Path = SRC) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, *self.command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._first: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 30  # a cold interpreter importing aiohttp, faker, yaml: about 1 s
        while True:
            line = self._first.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"sparring serve exited ({self.proc.poll()}): {self.lines}")
            found = BASE_URL.search(line)
            if found:
                self.url, self.port, self.pid = found.group(1), int(found.group(2)), self.proc.pid
                return

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:  # drained to the end: a full pipe would block a busy server
            self.lines.append(line.rstrip("\n"))
            if not self.url:
                self._first.put(line)
        self._first.put(None)

    def tracebacks(self) -> list[str]:
        """Each traceback in the log, with the line before it (what the server was doing) and
        up to 30 lines of it."""
        found = []
        lines = list(self.lines)
        for i, line in enumerate(lines):
            if line.startswith("Traceback (most recent call last)"):
                end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith((" ", "Traceback"))), i)
                found.append("\n".join(lines[max(0, i - 1) : min(end + 1, i + 30)]))
        return found

    def log_lines(self) -> int:
        return len(self.lines)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


class Alone(Serve):
    """`FakeServer` in a thread (the in-process server, as `fake_llm` runs it) in a process of
    its own: the clients' memory is not in its RSS. Read from outside, as `serve` is."""

    name = "inprocess-alone"
    command = ("-c", ALONE)
