"""The aiohttp application: API routes, the control routes, and errors in the API's shape.

Every API request is journaled from the moment it arrives, including the ones rejected
before any scenario is consulted (bad JSON, unknown path, wrong method, oversized body).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from sparring.fake_server import bodies, control, faults, playback
from sparring.fake_server.callbacks import Choice, choose
from sparring.fake_server.context import (
    CONTROL_PREFIX,
    STATE,
    Handler,
    ServerState,
    add_route,
    api_key_of,
    api_path,
    namespace_of,
)
from sparring.fake_server.dialects import DIALECTS as DIALECTS  # the registry's, in its order
from sparring.fake_server.dialects.base import Dialect, Frame, HttpError, InvalidRequest, ParsedRequest, compact
from sparring.fake_server.dialects.openai_common import error_body
from sparring.fake_server.journal import Entry, Journal
from sparring.fake_server.miss import asked_of, explain_miss
from sparring.fake_server.offload import off_loop
from sparring.fake_server.resolve import Resolved, resolve
from sparring.fake_server.security import control_refusal
from sparring.fake_server.store import ENDED, Store
from sparring.scenario import _cost
from sparring.scenario.builders import reply
from sparring.scenario.delivery import Fault, Timing, Wire
from sparring.scenario.match import RegexTimeout
from sparring.scenario.model import Answer, ErrorReply, FakerText
from sparring.scenario.request import Request

log = logging.getLogger("sparring.server")
T = TypeVar("T")

MAX_BODY_BYTES = 32 * 1024 * 1024
ANTHROPIC_MODELS = ("claude-sparring-1", "claude-sparring-1-mini")
KNOWN_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini", "o4-mini")


def make_app(
    store: Store, *, seed: int | None = None, token: str | None = None, names: frozenset[str] = frozenset()
) -> web.Application:
    """`token`: required on control routes (`x-sparring-token`). `names`: Host names besides
    loopback and addresses that the control API answers to (a server bound outside loopback)."""
    app = web.Application(middlewares=[_journal_and_shape_errors], client_max_size=MAX_BODY_BYTES)
    app[STATE] = ServerState(store, random.Random(seed), token=token, names=names)
    for dialect in DIALECTS:
        add_route(app, "POST", dialect.path, _api_handler(dialect))
    add_route(app, "GET", "/v1/models", _list_models)
    add_route(app, "GET", "/v1/models/{model_id}", _get_model)
    control.add_routes(app)
    return app


# The journal entry of the request being handled, set by the middleware for its task.
_CURRENT: contextvars.ContextVar[tuple[Journal, Entry]] = contextvars.ContextVar("sparring_entry")


def _current() -> tuple[Journal, Entry]:
    return _CURRENT.get()


@web.middleware
async def _journal_and_shape_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = api_path(request)
    if path.startswith(CONTROL_PREFIX):
        state = request.app[STATE]
        refusal = control_refusal(request.headers, token=state.token, names=state.names)
        if refusal is not None:
            status, message = refusal
            return web.json_response({"error": {"message": message}}, status=status)
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:  # a route's own 400s go out as raised
            message = (
                f"{exc.reason}: {request.method} {request.path} is not a control route (see the docs: Control API)"
            )
            return web.json_response({"error": {"message": message}}, status=exc.status)
    store = request.app[STATE].store
    namespace = namespace_of(request)
    ended = store.ended(namespace)
    space = store.space(store.default if ended else namespace)  # a late request shows in the running test
    journal = space.journal
    entry = journal.open(request.method, path, request.headers)
    _CURRENT.set((journal, entry))
    if ended:
        return await _ended(request, journal, entry, namespace)
    task = asyncio.current_task()
    if task is not None:
        space.tasks.add(task)
    try:
        response = await handler(request)
    except asyncio.CancelledError:
        journal.end(entry, "client_disconnected", "before the headers were sent")
        raise
    except ConnectionError:  # a reset, closed or broken connection is the client's doing: no traceback
        journal.end(entry, "client_disconnected", "before the headers were sent")
        return web.Response()  # never reaches the client; aiohttp drops it quietly
    except web.HTTPException as exc:
        problem = _http_problem(request, exc)
        journal.end(entry, "rejected", problem.message, status=problem.status)
        dialect = _dialect_for(request)
        return _json(dialect.invalid(problem), request, dialect)
    except Exception as exc:  # a bug in sparring must not take the server down
        log.exception("sparring failed while answering %s %s", request.method, request.path)
        journal.end(entry, "rejected", f"internal error: {exc!r}", status=500)
        body = error_body(f"sparring internal error: {exc!r}", "server_error")
        return web.json_response(body, status=500, headers={"x-should-retry": "false"})
    finally:
        if task is not None:
            space.tasks.discard(task)
    journal.end(entry, "completed", status=response.status)
    return response


def _dialect_for(request: web.Request) -> Dialect:
    """The API a request to an unknown route was meant for, by its headers; OpenAI's by default."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    return next((d for d in DIALECTS if d.claims(headers)), DIALECTS[0])


def _http_problem(request: web.Request, exc: web.HTTPException) -> InvalidRequest:
    where = f"{request.method} {api_path(request)}"
    if exc.status == 405:
        return InvalidRequest(f"Invalid method for URL ({where})", status=405)
    if exc.status == 413:
        return InvalidRequest(f"Request body too large: the limit is {MAX_BODY_BYTES} bytes.", status=413)
    if exc.status == 404:
        return InvalidRequest(f"Invalid URL ({where})", status=404)
    return InvalidRequest(f"{exc.reason} ({where})", status=exc.status)


def _json(error: HttpError, request: web.Request, dialect: Dialect = DIALECTS[0]) -> web.Response:
    """An error response with the headers every real response has (`x-request-id` first)."""
    journal, entry = _current()
    headers = {**dialect.response_headers(request.app[STATE].rng, processing_ms=_elapsed_ms(entry)), **error.headers}
    journal.update(entry, response_headers={k.lower(): v for k, v in headers.items()})
    if isinstance(error.body, str):
        return web.Response(text=error.body, status=error.status, headers=headers)
    return web.json_response(error.body, status=error.status, headers=headers, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _api_handler(dialect: Dialect) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await _answer(request, dialect)

    return handle


async def _answer(request: web.Request, dialect: Dialect) -> web.StreamResponse:
    state = request.app[STATE]
    journal, entry = _current()
    raw = await request.read()
    try:
        body = bodies.parse(raw)
    except bodies.TooDeep as exc:  # refused before anything walks it: no recursion anywhere
        journal.update(entry, body=bodies.summary(raw, reason=str(exc)))
        return _reject(request, dialect, InvalidRequest(str(exc)))
    except ValueError:
        return _reject(request, dialect, InvalidRequest(dialect.bad_json))
    journal.update(entry, body=bodies.journaled(raw, body))
    try:
        parsed = dialect.parse(body)
    except InvalidRequest as problem:
        return _reject(request, dialect, problem)
    retry_count = _int_header(request, "x-stainless-retry-count")
    journal.update(entry, stream=parsed.stream, retry_count=retry_count)
    info = Request.of(
        endpoint=dialect.name,
        path=api_path(request),
        model=parsed.model,
        messages=parsed.messages,
        body=body,
        headers=request.headers,
        stream=parsed.stream,
        has_tools=parsed.has_tools,
        retry_count=retry_count,
        index=entry.index,
    )
    journal.update(entry, asked=info.describe(request.method))
    namespace = namespace_of(request)
    choice = await choose(state.store, namespace, info)
    chosen: Answer | ErrorReply
    if choice.failure is not None:
        return _callback_failed(request, journal, entry, dialect, choice)
    if choice.broken is not None:
        return _scenario_failed(request, journal, entry, dialect, choice.broken)
    if choice.reply is not None and choice.pick is not None:
        chosen = choice.reply
        journal.update(entry, rule=choice.pick.rule, reply=choice.pick.reply, answered_by=choice.label)
    elif choice.scenario.fallback == "default":
        chosen = default_answer(info.last_user_text)
        journal.update(entry, answered_by="generated default answer")
    else:
        return _miss(request, journal, entry, dialect, info, state.store, namespace, choice)
    api_key = api_key_of(request)
    if isinstance(chosen, ErrorReply):
        await playback.pause(chosen.timing.headers_delay)
        error = dialect.error(chosen, parsed, api_key)
        return _json(error, request, dialect)
    return await _play(request, dialect, parsed, chosen, journal, entry)


async def _play(
    request: web.Request, dialect: Dialect, parsed: ParsedRequest, answer: Answer, journal: Journal, entry: Entry
) -> web.StreamResponse:
    rng = request.app[STATE].rng
    big = _cost.big(answer.content.messages, answer.wire, parsed.n)

    def render() -> tuple[Resolved, list[Frame]]:
        resolved = resolve(
            answer.content,
            n=parsed.n,
            model=parsed.model,
            messages=parsed.messages,
            rng=rng,
            prompt_tokens=parsed.prompt_tokens,
            call_id=(dialect.tool_call_prefix, dialect.tool_call_length),
        )
        return resolved, dialect.stream(resolved, parsed, rng)

    resolved, frames = await _work(big, render)
    await playback.pause(answer.timing.headers_delay)
    fault = answer.fault
    if fault is not None and fault.before_headers:
        return await _fault_before_headers(request, fault, journal, entry)
    headers = dialect.response_headers(rng, processing_ms=_elapsed_ms(entry))
    if answer.rate_limits is not None:
        headers.update(dialect.rate_limit_headers(answer.rate_limits))
    headers.update(answer.headers)
    if parsed.stream:

        def errors(sent: list[Frame]) -> list[Frame]:
            return dialect.error_events(fault, parsed, rng, sent) if fault is not None else []

        return await playback.stream(
            request,
            journal,
            entry,
            frames,
            timing=answer.timing,
            wire=answer.wire,
            fault=fault,
            error_frames=errors,
            headers=headers,
            big=big,
        )
    # A whole answer takes as long as the stream would have, and is one JSON body.
    await playback.pause(sum(playback.delays(frames, answer.timing)))
    body = await _work(big, lambda: compact(dialect.complete(resolved, parsed, rng)))
    if fault is not None and fault.kind == "malformed_chunk":
        body, fault = body[: len(body) // 2], None
        journal.update(entry, fault="malformed_chunk: the JSON body cut in half")
    elif fault is not None and fault.kind in ("error_event", "no_done"):
        journal.update(entry, detail=f"{fault.kind} applies to streams only; the whole answer was sent")
        fault = None
    elif fault is not None and fault.after_byte is None:
        fault = dataclasses.replace(fault, after_chunk=None, after_byte=len(body) // 2)
    return await playback.stream(
        request,
        journal,
        entry,
        [Frame(body, content=any(c.text or c.tool_calls or c.refusal for c in resolved.choices))],
        timing=Timing(),
        wire=Wire(write_size=answer.wire.write_size),
        fault=fault,
        error_frames=lambda sent: [],
        headers=headers,
        content_type="application/json",
        content_length=True,
    )


async def _work(big: bool, work: Callable[[], T]) -> T:
    """Rendering a big reply takes up to a second or two (sparring.scenario._cost): in a worker
    thread, so the loop goes on serving other clients meanwhile."""
    return await off_loop(work) if big else work()


async def _fault_before_headers(request: web.Request, fault: Fault, journal: Journal, entry: Entry) -> web.Response:
    journal.update(entry, fault=fault.describe())
    try:
        await faults.before_headers(request, fault)
    except asyncio.CancelledError:
        state = request.app[STATE]
        if state.closing or state.store.closing(entry.namespace):
            journal.end(entry, "server_closed", f"{fault.describe()}: the server shut down")
        else:
            journal.end(entry, "stalled", f"{fault.describe()}: the client gave up")
        raise
    journal.end(entry, "fault", fault.describe())
    return web.Response()  # never sent: the connection is gone


def default_answer(prompt: str) -> Answer:
    """A plausible answer, the same for the same prompt, streamed word by word."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
    return reply(
        faker=FakerText(seed=seed, sentences=3), timing=Timing(first_chunk=0.12, gap=0.02, jitter=0.01, seed=seed)
    )


def _reject(request: web.Request, dialect: Dialect, problem: InvalidRequest) -> web.Response:
    journal, entry = _current()
    journal.end(entry, "rejected", problem.message, status=problem.status)
    return _json(dialect.invalid(problem), request, dialect)


def _miss(
    request: web.Request,
    journal: Journal,
    entry: Entry,
    dialect: Dialect,
    info: Request,
    store: Store,
    namespace: str,
    choice: Choice,
) -> web.Response:
    message = explain_miss(
        request.method, info, store.summary(namespace), namespace, scenario=choice.scenario, declined=choice.declined
    )
    journal.update(entry, answered_by="nothing scripted: sparring's 404")
    journal.end(entry, "unmatched", message, status=404)
    return _json(dialect.unmatched(message), request, dialect)


async def _ended(request: web.Request, journal: Journal, entry: Entry, namespace: str) -> web.Response:
    path = api_path(request)
    with contextlib.suppress(ValueError):  # the body, for the report: what was asked, and where
        raw = await request.read()
        journal.update(entry, body=bodies.journaled(raw, bodies.parse(raw)))
    journal.update(entry, asked=asked_of(entry, request.headers))
    dialect = next((d for d in DIALECTS if d.path == path), None) or _dialect_for(request)
    message = (
        f"sparring: {request.method} {path} was sent to namespace {namespace!r}, which has ended: "
        "the test it belonged to is over. A client made in one test and used in another keeps "
        "that test's URL; make clients in the test that uses them, from fake_llm.base_url."
    )
    journal.update(entry, answered_by=f"{ENDED}: {namespace}")
    journal.end(entry, "unmatched", message, status=404)
    return _json(dialect.unmatched(message), request, dialect)


def _callback_failed(
    request: web.Request, journal: Journal, entry: Entry, dialect: Dialect, choice: Choice
) -> web.Response:
    """A 500 in the API's shape that no SDK retries; the journal and the test hear of it too."""
    failure = choice.failure
    assert failure is not None
    log.error("%s", failure.message(), exc_info=failure.traceback)
    journal.update(entry, rule=failure.rule, reply=failure.reply, answered_by=choice.label)
    journal.end(entry, "callback_error", failure.message(), status=500)
    return _json(dialect.failed(failure.message()), request, dialect)


def _scenario_failed(
    request: web.Request, journal: Journal, entry: Entry, dialect: Dialect, broken: RegexTimeout
) -> web.Response:
    """A rule the scenario holds cannot be decided for this request (its regular expression ran
    out of time): the request gets a 500 naming the rule, the journal a `scenario_error`, and the
    server goes on serving."""
    message = broken.message()
    log.error("%s", message)
    journal.update(entry, answered_by=f"nothing: rule {broken.rule + 1 if broken.rule is not None else '?'} failed")
    journal.end(entry, "scenario_error", message, status=500)
    return _json(dialect.failed(message, code="sparring_scenario_error"), request, dialect)


def _int_header(request: web.Request, name: str) -> int | None:
    try:
        return int(request.headers[name])
    except (KeyError, ValueError):
        return None


def _elapsed_ms(entry: Entry) -> int:
    return max(1, int((time.monotonic() - entry.arrived) * 1000))


async def _list_models(request: web.Request) -> web.Response:
    if _dialect_for(request).name == "messages":  # Anthropic's list: typed models, paging fields
        data = [_anthropic_model(m) for m in ANTHROPIC_MODELS]
        page = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        return web.json_response(page, dumps=_dumps)
    data = [_model_object(m) for m in KNOWN_MODELS]
    return web.json_response({"object": "list", "data": data}, dumps=_dumps)


async def _get_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    if _dialect_for(request).name == "messages":
        return web.json_response(_anthropic_model(model_id), dumps=_dumps)
    return web.json_response(_model_object(model_id), dumps=_dumps)


def _anthropic_model(model_id: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": "2025-05-14T00:00:00Z"}


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1715367049, "owned_by": "system"}
