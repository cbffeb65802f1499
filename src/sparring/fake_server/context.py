"""What every route reads from the application: shared state and the request's namespace."""

from __future__ import annotations

import random
from dataclasses import dataclass

from aiohttp import web

from sparring.fake_server.store import Store

NAMESPACE_HEADER = "x-sparring-namespace"
CONTROL_PREFIX = "/_sparring"


@dataclass
class ServerState:
    store: Store
    rng: random.Random
    closing: bool = False  # set while the server shuts down, so cut streams are not blamed on clients


STATE = web.AppKey("sparring_state", ServerState)


def namespace_of(request: web.Request) -> str:
    """The `x-sparring-namespace` header or `?namespace=`, else the one the request's API key
    is routed to (each test gets its own key), else the server's default."""
    explicit = request.headers.get(NAMESPACE_HEADER) or request.query.get("namespace")
    return request.app[STATE].store.namespace_for(explicit, api_key_of(request))


def api_key_of(request: web.Request) -> str | None:
    """OpenAI's `Authorization: Bearer`, or Anthropic's `x-api-key`."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")
