"""The soak and fuzz harness (bench/soak.py, bench/fuzz.py) in short: mixed requests with
faults and client aborts on both servers, then nothing leaked, nothing lost, no traceback.

The long form (`make soak`) runs the same checks on 10,000 and 50,000 requests.
"""

from __future__ import annotations

import logging
import platform
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparring import FakeServer

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import soak  # noqa: E402
from soak_targets import InProcess, Serve  # noqa: E402

# Memory bounds for runs this short. The journal keeps every request of them (packed: 1 to 2
# KB a request, 17 KB for a stream of 1-byte writes), about 1 MiB in all; the rest is the
# allocator's high-water mark at 32 requests under way, and in-process the clients' own
# allocations too. Measured on 2 busy cores: serve grew 3.6 MiB (45.7 -> 49.3), in-process
# 17 MiB (103 -> 120, in a pytest process that had run other tests). The bounds are twice to
# ten times that; what they catch is a leak of tens of KiB a request (the journal of before
# it was packed and capped kept about 110 KiB a mixed request of runs this short).
RSS_GROWTH_MIB = {"inprocess": 60.0, "serve": 40.0}
SERVE_RSS_MIB = 100.0  # the bound; the short form ends near 50, the long one (10k + fuzz) at 75


def run(target: Any, *argv: str) -> dict[str, Any]:
    growth = RSS_GROWTH_MIB[target.name]
    # No quiet seconds before the readings (the long form waits for the server's trim): the
    # bounds above hold untrimmed, and each wait would add 5 s to the suite.
    bounds = ["--max-rss-growth", str(growth), "--max-rss", str(SERVE_RSS_MIB), "--quiet", "0"]
    args = soak.parser().parse_args([*argv, *bounds])
    try:
        return soak.soak(target, args)
    finally:
        target.close()


# Known, reported, and left to the change that owns control.py: DELETE /_sparring/namespace
# copies the journal before it cancels the requests under way, so its answer shows them open.
# Remove this once the answer is taken after the cancel.
KNOWN: tuple[str, ...] = ()  # failures the harness reports that are known and accepted: none


def check(figures: dict[str, Any]) -> None:
    print(soak.report(figures))  # shown when the test fails
    assert [f for f in figures["failures"] if not f.startswith(KNOWN)] == []
    # The checks ran on what they should have: every kind of client, and faults that fired.
    assert figures["sent"] == figures["journaled"] > figures["requests"]
    kinds = {k.split(":")[0] for k in figures["client_outcomes"]}
    assert kinds == {client for client, _ in soak.CLIENTS}
    outcomes = " ".join(figures["outcomes"])
    for outcome in ("client_disconnected", "fault", "completed 429", "completed 500", "rejected 400"):
        assert outcome in outcomes
    assert figures["drops"] == 3


@pytest.mark.timeout(120)  # 10-20 s on 2 busy cores (load 2-9): 500 requests through one Python client
def test_soak_in_process() -> None:
    check(run(InProcess(), "--target", "inprocess", "--requests", "500", "--seed", "3"))


@pytest.mark.timeout(120)  # 8-14 s on 2 busy cores: a subprocess start, 300 requests, the fuzz rounds
def test_soak_and_fuzz_on_serve() -> None:
    figures = run(Serve(), "--target", "serve", "--requests", "300", "--fuzz", "100", "--fuzz-small", "--seed", "4")
    check(figures)
    fuzz = figures["fuzz"]
    assert fuzz["api_statuses"].get(400, 0) > 0
    assert fuzz["control_statuses"].get(400, 0) > 0


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["bad-version", "huge-header", "bad-chunk"],
)
def test_protocol_garbage_is_one_log_line(server: FakeServer, caplog: pytest.LogCaptureFixture, payload: bytes) -> None:
    with caplog.at_level(logging.DEBUG), socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(payload)
        answer = sock.recv(100)
        assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400"))
        while sock.recv(4096):  # the server closes after its 400: the record is written by then
            pass
    records = [r for r in caplog.records if r.name.startswith("sparring")]
    assert [(r.levelname, r.exc_info) for r in records] == [("WARNING", None)]
    assert records[0].getMessage().startswith("sparring: bad request from 127.0.0.1: 400 ")
    assert "\n" not in records[0].getMessage()
    assert server.wait_until(lambda j: True, timeout=0) == []  # never reached the API


GIVE_BACK = """
import sys
from sparring.fake_server.memory import give_back_large_buffers

def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) // 1024

if sys.argv[1] == "tuned":
    assert give_back_large_buffers()
del bytearray(1_000_000)[:]  # one large buffer freed: glibc would now raise its mmap threshold
start = rss()
blocks = [bytearray(1_000_000) for _ in range(60)]  # 60 MB of large buffers, each touched
kept = blocks.pop()  # the last one stays, as a live buffer would: the heap cannot shrink past it
del blocks
print(rss() - start)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
def test_serve_gives_freed_large_buffers_back() -> None:
    """What `sparring serve` sets (sparring.fake_server.memory): without it, 60 MB of freed
    1 MB buffers stay with the process behind one that lives on; with it, they leave."""
    import subprocess

    def grown(mode: str) -> int:
        run = subprocess.run([sys.executable, "-c", GIVE_BACK, mode], capture_output=True, text=True, check=True)
        return int(run.stdout)

    assert grown("default") > 40  # MiB: the heap kept them
    assert grown("tuned") < 10
