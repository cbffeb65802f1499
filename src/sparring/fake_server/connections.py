"""Connection hygiene: what a client can do at the connection level must not hold the server or
fill its log.

- A client timeout (`header_timeout`): a connection must send a complete request head within it
  of opening (or of the head's first byte after a keep-alive pause), and a request body must
  keep coming, its next bytes within it of the last. A slowloris client, one that connects and
  sends nothing, or one that stops halfway through its body is closed then.
- An idle timeout: aiohttp's keep-alive timeout, between two requests on one connection.
  Neither timeout ever touches a request being answered: a scenario's stall or hang holds a
  *response*, which may take as long as the scenario says.
- A connection cap: beyond `max_connections` open connections a new one is answered a bare 503
  and closed, and one log line says so (at most one every 10 s). The default stays under the
  open-file limit, so the server keeps descriptors for itself. If it runs out anyway (a cap set
  above the limit, or a flood that outruns the cap: asyncio accepts a burst of connections before
  any can be refused), asyncio's `socket.accept() out of system resource` traceback, logged
  thousands of times a second, becomes the same kind of short line.
- Protocol garbage (a huge header, broken chunked encoding, a bad Content-Length) is answered
  400 by aiohttp as before, and logged as one short line instead of aiohttp's "Error handling
  request" traceback. Exceptions from sparring's own code keep theirs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from sparring.fake_server.defaults import HEADER_TIMEOUT, IDLE_TIMEOUT

log = logging.getLogger("sparring.server")

# Descriptors left for what is not an open connection: the process's own files and sockets
# (64) and one accept burst (asyncio accepts up to the listen backlog, 128, before the tasks
# that would refuse them run).
_FD_MARGIN = 64 + 128
_CAP_CEILING = 1024
_NOTICE_EVERY = 10.0  # seconds between two log lines about the same condition


def default_max_connections() -> int:
    """min(1024, the soft open-file limit - 192), or half the limit if that is more: a cap the
    process can honour without running out of descriptors (but with a very low limit)."""
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_NOFILE
        return _CAP_CEILING
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _CAP_CEILING
    return max(1, min(_CAP_CEILING, max(soft // 2, soft - _FD_MARGIN)))


@dataclass(frozen=True)
class ConnectionLimits:
    """Timeouts in seconds for a client that does not send; `max_connections=None` derives the
    cap from the open-file limit (`default_max_connections()`)."""

    header_timeout: float = HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    max_connections: int | None = None

    def __post_init__(self) -> None:
        for name in ("header_timeout", "idle_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 10**6:
                raise ValueError(f"{name} must be a number of seconds above 0 and below 1000000, got {value!r}")
        cap = self.max_connections
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"max_connections must be a whole number of at least 1, got {cap!r}")

    @property
    def cap(self) -> int:
        return self.max_connections if self.max_connections is not None else default_max_connections()


class _Notice:
    """One log line now, then at most one per `_NOTICE_EVERY` seconds, counting what it skipped."""

    def __init__(self) -> None:
        self._last = -_NOTICE_EVERY
        self._skipped = 0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last < _NOTICE_EVERY:
            self._skipped += 1
            return
        if self._skipped:
            message += f" ({self._skipped} more since the last such line)"
        self._last, self._skipped = now, 0
        log.warning("sparring: %s", message)


def _refusal(cap: int) -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": f"sparring: too many open connections (the limit is {cap}); retry shortly",
                "type": "server_error",
                "code": "too_many_connections",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Handler(RequestHandler):
    """aiohttp's connection protocol plus the client timer and the cap.

    One timer per connection, for whatever the client owes: the rest of a request head (due
    `header_timeout` after the connection opened or the head's first byte came), or the next
    bytes of a request body (due `header_timeout` after the last ones; a body may be large, but
    it must keep coming). It reads aiohttp's `_waiter` (set while the connection waits for a
    request head; aiohttp's own keep-alive check reads it too) and `_messages` (heads parsed,
    not yet handled, each with its body's stream)."""

    def __init__(self, guard: _Server, *, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(guard, loop=loop, **kwargs)
        self._guard = guard
        self._timer: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # the body still arriving, if any
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._guard.full():
            self._refused = True
            self._guard.refused()
            assert isinstance(transport, asyncio.Transport)
            transport.write(self._guard.refusal)
            transport.close()
            return
        super().connection_made(transport)
        self._arm()  # also closes a connection that never sends a byte

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            return
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:
            self._body = self._messages[-1][1]
        if self._body is not None and not self._body.is_eof():
            self._arm()  # more of the body is due
            return
        self._body = None
        if self._messages:  # complete heads and bodies: the requests are the app's now
            self._disarm()
        elif data and self._timer is None and self._waiting_for_head():
            self._arm()  # the first byte of the next request on a kept-alive connection

    def _waiting_for_head(self) -> bool:
        return self._waiter is not None and not self._waiter.done()

    def _arm(self) -> None:
        self._disarm()
        self._timer = self._loop.call_later(self._guard.limits.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._body is not None and not self._body.is_eof():
            if self._reading_paused or getattr(self, "_buffer_paused", False):  # we stopped reading, not it
                self._arm()
                return
            self._guard.timed_out("whose request body stopped coming for")
            self.force_close()
        elif self._waiting_for_head() and not self._messages:
            self._guard.timed_out("that sent no complete request head in")
            self.force_close()

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A request aiohttp could not parse is the client's doing: one short line, no traceback."""
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            peer = self.transport.get_extra_info("peername") if self.transport is not None else None
            who = peer[0] if isinstance(peer, tuple) else "a client"
            log.warning("sparring: bad request from %s: %s %s", who, exc.code, _short(exc.message))
            return
        super().log_exception(*args, **kw)


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Server(web.Server):
    """aiohttp's connection factory, making `_Handler`s and keeping count."""

    def __init__(self, handler: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self._cap = limits.cap
        self.refusal = _refusal(self._cap)
        self._full_notice = _Notice()
        self._timeout_notice = _Notice()
        self._handler_kwargs = {k: v for k, v in kwargs.items() if k not in ("request_factory", "handler_cancellation")}
        _quiet_accept_errors(asyncio.get_running_loop())

    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=asyncio.get_running_loop(), **self._handler_kwargs)

    def full(self) -> bool:
        return len(self.connections) >= self._cap

    def refused(self) -> None:
        self._full_notice(
            f"{self._cap} connections open, the limit: answering new ones 503 "
            "(raise it with --max-connections or max_connections=, and the open-file limit with ulimit -n)"
        )

    def timed_out(self, what: str) -> None:
        self._timeout_notice(
            f"closed a connection {what} {self.limits.header_timeout:g} s "
            "(a slow or silent client; see --header-timeout)"
        )


def _quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio logs a traceback each second the listening socket cannot accept for want of file
    descriptors; make that one short line now and then. Everything else goes on as before."""
    previous = loop.get_exception_handler()
    notice = _Notice()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            exc = context.get("exception")
            notice(f"cannot accept connections: {exc} (raise ulimit -n, or lower --max-connections)")
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` serving through `_Server`: the same app and options, the limits on top."""

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, keepalive_timeout=limits.idle_timeout, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts and freezes the app
        return _Server(
            plain.request_handler, limits=self._limits, request_factory=plain.request_factory, **self._kwargs
        )
