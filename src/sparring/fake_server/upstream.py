"""Requests a namespace sends to a real upstream instead of answering them itself.

A namespace (or the whole server) can hold a `Passthrough`: with `forward_all`, every API
request goes to it; otherwise only the requests no rule answers, the ones that would get
sparring's miss error. What the passthrough does with them (forward, record, answer) is its
own business: `sparring.recorder.Recorder` makes the one `sparring record` uses. This module
is the server's side of it: the protocol, the headers a proxy must not pass on, and the
journaling every forwarded request gets, so the journal reads the same whoever answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from sparring.fake_server import bodies

if TYPE_CHECKING:
    from sparring.fake_server.exchange import Exchange

# Headers about one connection, not the message (RFC 9110 §7.6.1), and those a proxy sets
# itself (`host`, the body's length and encoding): never passed on, either way.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
SPARRING_HEADER_PREFIX = "x-sparring-"  # sparring's own (namespace, token): not the upstream's business


class Passthrough(Protocol):
    """What a namespace does with requests it sends upstream instead of answering."""

    forward_all: bool  # True: every request; False: only requests no rule answers (a miss)

    async def __call__(self, exchange: Exchange, body: bytes) -> web.StreamResponse: ...


def passed_on(name: str) -> bool:
    """Whether a proxy passes a header of this (any-case) name on."""
    lower = name.lower()
    return lower not in HOP_BY_HOP and not lower.startswith(SPARRING_HEADER_PREFIX)


async def forward(exchange: Exchange, passthrough: Passthrough, raw: bytes) -> web.StreamResponse:
    """Hand a request to `passthrough`, journaled like any other: its body, and the request
    in one line when the route's API can read it (the upstream, not sparring, judges it)."""
    try:
        body = bodies.parse(raw)
    except ValueError:  # bodies.TooDeep is one: the journal gets a summary, the upstream the bytes
        exchange.body(bodies.summary(raw))
    else:
        exchange.body(bodies.journaled(raw, body))
        dialect = exchange.dialect
        if dialect is not None and exchange.entry.asked is None:
            try:
                parsed = dialect.parse(body)
            except Exception:  # sparring's own validation does not stop a forward
                pass
            else:
                request = exchange.request
                count = request.headers.get("x-stainless-retry-count", "")
                exchange.parsed(stream=parsed.stream, retry_count=int(count) if count.isdigit() else None)
                info = dialect.request_of(
                    parsed,
                    path=exchange.path,
                    headers=request.headers,
                    retry_count=exchange.retry_count,
                    index=exchange.entry.index,
                )
                exchange.asked(info.describe(request.method))
    return await passthrough(exchange, raw)


async def close(passthrough: Passthrough | None) -> None:
    """Close what a passthrough holds open (its upstream connections), if it says how."""
    aclose = getattr(passthrough, "aclose", None)
    if aclose is not None:
        await aclose()
