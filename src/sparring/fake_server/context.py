"""What every route reads from the application: shared state, and the request's namespace and
API path.

Every route is served at the root and under `/ns/{namespace}`: `/ns/team-a/v1/chat/completions`
is `/v1/chat/completions` in the namespace `team-a`. A base URL with the namespace in it is a
different URL per namespace, so clients that cache a connection pool per base URL (langchain-openai
does) get a fresh one for each test.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from sparring.fake_server.store import Store

if TYPE_CHECKING:
    from sparring.fake_server.upstream import Passthrough

NAMESPACE_HEADER = "x-sparring-namespace"
CONTROL_PREFIX = "/_sparring"
NAMESPACE_PREFIX = "/ns"


@dataclass
class ServerState:
    store: Store
    rng: random.Random
    closing: bool = False  # set while the server shuts down, so cut streams are not blamed on clients
    token: str | None = None  # required on control routes when set
    names: frozenset[str] = frozenset()  # non-loopback Host names the control API answers to
    passthrough: Passthrough | None = None  # where namespaces without their own send requests upstream
    speed: float = 1.0  # divides every scripted wait, times the scenario's speed (speed.py)


STATE = web.AppKey("sparring_state", ServerState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def namespace_of(request: web.Request, api_key: str | None = None) -> str:
    """The namespace in the path (`/ns/NAME/...`), else the `x-sparring-namespace` header or
    `?namespace=`, else the one the request's API key (`api_key`, read from the request when
    not given) is routed to (each test gets its own key), else the server's default."""
    in_path, _ = split_path(request.path)
    explicit = in_path or request.headers.get(NAMESPACE_HEADER) or request.query.get("namespace")
    key = api_key if api_key is not None else api_key_of(request)
    return request.app[STATE].store.namespace_for(explicit, key)


def api_path(request: web.Request) -> str:
    """The path without a `/ns/NAME` prefix: what the journal records and rules match on."""
    return split_path(request.path)[1]


def split_path(path: str) -> tuple[str | None, str]:
    """`/ns/NAME/v1/models` -> `("NAME", "/v1/models")`; a path without the prefix -> `(None, path)`."""
    if not path.startswith(NAMESPACE_PREFIX + "/"):
        return None, path
    name, _, rest = path[len(NAMESPACE_PREFIX) + 1 :].partition("/")
    return (name, "/" + rest) if name else (None, path)


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Serve `path` at the root and under `/ns/{namespace}`."""
    app.router.add_route(method, path, handler)
    app.router.add_route(method, f"{NAMESPACE_PREFIX}/{{namespace}}{path}", handler)


def api_key_of(request: web.Request) -> str | None:
    """OpenAI's `Authorization: Bearer`, Anthropic's `x-api-key`, Azure OpenAI's `api-key`, or
    Gemini's `x-goog-api-key`, or the access key id of an AWS SigV4 signature (Bedrock): never
    the signature itself."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth.startswith("AWS4-HMAC-SHA256 "):
        return _access_key_id(auth)
    headers = request.headers
    return headers.get("x-api-key") or headers.get("api-key") or headers.get("x-goog-api-key")


def _access_key_id(auth: str) -> str | None:
    """`AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/aws4_request, ...` -> `AKID`."""
    _, found, rest = auth.partition("Credential=")
    key = rest.partition("/")[0].strip()
    return key if found and key else None
