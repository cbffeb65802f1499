"""Connection hygiene over real sockets: slow, silent and idle clients are closed after their
timeout, answers being played (stalls) are not; too many connections get a 503 and one log line,
never a traceback storm; protocol garbage gets a short log line; and binding outside loopback
needs `allow_remote=True`."""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Iterator

import pytest
from openai import OpenAI

from sparring import FakeServer, Fault, Scenario, ServerError, reply

ANSWERS = Scenario.of(fallback="default")  # a generated answer to every request
SHORT = 0.3  # the timeouts under test: short, so the tests are quick
WAIT = 10.0  # generous bound for anything that should happen within SHORT on a busy machine
CHAT = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}'
HEAD = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(CHAT)
)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(ANSWERS, header_timeout=SHORT, idle_timeout=SHORT) as fake:
        yield fake


def connect(server: FakeServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def read_answer(sock: socket.socket) -> bytes:
    """One chat answer, read off a connection that stays open."""
    got = b""
    while b'"finish_reason"' not in got:
        chunk = sock.recv(65536)
        assert chunk, f"closed before the answer: {got!r}"
        got += chunk
    return got


def held_open(server: FakeServer) -> socket.socket:
    """A kept-alive connection the server has surely counted: it has answered a request on it."""
    sock = connect(server)
    sock.sendall(HEAD + CHAT)
    assert read_answer(sock).startswith(b"HTTP/1.1 200")
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it has not closed within WAIT."""
    got = b""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk
    raise AssertionError(f"the server kept the connection open for {WAIT} s; it sent {got[:200]!r}")


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def chat_works(base_url: str, retries: int = 0) -> str:
    with OpenAI(base_url=base_url, api_key="sk-test", max_retries=retries, timeout=WAIT) as client:
        got = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    return got.choices[0].message.content or ""


# -- timeouts ------------------------------------------------------------------------------


LONG = 600.0  # a timeout that must not be the one that acts


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "sparring.server")
    with FakeServer(ANSWERS, header_timeout=SHORT, idle_timeout=LONG) as server:
        opened = time.monotonic()  # before connecting: the server's clock cannot start earlier
        with connect(server) as sock:
            assert read_until_closed(sock) == b""
        assert time.monotonic() - opened >= SHORT * 0.9  # not at once: after the timeout
    assert any("sent no complete request head in 0.3 s" in r.getMessage() for r in caplog.records)
    assert not tracebacks(caplog)


def test_a_slowloris_client_is_closed_though_it_keeps_sending(caplog: pytest.LogCaptureFixture) -> None:
    """A request head sent a byte at a time, each byte well inside any per-read timeout: the
    head as a whole must be complete within the header timeout."""
    caplog.set_level(logging.WARNING, "sparring.server")
    sent = 0
    head = HEAD + b"X-Slow: " + b"a" * 10_000
    timeout = 1.0  # twenty of the client's ticks: enough to show it sending even on a busy machine
    with FakeServer(ANSWERS, header_timeout=timeout, idle_timeout=LONG) as server, connect(server) as sock:
        opened = time.monotonic()
        for byte in head:
            readable, _, _ = select.select([sock], [], [], timeout / 20)  # the client's pace: a byte a tick
            if readable:
                break
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
        else:
            pytest.fail(f"the server took {len(head)} bytes over {time.monotonic() - opened:.1f} s and never closed")
        assert read_until_closed(sock) == b""
    assert sent >= 5  # it was sending all along
    assert any("sent no complete request head" in r.getMessage() for r in caplog.records)
    assert not tracebacks(caplog)


def test_a_request_body_that_stops_coming_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    """A complete head promising 500 bytes of body, then a trickle that stops: the body's next
    bytes are due within the header timeout of the last ones."""
    caplog.set_level(logging.WARNING, "sparring.server")
    timeout = 1.0  # longer than SHORT: the test's own pace must stay well inside it on a busy machine
    with FakeServer(ANSWERS, header_timeout=timeout, idle_timeout=LONG) as server, connect(server) as sock:
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
        sock.sendall(head + b'{"model": ')
        for _ in range(3):  # the body keeps coming, a byte every fifth of the timeout: not closed
            readable, _, _ = select.select([sock], [], [], timeout / 5)
            assert not readable, "closed while the body was still coming"
            sock.sendall(b" ")
        assert read_until_closed(sock) == b""
    assert any("request body stopped coming for 1 s" in r.getMessage() for r in caplog.records)
    assert not tracebacks(caplog)


def test_a_kept_alive_connection_is_closed_when_idle() -> None:
    with FakeServer(ANSWERS, header_timeout=LONG, idle_timeout=SHORT) as server, connect(server) as sock:
        sock.sendall(HEAD + CHAT)
        answered = read_until_closed(sock)
        assert answered.startswith(b"HTTP/1.1 200")
        assert server.journal()[0].outcome == "completed"


def test_a_slow_next_request_on_a_kept_alive_connection_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    """After one answer, the next request head trickles in: the header timer starts again."""
    caplog.set_level(logging.WARNING, "sparring.server")
    with FakeServer(ANSWERS, header_timeout=SHORT, idle_timeout=LONG) as server, connect(server) as sock:
        sock.sendall(HEAD + CHAT)
        read_answer(sock)
        sock.sendall(HEAD[:10])
        assert read_until_closed(sock) == b""
        assert len(server.journal()) == 1
    assert any("sent no complete request head" in r.getMessage() for r in caplog.records)


def test_two_requests_on_one_connection_within_the_idle_timeout() -> None:
    """Keep-alive itself still works, with a short header timeout: the second request goes on
    the same socket."""
    with FakeServer(ANSWERS, header_timeout=SHORT, idle_timeout=LONG) as server, held_open(server) as sock:
        sock.sendall(HEAD + CHAT)
        assert read_answer(sock).startswith(b"HTTP/1.1 200")
        assert len(server.journal()) == 2


def test_a_stall_longer_than_both_timeouts_is_not_cut() -> None:
    """The timeouts are about a client that does not send; a response the scenario holds (a
    stall four times the timeouts) plays to its end, on the openai SDK."""
    chunks = ["alpha", " beta", " gamma"]
    scenario = Scenario.of(
        reply(chunks=chunks, fault=Fault("stall", after_chunk=1, duration=SHORT * 4)), fallback="default"
    )
    with FakeServer(scenario, header_timeout=SHORT, idle_timeout=SHORT) as fake:
        with OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=WAIT) as client:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert text == "alpha beta gamma"
            assert chat_works(fake.base_url)  # and the next client after it
        assert fake.journal()[0].outcome == "completed"


def test_a_hang_longer_than_both_timeouts_is_not_cut() -> None:
    """A `hang` holds the response before its headers: the connection is silent both ways, and
    still the timeouts leave it alone; the scenario's duration ends it."""
    scenario = Scenario.of(reply("late", fault=Fault("hang", duration=SHORT * 4)))
    with FakeServer(scenario, header_timeout=SHORT, idle_timeout=SHORT) as fake, connect(fake) as sock:
        sent = time.monotonic()  # before sending: the hang cannot start earlier
        sock.sendall(HEAD + CHAT)
        assert read_until_closed(sock) == b""
        assert time.monotonic() - sent >= SHORT * 4 * 0.9
        entry = fake.wait_until(lambda j: bool(j) and j[0].outcome is not None)[0]
        assert entry.outcome == "fault", entry


@pytest.mark.parametrize(
    ("option", "value"),
    [("header_timeout", 0), ("idle_timeout", -1), ("header_timeout", "10"), ("max_connections", 0)],
)
def test_bad_limits_are_a_clear_error(option: str, value: object) -> None:
    with pytest.raises(ServerError, match=f"{option} must be"):
        FakeServer(**{option: value})  # type: ignore[arg-type]


# -- the connection cap ---------------------------------------------------------------------


def test_connections_beyond_the_cap_get_a_503_and_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "sparring.server")
    with FakeServer(ANSWERS, max_connections=3) as fake:
        held = [held_open(fake) for _ in range(3)]
        refused = []
        for _ in range(5):
            with connect(fake) as extra:
                refused.append(read_until_closed(extra))
        assert all(r.startswith(b"HTTP/1.1 503") and b"too_many_connections" in r for r in refused), refused
        lines = [r.getMessage() for r in caplog.records if "the limit" in r.getMessage()]
        assert len(lines) == 1, lines  # one line, not one per connection
        assert "3 connections open" in lines[0]
        for sock in held:
            sock.close()
        # The SDK retries the 503 (it says Retry-After: 1) until the server has seen them go.
        assert chat_works(fake.base_url, retries=3)
    assert not tracebacks(caplog)


# -- protocol garbage -----------------------------------------------------------------------

TLS_CLIENT_HELLO = bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x00\x2f\x01\x00"
GARBAGE = {
    "bad request line": b"HELLO WORLD\r\n\r\n",
    "bad method": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad version": b"GET / HTTP/9.Z\r\nHost: x\r\n\r\n",
    "huge header": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    "many headers": b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n",
    "bad header": b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "bad chunked": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    "bad content-length": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "tls client hello": TLS_CLIENT_HELLO,
    "binary": bytes(range(256)) * 4,
    "second request garbage": HEAD + CHAT + b"\x16\x03\x01garbage\r\n\r\n",
    "half-open close": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{",
}


def send_garbage(port: int, payload: bytes, *, half_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        try:
            sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server gave up on it first: fine
        return read_until_closed(sock)


@pytest.mark.parametrize("payload", list(GARBAGE.values()), ids=list(GARBAGE))
def test_protocol_garbage_gets_no_traceback(
    server: FakeServer, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = send_garbage(server.port, payload)
    assert not answer or answer.startswith(b"HTTP/1."), answer[:200]
    assert chat_works(server.base_url)
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO], caplog.text
    assert all(len(r.getMessage()) < 300 for r in caplog.records if r.levelno >= logging.WARNING), caplog.text


def test_a_bad_request_gets_one_short_line(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "sparring.server")
    # Just over aiohttp's 8190-byte limit: it all arrives before the answer, so no RST races it.
    answer = send_garbage(
        server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", half_close=False
    )
    assert answer.startswith(b"HTTP/1.0 400")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("sparring", "aiohttp"))]
    assert len(lines) == 1, lines
    assert lines[0].startswith("sparring: bad request from 127.0.0.1: 400 Got more than 8190 bytes"), lines


# -- binding outside loopback --------------------------------------------------------------


def test_a_non_loopback_host_needs_allow_remote() -> None:
    with pytest.raises(ServerError, match=r"host='0\.0\.0\.0' is not a loopback address.*allow_remote=True"):
        FakeServer(host="0.0.0.0")


@pytest.mark.parametrize(("token", "says"), [(None, "no token=...: anyone on the network"), ("t0k", "need the token")])
def test_allow_remote_warns_and_serves(token: str | None, says: str) -> None:
    with pytest.warns(RuntimeWarning, match=f"outside loopback.*{says}"):
        fake = FakeServer(ANSWERS, host="0.0.0.0", allow_remote=True, token=token)
    with fake:
        assert chat_works(f"http://127.0.0.1:{fake.port}/v1")


def test_loopback_names_need_no_flag() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        FakeServer(host=host)  # no error, no warning (warnings are errors in this suite)
