"""`sparring serve` under a low open-file limit, a connection flood and protocol garbage, in a
subprocess as a user runs it: the log says what happened in short lines, never a traceback, and
the next normal client is served."""

from __future__ import annotations

import selectors
import socket
import sys
import time
from collections.abc import Callable

import pytest

from sparring.cli import main
from tests.serve_process import ServeLog, sparring_serve
from tests.test_connection_limits import GARBAGE, WAIT, chat_works, read_until_closed, send_garbage

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE and preexec_fn are POSIX")


def open_files(soft: int) -> Callable[[], None]:
    """A preexec_fn: the child starts with `ulimit -n soft`."""

    def lower() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    return lower


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def flood(port: int, count: int, connect_timeout: float = WAIT) -> list[socket.socket]:
    """Up to `count` connections that send nothing; stops at the first the server's backlog drops."""
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=connect_timeout))
        except OSError:
            break
    return socks


def answered(socks: list[socket.socket], expected: int) -> list[bytes]:
    """What the sockets the server answered got, once `expected` of them have been answered and
    closed (or after WAIT seconds, whatever they are then)."""
    answers: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + WAIT
        while len(answers) < expected and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=deadline - time.monotonic()):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                selector.unregister(sock)
                answers.append(read_until_closed(sock))
    return answers


def assert_short_lines(log: ServeLog) -> None:
    assert not [line for line in log.lines if "Traceback" in line or line.startswith("  File ")], log.lines
    assert all(len(line) < 300 for line in log.lines), log.lines


@posix_only
def test_a_flood_beyond_the_cap_gets_503s_one_line_and_then_service() -> None:
    """`ulimit -n 600`: the cap is 408 (the limit less 64 descriptors for the process and 128
    for one accept burst). 500 silent connections, fewer than the limit, so the server cannot
    run out whatever its pace: 408 held, 92 answered 503 at once, one log line, no traceback;
    when they go, a client is served."""
    log = ServeLog()
    with sparring_serve(log=log, preexec_fn=open_files(600)) as url:
        socks = flood(port_of(url), 500)
        try:
            assert len(socks) == 500
            refusals = answered(socks, 500 - 408)
            assert len(refusals) == 500 - 408
            assert all(r.startswith(b"HTTP/1.1 503") and b"too_many_connections" in r for r in refusals)
            line = log.wait_for("connections open, the limit")
            assert line.startswith("sparring: 408 connections open, the limit: answering new ones 503")
        finally:
            for sock in socks:
                sock.close()
        assert chat_works(f"{url}/v1", retries=3)  # a 503 says Retry-After: 1 until the server sees them go
    assert len([line for line in log.lines if "the limit" in line]) <= 2
    assert not [line for line in log.lines if "cannot accept" in line]
    assert_short_lines(log)


@posix_only
def test_out_of_descriptors_is_a_short_line_not_a_traceback_storm() -> None:
    """A cap set above what `ulimit -n 128` allows: the server does run out of descriptors.
    asyncio's traceback for it (about 5,000 a second on today's main) becomes one short line,
    and once the flood goes the server accepts again."""
    log = ServeLog()
    with sparring_serve("--max-connections", "1000", log=log, preexec_fn=open_files(128)) as url:
        socks = flood(port_of(url), 300, connect_timeout=1.0)
        try:
            line = log.wait_for("cannot accept connections")
            assert "Too many open files" in line
            assert "ulimit -n" in line
        finally:
            for sock in socks:
                sock.close()
        assert chat_works(f"{url}/v1")
    assert 1 <= len([line for line in log.lines if "cannot accept" in line]) <= 2  # one per 10 s at most
    assert_short_lines(log)


def test_protocol_garbage_gets_short_lines_in_the_serve_log() -> None:
    log = ServeLog()
    with sparring_serve(log=log) as url:
        for payload in GARBAGE.values():
            send_garbage(port_of(url), payload)
        assert chat_works(f"{url}/v1")
        log.wait_for("POST /v1/chat/completions 200")
    assert [line for line in log.lines if line.startswith("sparring: bad request from 127.0.0.1: 400")]
    assert_short_lines(log)


def test_serve_header_timeout_closes_a_silent_connection() -> None:
    log = ServeLog()
    with sparring_serve("--header-timeout", "0.3", "--idle-timeout", "60", log=log) as url:
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=WAIT) as sock:
            assert read_until_closed(sock) == b""
        log.wait_for("sent no complete request head in 0.3 s")
        assert chat_works(f"{url}/v1")
    assert_short_lines(log)


@pytest.mark.parametrize(
    ("flag", "value"), [("--header-timeout", "0"), ("--idle-timeout", "nan"), ("--max-connections", "0")]
)
def test_serve_refuses_bad_limits(capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    assert main(["serve", flag, value, "--port", "0"]) == 2
    assert f"sparring: {flag} must be" in capsys.readouterr().err
