"""The control API under `/_sparring/`: script the server and read its journal over HTTP.

For clients in other languages, other processes, and a shared server. Every route acts on
one namespace: the one in the path (`/ns/NAME/_sparring/...`), else the `x-sparring-namespace`
header or `?namespace=`, else `default`.

    GET  /_sparring/health      {"status": "ok"}
    PUT  /_sparring/scenario    replace the scenario (YAML or JSON body); POST does the same
    GET  /_sparring/scenario    the scripted replies and how many uses each has left
    POST /_sparring/reset       forget the scenario and the journal
    GET  /_sparring/journal     every request and how its response went
"""

from __future__ import annotations

from aiohttp import web

from sparring import __version__
from sparring.errors import ScenarioError
from sparring.fake_server.context import CONTROL_PREFIX, STATE, add_route, namespace_of
from sparring.scenario.loader import parse_scenario


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", f"{CONTROL_PREFIX}/health", health)
    add_route(app, "PUT", f"{CONTROL_PREFIX}/scenario", put_scenario)
    add_route(app, "POST", f"{CONTROL_PREFIX}/scenario", put_scenario)
    add_route(app, "GET", f"{CONTROL_PREFIX}/scenario", get_scenario)
    add_route(app, "POST", f"{CONTROL_PREFIX}/reset", reset)
    add_route(app, "GET", f"{CONTROL_PREFIX}/journal", journal)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def put_scenario(request: web.Request) -> web.Response:
    text = await request.text()
    try:
        scenario = parse_scenario(text, source="<control API>")
    except ScenarioError as exc:
        problems = [
            {"message": p.message, "path": p.path, "line": p.line, "suggestion": p.suggestion} for p in exc.problems
        ]
        return web.json_response({"error": {"message": str(exc), "problems": problems}}, status=400)
    namespace = namespace_of(request)
    request.app[STATE].store.set_scenario(scenario, namespace)
    return web.json_response({"namespace": namespace, "rules": len(scenario.rules)})


async def get_scenario(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    return web.json_response({"namespace": namespace, "replies": request.app[STATE].store.summary(namespace)})


async def reset(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    request.app[STATE].store.reset(namespace)
    return web.json_response({"namespace": namespace, "reset": True})


async def journal(request: web.Request) -> web.Response:
    namespace = namespace_of(request)
    entries = request.app[STATE].store.space(namespace).journal.entries()
    return web.json_response({"namespace": namespace, "entries": [e.to_json() for e in entries]})
