"""FakeServer's lifecycle: binding, closing, context managers, isolation, and shutting down
under a stream that is still running."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

from sparring import FakeServer, Scenario, ServerError, Timing, reply

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}


def healthy(url: str) -> bool:
    with httpx.Client(timeout=2) as client:
        return client.get(f"{url}/_sparring/health").status_code == 200


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_binds_loopback_on_a_real_port() -> None:
    """`port=0` binds 127.0.0.1 on a free port, read back after binding; it answers there."""
    with FakeServer() as server:
        assert server.host == "127.0.0.1"
        assert server.port != 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.base_url.endswith("/v1")
        assert healthy(server.url)


def test_port_before_start_raises() -> None:
    """A server not yet started has no port to give."""
    with pytest.raises(ServerError):
        _ = FakeServer().port


def test_close_twice_and_start_after_close() -> None:
    """`close()` stops serving and may be called again; `start()` after it raises ServerError."""
    server = FakeServer().start()
    port = server.port
    server.close()
    server.close()
    assert refuses_connections(port)
    with pytest.raises(ServerError, match="closed"):
        server.start()


def test_sync_context_manager_closes() -> None:
    """`with FakeServer() as s:` serves inside the block and stops at its end."""
    with FakeServer(Scenario.of(reply("from the constructor"))) as server:
        port = server.port
        with httpx.Client(timeout=5) as client:
            got = client.post(f"{server.base_url}/chat/completions", json=CHAT).json()
        assert got["choices"][0]["message"]["content"] == "from the constructor"
    assert refuses_connections(port)


@pytest.mark.asyncio
async def test_async_context_manager() -> None:
    """`async with FakeServer() as s:` serves an async client on the test's own loop."""
    async with FakeServer() as server:
        port = server.port
        server.set_scenario(Scenario.of(reply("async hello")))
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{server.base_url}/chat/completions", json=CHAT) as response,
        ):
            assert response.status == 200
            got = await response.json()
        assert got["choices"][0]["message"]["content"] == "async hello"
    assert refuses_connections(port)


def test_two_servers_are_isolated() -> None:
    """Two servers at once: their own ports, scenarios and journals."""
    with FakeServer() as first, FakeServer() as second, httpx.Client(timeout=5) as client:
        assert first.port != second.port
        first.set_scenario(Scenario.of(reply("first only")))
        hit = client.post(f"{first.base_url}/chat/completions", json=CHAT)
        miss = client.post(f"{second.base_url}/chat/completions", json=CHAT)
        assert hit.json()["choices"][0]["message"]["content"] == "first only"
        assert miss.status_code == 404
        assert [(e.status, e.answered_by is not None) for e in first.journal()] == [(200, True)]
        assert [(e.status, e.outcome) for e in second.journal()] == [(404, "unmatched")]


def test_port_already_taken(taken_port: int) -> None:
    """Starting on a port in use raises ServerError naming the port, and leaves no thread behind."""
    before = _server_threads()
    server = FakeServer(port=taken_port)
    with pytest.raises(ServerError, match=str(taken_port)):
        server.start()
    assert _server_threads() <= before


def _server_threads() -> set[threading.Thread]:
    """Live server threads; other tests' servers (the plugin's session server) may be among them."""
    return {t for t in threading.enumerate() if t.name == "sparring-server" and t.is_alive()}


def _non_daemon_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not t.daemon and t.is_alive()}


def test_close_during_a_stalled_stream_is_prompt() -> None:
    """Closing while a stream waits out a long gap returns promptly and leaves no thread behind."""
    before, servers_before = _non_daemon_threads(), _server_threads()
    server = FakeServer(Scenario.of(reply(chunks=["first ", "never sent"], timing=Timing(gap=60)))).start()
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{server.base_url}/chat/completions", json={**CHAT, "stream": True}) as response,
    ):
        first = next(response.iter_raw())
        assert first.startswith(b"data: ")
        started = time.monotonic()
        server.close()
        took = time.monotonic() - started
    # Generous bound: the stream would wait 60 s more; the server gives running handlers
    # a fraction of a second before cancelling them, so 5 s only fails if close() waits for the gap.
    assert took < 5
    assert _non_daemon_threads() <= before
    assert _server_threads() <= servers_before
    [entry] = server.journal()
    assert entry.outcome is not None, "the interrupted stream still gets an ending in the journal"


def test_first_request_under_warnings_as_errors() -> None:
    """In a fresh interpreter with `-W error` (as a strict user test suite runs), the very first
    request is answered normally: serving it must not emit any warning."""
    script = textwrap.dedent(
        f"""
        import json, urllib.request
        from sparring import FakeServer, Scenario, reply
        with FakeServer(Scenario.of(reply("ok"))) as server:
            request = urllib.request.Request(
                server.base_url + "/chat/completions",
                data=json.dumps({CHAT!r}).encode(),
                headers={{"Content-Type": "application/json"}},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                print(response.status, json.loads(response.read())["choices"][0]["message"]["content"])
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "ok"]
    assert "Traceback" not in done.stderr
