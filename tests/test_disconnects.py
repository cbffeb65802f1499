"""A client that goes away is journaled as `client_disconnected`, with where, at every phase,
and nothing a client can do puts a traceback in the server's log."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from sparring import Answer, Entry, FakeServer, Request, Scenario, Timing, reply, respond

WAIT = 5.0  # generous: each step below is one local round trip


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(seed=7) as fake:
        yield fake


def _connect(server: FakeServer) -> socket.socket:
    host, port = server.url.split("//")[1].split("/")[0].rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=WAIT)


def _send_request(sock: socket.socket, *, stream: bool) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream})
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST, as an aborting client (or a killed process) does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _ended(entries: list[Entry]) -> bool:
    return len(entries) == 1 and entries[0].outcome is not None


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-answer"])
def test_client_gone_when_the_answer_is_ready_is_a_disconnect(
    server: FakeServer, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    """The race the soak found, made deterministic: the client resets while the server is busy
    making the answer (a callback that holds the event loop), so the server learns of it only
    when it writes. The journal says `client_disconnected`, not `completed` or a 500, counts no
    bytes that never reached the socket, and the log has no traceback."""
    arrived, gone = threading.Event(), threading.Event()

    def slow(request: Request) -> Answer:
        arrived.set()
        assert gone.wait(WAIT)  # holds the loop until the reset is in the server's kernel
        return reply("too late")

    server.set_scenario(Scenario.of(respond(slow)))
    caplog.set_level(logging.DEBUG, logger="sparring")
    sock = _connect(server)
    _send_request(sock, stream=stream)
    assert arrived.wait(WAIT)
    _reset(sock)
    gone.set()
    [entry] = server.wait_until(_ended, timeout=WAIT)
    assert entry.outcome == "client_disconnected", entry
    assert entry.chunks == []
    assert entry.bytes_sent == 0
    assert entry.detail is not None
    assert "0 writes" in entry.detail
    assert _tracebacks(caplog) == []


def test_reset_during_headers_delay_is_a_disconnect_before_the_headers(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.set_scenario(Scenario.of(reply("late", timing=Timing(headers_delay=30))))
    caplog.set_level(logging.DEBUG, logger="sparring")
    sock = _connect(server)
    _send_request(sock, stream=True)
    # The request is in the journal (open) once the server is in its headers_delay.
    server.wait_until(lambda j: len(j) == 1 and j[0].body is not None, timeout=WAIT)
    _reset(sock)
    [entry] = server.wait_until(_ended, timeout=WAIT)
    assert entry.outcome == "client_disconnected"
    assert entry.detail == "before the headers were sent"
    assert entry.status is None
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize("garbage", [b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", b"HELLO THERE\r\n\r\n"])
def test_protocol_garbage_gets_a_400_and_no_traceback(
    server: FakeServer, caplog: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    with _connect(server) as sock:
        sock.sendall(garbage)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.")
    assert b" 400 " in answer.split(b"\r\n")[0]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert server.journal() == []
