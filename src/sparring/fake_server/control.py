"""The control API under `/_sparring/`: script the server and read its journal over HTTP.

For clients in other languages, other processes, and a shared server. Every route acts on
one namespace: the one in the path (`/ns/NAME/_sparring/...`), else the `x-sparring-namespace`
header or `?namespace=`, else `default`.

    GET  /_sparring/health      {"status": "ok"}
    PUT  /_sparring/scenario    replace the scenario (YAML or JSON body); POST does the same
    GET  /_sparring/scenario    the scripted replies and how many uses each has left
    POST /_sparring/reset       forget the scenario and the journal
    GET  /_sparring/journal     the requests and how their responses went, a page at a time
                                (`?since_index=I&limit=N`); `?after=V&wait=S` waits up to S
                                seconds for a change past version V
    PUT  /_sparring/namespace   start the namespace afresh: its fallback, the API keys routed to it
    DELETE /_sparring/namespace drop it, ending its requests under way; answers its last state
    GET  /_sparring/namespaces  every namespace: entries, dropped, requests under way, idle time
    POST /_sparring/scenario/append   add rules after those already scripted
    GET  /_sparring/unused      scripted replies no request took

The plugin drives an external server (`--sparring-url`) through these routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from sparring._version import __version__
from sparring.errors import ScenarioError
from sparring.fake_server.context import CONTROL_PREFIX, STATE, add_route, namespace_of
from sparring.fake_server.journal import Entry, Journal
from sparring.fake_server.offload import off_loop
from sparring.scenario.model import Scenario


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", f"{CONTROL_PREFIX}/health", health)
    add_route(app, "PUT", f"{CONTROL_PREFIX}/scenario", put_scenario)
    add_route(app, "POST", f"{CONTROL_PREFIX}/scenario", put_scenario)
    add_route(app, "GET", f"{CONTROL_PREFIX}/scenario", get_scenario)
    add_route(app, "POST", f"{CONTROL_PREFIX}/reset", reset)
    add_route(app, "GET", f"{CONTROL_PREFIX}/journal", journal)
    add_route(app, "PUT", f"{CONTROL_PREFIX}/namespace", create_namespace)
    add_route(app, "DELETE", f"{CONTROL_PREFIX}/namespace", drop_namespace)
    add_route(app, "POST", f"{CONTROL_PREFIX}/scenario/append", append_rules)
    add_route(app, "GET", f"{CONTROL_PREFIX}/unused", unused)
    add_route(app, "GET", f"{CONTROL_PREFIX}/namespaces", namespaces)
    app.cleanup_ctx.append(_expire_idle_namespaces)


log = logging.getLogger("sparring.server")
PAGE = 1_000  # journal entries per page unless `?limit=` says otherwise


async def health(request: web.Request) -> web.Response:
    # `now`: the server's monotonic clock, so a client can place journal times on its own.
    return web.json_response({"status": "ok", "version": __version__, "now": time.monotonic()})


async def _scenario_of(request: web.Request) -> Scenario:
    """The body as a scenario; a 400 listing every mistake otherwise. Read in a worker thread:
    a scenario of thousands of replies takes seconds to parse and check, and the loop must go
    on serving the clients streaming meanwhile."""
    data = await request.read()
    try:
        return await off_loop(lambda: _parse(data))
    except ScenarioError as exc:
        raise _invalid(_untraced(exc)) from None


def _parse(data: bytes) -> Scenario:
    # The YAML reader and the loader load with the first scenario PUT: `serve` starts without them.
    from sparring.scenario._yaml import decode
    from sparring.scenario.loader import parse_scenario

    return parse_scenario(decode(data, "<control API>"), source="<control API>")


def _untraced(exc: ScenarioError) -> ScenarioError:
    """The error without its tracebacks: aiohttp keeps a 400 in a reference cycle, and the
    parser's frames (a big document's every node, tens of MiB) would wait with it for the
    cyclic collector."""
    link: BaseException | None = exc
    seen = set()
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__context__
    return exc


def _invalid(exc: ScenarioError) -> web.HTTPBadRequest:
    problems = [
        {"message": p.message, "path": p.path, "line": p.line, "suggestion": p.suggestion} for p in exc.problems
    ]
    return web.HTTPBadRequest(
        text=json.dumps({"error": {"message": str(exc), "problems": problems}}), content_type="application/json"
    )


async def put_scenario(request: web.Request) -> web.Response:
    scenario = await _scenario_of(request)
    namespace = namespace_of(request)
    request.app[STATE].store.set_scenario(scenario, namespace)
    return web.json_response({"namespace": namespace, "rules": len(scenario.rules)})


async def append_rules(request: web.Request) -> web.Response:
    scenario = await _scenario_of(request)
    namespace = namespace_of(request)
    try:
        first = request.app[STATE].store.extend(scenario, namespace)
    except ScenarioError as exc:  # the rules so far and these together are too many
        raise _invalid(exc) from None
    return web.json_response({"namespace": namespace, "first": first, "rules": first + len(scenario.rules)})


async def get_scenario(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    return web.json_response({"namespace": namespace, "replies": request.app[STATE].store.summary(namespace)})


async def reset(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    request.app[STATE].store.reset(namespace)
    return web.json_response({"namespace": namespace, "reset": True})


async def journal(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    book = request.app[STATE].store.space(namespace).journal
    after = _number(request, "after", int)
    wait = min(_number(request, "wait", float) or 0.0, _MAX_WAIT)
    since = _number(request, "since_index", int) or 0
    limit = _number(request, "limit", int)
    if limit == 0:
        raise _bad("?limit= must be at least 1, got '0'")
    if after is not None and wait > 0:
        await _next_change(book, after, wait)
    # Copied under the lock (cheap, and in a thread), serialized in a thread: a big journal
    # read holds up neither the loop nor the journal's writers.
    version, dropped, entries, more = await asyncio.to_thread(book.page, since, PAGE if limit is None else limit)
    head = {"namespace": namespace, "version": version, "dropped": dropped}
    head["next_index"] = entries[-1].index + 1 if entries else since
    head["more"] = more
    return await _json_with_entries(head, entries)


async def _json_with_entries(head: dict[str, Any], entries: Sequence[Entry], **rest: Any) -> web.Response:
    """`head`, the entries, then `rest`, serialized off the event loop."""

    def encode() -> str:
        # Entry by entry: one `json.dumps` of everything would hold the GIL, and so the
        # loop, for as long as it takes.
        parts = [json.dumps(head)[:-1], ', "entries": [', ", ".join(json.dumps(e.to_json()) for e in entries), "]"]
        parts.extend(f", {json.dumps(key)}: {json.dumps(value)}" for key, value in rest.items())
        return "".join(parts) + "}"

    return web.Response(text=await asyncio.to_thread(encode), content_type="application/json")


async def _next_change(book: Journal, after: int, wait: float) -> None:
    """Wait until the journal is past version `after`, or `wait` seconds pass. On the loop,
    woken by the journal: no thread to outlive a shutdown, no polling."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    stop = book.watch(lambda: loop.call_soon_threadsafe(changed.set))
    try:
        if book.version == after:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)
    finally:
        stop()


async def create_namespace(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    options = await _json_object(request)
    fallback = options.get("fallback", "miss")
    keys = options.get("api_keys", [])
    if fallback not in ("miss", "default"):
        raise _bad(f"fallback must be 'miss' or 'default', got {fallback!r}")
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise _bad(f"api_keys must be a list of non-empty strings, got {keys!r}")
    old = request.app[STATE].store.create(namespace, fallback=fallback, api_keys=keys)
    if old is not None:
        await old.cancel()
    return web.json_response({"namespace": namespace, "fallback": fallback, "api_keys": keys})


async def drop_namespace(request: web.Request) -> web.Response:
    """Forget the namespace, ending what it still streams; answer what it held at the end."""
    namespace = namespace_of(request)
    space, entries, left = request.app[STATE].store.drop_with_state(namespace)
    cancelled = await space.cancel() if space is not None else 0
    if cancelled and space is not None:  # the journal again, now that the drop has ended them
        entries = space.journal.copies()
    head = {
        "namespace": namespace,
        "dropped": space is not None,
        "cancelled": cancelled,
        "journal_dropped": space.journal.dropped if space is not None else 0,  # past the journal's limit
    }
    return await _json_with_entries(head, entries, unused=left)


async def namespaces(request: web.Request) -> web.Response:
    """Every namespace of the server (whatever namespace the request names)."""
    store = request.app[STATE].store
    return web.json_response({"namespace_idle": store.namespace_idle, "namespaces": store.namespaces()})


async def _expire_idle_namespaces(app: web.Application) -> AsyncIterator[None]:
    """On a server whose store says so (`sparring serve --namespace-idle`), drop idle
    namespaces, checking a few times per idle period (at most once a minute)."""
    store = app[STATE].store
    sweep = None
    if store.namespace_idle > 0:
        sweep = asyncio.get_running_loop().create_task(_sweep(app, min(60.0, max(0.05, store.namespace_idle / 4))))
    yield
    if sweep is not None:
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep


async def _sweep(app: web.Application, every: float) -> None:
    store = app[STATE].store
    while True:
        await asyncio.sleep(every)
        for space in store.expire():
            log.info("sparring: namespace %r dropped after %.0fs idle", space.name, store.namespace_idle)


async def unused(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    return web.json_response({"namespace": namespace, "unused": request.app[STATE].store.unused(namespace)})


_MAX_WAIT = 60.0  # seconds a journal long poll may hold a request


def _number(request: web.Request, name: str, kind: type[float] | type[int]) -> Any:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise _bad(f"?{name}= must be a number, got {text!r}") from None
    if value < 0:
        raise _bad(f"?{name}= must be >= 0, got {text!r}")
    return value


async def _json_object(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _bad(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _bad(f"the body must be a JSON object, got {type(data).__name__}")
    return data


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": {"message": message}}), content_type="application/json")
