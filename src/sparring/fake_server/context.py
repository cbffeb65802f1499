"""What every route reads from the application: shared state and the request's namespace."""

from __future__ import annotations

import random
from dataclasses import dataclass

from aiohttp import web

from sparring.fake_server.store import DEFAULT_NAMESPACE, Store

NAMESPACE_HEADER = "x-sparring-namespace"
CONTROL_PREFIX = "/_sparring"


@dataclass
class ServerState:
    store: Store
    rng: random.Random
    closing: bool = False  # set while the server shuts down, so cut streams are not blamed on clients


STATE = web.AppKey("sparring_state", ServerState)


def namespace_of(request: web.Request) -> str:
    return request.headers.get(NAMESPACE_HEADER) or request.query.get("namespace") or DEFAULT_NAMESPACE
