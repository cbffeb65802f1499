"""What the recording proxy does on its two connections: tell how the upstream's broke (a
reset or a close), break the client's the same way, notice a client that left, and answer
sparring's own 502 when the upstream cannot be reached."""

from __future__ import annotations

import errno
from typing import Any

import aiohttp
from aiohttp import web

from sparring.fake_server import faults
from sparring.fake_server.dialects.base import InvalidRequest
from sparring.fake_server.exchange import Exchange
from sparring.recorder.capture import Cut
from sparring.scenario.request import Request


def unreachable(exchange: Exchange, why: str) -> web.Response:
    """A 502 in the API's shape, which no SDK retries: the upstream is down, not misbehaving."""
    message = f"sparring record: {why}"
    exchange.finish("rejected", message, status=502)
    problem = InvalidRequest(message, code="sparring_upstream_unreachable", status=502)
    dialect = exchange.dialect
    if dialect is not None:
        error = dialect.invalid(problem, exchange.rng)
        status, body, headers = error.status, error.body, {**error.headers, "x-should-retry": "false"}
    else:
        status, body, headers = 502, {"error": {"message": message}}, {"x-should-retry": "false"}
    exchange.headers_sent(headers, status)
    if isinstance(body, str):
        return web.Response(text=body, status=status, headers=headers)
    return web.json_response(body, status=status, headers=headers)


def request_of(exchange: Exchange, body: Any) -> Request | None:
    """The request as rules see it, or None when sparring's dialect cannot read it."""
    dialect = exchange.dialect
    if dialect is None or not isinstance(body, dict):
        return None
    try:
        parsed = dialect.parse(body)
    except Exception:  # the upstream judged it; the rule then matches less
        return None
    return dialect.request_of(
        parsed, path=exchange.path, headers=exchange.request.headers, retry_count=None, index=exchange.entry.index
    )


def cut_kind(exc: BaseException) -> Cut:
    """A reset (RST) if one shows anywhere in the error's chain, else a close (FIN). aiohttp's
    payload error names the reset only in its message (3.14: "... ConnectionResetError(104, ...)")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionResetError) or getattr(seen, "errno", None) == errno.ECONNRESET:
            return "reset"
        if isinstance(seen, aiohttp.ClientPayloadError) and "ConnectionResetError" in str(seen):
            return "reset"
        seen = seen.__cause__ or seen.__context__
    return "close"


def cut(request: web.Request, kind: Cut) -> None:
    """Break the client's connection as the upstream broke the proxy's."""
    if kind == "reset":
        faults.rst(request)
    else:
        faults.fin(request)


def check_open(request: web.Request) -> None:
    if client_gone(request):
        raise ConnectionResetError("the client closed the connection")


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
