"""The aiohttp application: the path an API request takes, the control routes, and errors
in the API's shape.

request -> exchange -> rule -> dialect -> playback -> journal:
- the middleware makes the request's `Exchange` (`exchange.py`) on arrival: its namespace,
  API key, generator and journal entry, so every request is journaled, even one rejected
  before any scenario is consulted (bad JSON, unknown path, wrong method, oversized body);
- `_answer` has the route's dialect parse the body, and a rule answer it (`callbacks.choose`);
- `_play` resolves the reply's content, and hands the dialect's events (a stream) or its
  response object (a whole answer) to `playback.py`, which sends them on schedule with the
  fault (`faults.py`); a recorded reply is replayed through the same playback (`replay.py`);
- the exchange records each step in the journal, and its ending once (`Exchange.finish`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import random
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from sparring.fake_server import bodies, control, faults, memory, playback, replay
from sparring.fake_server.callbacks import Choice, choose
from sparring.fake_server.context import (
    CONTROL_PREFIX,
    NAMESPACE_PREFIX,
    STATE,
    Handler,
    ServerState,
    add_route,
    api_path,
)
from sparring.fake_server.dialects import BY_PATH
from sparring.fake_server.dialects import DIALECTS as DIALECTS  # the registry's, in its order
from sparring.fake_server.dialects.base import Dialect, Frame, HttpError, InvalidRequest, ParsedRequest, compact
from sparring.fake_server.dialects.openai_common import error_body
from sparring.fake_server.exchange import Exchange
from sparring.fake_server.miss import asked_of, explain_miss
from sparring.fake_server.offload import off_loop
from sparring.fake_server.resolve import Resolved
from sparring.fake_server.security import control_refusal
from sparring.fake_server.speed import scaled
from sparring.fake_server.store import ENDED, Store
from sparring.fake_server.upstream import Passthrough, forward
from sparring.fake_server.upstream import close as close_passthrough
from sparring.scenario import _cost
from sparring.scenario.builders import reply
from sparring.scenario.delivery import Fault, Timing, Wire
from sparring.scenario.match import RegexTimeout
from sparring.scenario.model import Answer, ErrorReply, FakerText, Recorded
from sparring.scenario.request import Request

log = logging.getLogger("sparring.server")
T = TypeVar("T")

MAX_BODY_BYTES = 32 * 1024 * 1024
# Each route pattern, at the root and under the namespace prefix, and its dialect.
_BY_PATTERN = {
    route: d for d in DIALECTS if "{" in d.path for route in (d.path, f"{NAMESPACE_PREFIX}/{{namespace}}{d.path}")
}
ANTHROPIC_MODELS = ("claude-sparring-1", "claude-sparring-1-mini")
KNOWN_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini", "o4-mini")


def make_app(
    store: Store,
    *,
    seed: int | None = None,
    token: str | None = None,
    names: frozenset[str] = frozenset(),
    passthrough: Passthrough | None = None,
    speed: float = 1.0,
) -> web.Application:
    """`token`: required on control routes (`x-sparring-token`). `names`: Host names besides
    loopback and addresses that the control API answers to (a server bound outside loopback).
    `passthrough`: where every namespace without one of its own sends requests upstream.
    `speed`: divides every scripted wait (`speed.py`)."""
    app = web.Application(middlewares=[_journal_and_shape_errors], client_max_size=MAX_BODY_BYTES)
    state = ServerState(store, random.Random(seed), token=token, names=names, passthrough=passthrough, speed=speed)
    app[STATE] = state
    app.on_cleanup.append(lambda app: close_passthrough(app[STATE].passthrough))
    for dialect in DIALECTS:
        add_route(app, "POST", dialect.path, _routed_by_the_middleware)
    add_route(app, "GET", "/v1/models", _list_models)
    add_route(app, "GET", "/v1/models/{model_id}", _get_model)
    control.add_routes(app)
    app.cleanup_ctx.append(memory.trimming)  # freed memory back to the system after a burst
    return app


@web.middleware
async def _journal_and_shape_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if api_path(request).startswith(CONTROL_PREFIX):
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
        finally:
            memory.served()  # a journal read or a scenario leaves garbage too
    exchange = _arrive(request, state)
    if exchange.ended_namespace:
        return await _ended(exchange)
    task = asyncio.current_task()
    if task is not None:
        exchange.space.tasks.add(task)
    try:
        if exchange.dialect is not None:
            response = await _answer(exchange, exchange.dialect)
        else:  # the model list, or a route that is none: aiohttp raises its 404 or 405
            response = await handler(request)
    except asyncio.CancelledError as exc:
        exchange.cut_short(exc, "before the headers were sent")
        raise
    except ConnectionError as exc:  # a reset, closed or broken connection is the client's doing: no traceback
        exchange.cut_short(exc, "before the headers were sent")
        return web.Response()  # never reaches the client; aiohttp drops it quietly
    except web.HTTPException as exc:
        problem = _http_problem(request, exc)
        exchange.finish("rejected", problem.message, status=problem.status)
        dialect = exchange.dialect or _dialect_for(request)
        return _json(exchange, dialect.invalid(problem, exchange.rng), dialect)
    except Exception as exc:  # a bug in sparring must not take the server down
        log.exception("sparring failed while answering %s %s", request.method, request.path)
        exchange.finish("rejected", f"internal error: {exc!r}", status=500)
        body = error_body(f"sparring internal error: {exc!r}", "server_error")
        return web.json_response(body, status=500, headers={"x-should-retry": "false"})
    finally:
        if task is not None:
            exchange.space.tasks.discard(task)
    exchange.finish("completed", status=response.status)
    return response


def _arrive(request: web.Request, state: ServerState) -> Exchange:
    """The request's exchange, with the API its route is: a fixed path is one dict lookup; a
    route pattern's path, which aiohttp's router matched, is found by that pattern, with what
    its `{name}` parts matched (decoded: an encoded `/` stays in its part)."""
    if request.match_info.http_exception is not None:  # no route, or not this method: no API's
        return Exchange.arrive(request, state, None)
    dialect = BY_PATH.get(api_path(request))
    if dialect is not None:  # the fast path: a fixed route
        return Exchange.arrive(request, state, dialect)
    route = request.match_info.route.resource
    dialect = _BY_PATTERN.get(route.canonical) if route is not None else None
    if dialect is None:  # the model list, a control route
        return Exchange.arrive(request, state, None)
    params = {name: value for name, value in request.match_info.items() if name != "namespace"}
    return Exchange.arrive(request, state, dialect, params)


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


def _json(exchange: Exchange, error: HttpError, dialect: Dialect) -> web.Response:
    """An error response with the headers every real response has (`x-request-id` first)."""
    headers = {**dialect.response_headers(exchange.rng, processing_ms=exchange.elapsed_ms()), **error.headers}
    exchange.headers_sent(headers)
    if isinstance(error.body, str):
        return web.Response(text=error.body, status=error.status, headers=headers)
    return web.json_response(error.body, status=error.status, headers=headers, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def _routed_by_the_middleware(request: web.Request) -> web.StreamResponse:
    raise AssertionError("API routes are answered by the middleware, with the request's exchange")


async def _answer(exchange: Exchange, dialect: Dialect) -> web.StreamResponse:
    """Parse the body as the route's API does, find what answers it, and send that."""
    request = exchange.request
    raw = await request.read()
    passthrough = exchange.space.passthrough or exchange.state.passthrough
    if passthrough is not None and passthrough.forward_all:
        return await forward(exchange, passthrough, raw)
    try:
        body = bodies.parse(raw)
    except bodies.TooDeep as exc:  # refused before anything walks it: no recursion anywhere
        exchange.body(bodies.summary(raw, reason=str(exc)))
        return _reject(exchange, dialect, InvalidRequest(str(exc)))
    except ValueError:
        return _reject(exchange, dialect, InvalidRequest(dialect.bad_json))
    exchange.body(bodies.journaled(raw, body))
    route = exchange.route()
    refusal = dialect.refuse(route, request.headers)
    if refusal is not None:
        return _reject(exchange, dialect, refusal)
    try:
        parsed = dialect.parse_at(body, route)
    except InvalidRequest as problem:
        return _reject(exchange, dialect, problem)
    exchange.parsed(stream=parsed.stream, retry_count=_retry_count(request))
    info = dialect.request_of(
        parsed,
        path=exchange.path,
        headers=request.headers,
        retry_count=exchange.retry_count,
        index=exchange.entry.index,
    )
    exchange.asked(info.describe(request.method))
    choice = await choose(exchange.state.store, exchange.namespace, info)
    chosen: Answer | ErrorReply | Recorded
    if choice.failure is not None:
        return _callback_failed(exchange, dialect, choice)
    if choice.broken is not None:
        return _scenario_failed(exchange, dialect, choice.broken)
    if choice.reply is not None and choice.pick is not None:
        chosen = choice.reply
        exchange.answered(choice.label, choice.pick.rule, choice.pick.reply)
    elif choice.scenario.fallback == "default":
        chosen = default_answer(info.last_user_text)
        exchange.answered("generated default answer")
    elif passthrough is not None:  # what nothing scripted answers, the upstream does
        return await forward(exchange, passthrough, raw)
    else:
        return _miss(exchange, dialect, info, choice)
    factor = exchange.state.speed * choice.scenario.speed
    if factor != 1:  # the one place speed acts: the reply's waits divided, once
        chosen = scaled(chosen, factor)
        exchange.note(f"speed {factor:g}: scripted waits and retry advice divided by it")
    if isinstance(chosen, ErrorReply):
        await playback.pause(chosen.timing.headers_delay)
        return _json(exchange, dialect.error(chosen, parsed, exchange.api_key, exchange.rng), dialect)
    if isinstance(chosen, Recorded):
        return await _replay(exchange, dialect, parsed, chosen)
    return await _play(exchange, dialect, parsed, chosen)


async def _replay(
    exchange: Exchange, dialect: Dialect, parsed: ParsedRequest, recorded: Recorded
) -> web.StreamResponse:
    """A recording, as its upstream sent it (`replay.py`); to a request it cannot answer (a
    stream asked of a whole recording, or the reverse), sparring's 500, which no SDK retries."""
    problem = replay.mismatch(recorded, dialect.name, parsed.stream)
    if problem is not None:
        exchange.finish("scenario_error", problem, status=500)
        return _json(exchange, dialect.failed(problem, code="sparring_recording_mismatch", rng=exchange.rng), dialect)
    await replay.until_headers(exchange, recorded)
    if recorded.fault is not None and recorded.fault.before_headers:
        return await _fault_before_headers(exchange, recorded.fault)
    return await replay.play(exchange, dialect, parsed, recorded)


async def _play(exchange: Exchange, dialect: Dialect, parsed: ParsedRequest, answer: Answer) -> web.StreamResponse:
    rng = exchange.rng
    big = _cost.big(answer.content.messages, answer.wire, parsed.n)

    def resolved() -> Resolved:
        return dialect.resolve(answer.content, parsed, rng)

    content = await _work(big, resolved)
    await playback.pause(answer.timing.headers_delay)
    fault = answer.fault
    if fault is not None and fault.before_headers:
        return await _fault_before_headers(exchange, fault)
    headers = dialect.response_headers(rng, processing_ms=exchange.elapsed_ms())
    if answer.rate_limits is not None:
        headers.update(dialect.rate_limit_headers(answer.rate_limits))
    headers.update(answer.headers)
    if parsed.stream:
        timing, wire = _in_format(exchange, dialect, answer.timing, answer.wire)

        def errors(sent: list[Frame]) -> list[Frame]:
            return dialect.error_events(fault, parsed, rng, sent) if fault is not None else []

        return await playback.stream(
            exchange,
            await _work(big, lambda: dialect.stream(content, parsed, rng)),
            timing=timing,
            wire=wire,
            fault=fault,
            error_frames=errors,
            headers=headers,
            big=big,
            content_type=dialect.stream_content_type,
        )
    # A whole answer takes as long as its stream would have, and is one JSON body.
    paced = await _work(big, lambda: dialect.paced_events(content, parsed))
    await playback.pause(playback.whole_wait(answer.timing, paced))
    body = await _work(big, lambda: compact(dialect.complete(content, parsed, rng)))
    return await playback.whole(
        exchange,
        body,
        content=any(c.text or c.tool_calls or c.refusal for c in content.choices),
        fault=fault,
        write_size=answer.wire.write_size,
        headers=headers,
    )


async def _work(big: bool, work: Callable[[], T]) -> T:
    """Rendering a big reply takes up to a second or two (sparring.scenario._cost): in a worker
    thread, so the loop goes on serving other clients meanwhile."""
    return await off_loop(work) if big else work()


async def _fault_before_headers(exchange: Exchange, fault: Fault) -> web.Response:
    exchange.fault(fault.describe())
    try:
        await faults.kind_of(fault).instead(exchange.request, fault)
    except asyncio.CancelledError as exc:
        outcome = exchange.ending(exc, stalled=True)
        gave_up = "the server shut down" if outcome == "server_closed" else "the client gave up"
        exchange.finish(outcome, f"{fault.describe()}: {gave_up}")
        raise
    exchange.finish("fault", fault.describe())
    return web.Response()  # never sent: the connection is gone


def default_answer(prompt: str) -> Answer:
    """A plausible answer, the same for the same prompt, streamed word by word."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
    return reply(
        faker=FakerText(seed=seed, sentences=3), timing=Timing(first_chunk=0.12, gap=0.02, jitter=0.01, seed=seed)
    )


def _reject(exchange: Exchange, dialect: Dialect, problem: InvalidRequest) -> web.Response:
    exchange.finish("rejected", problem.message, status=problem.status)
    return _json(exchange, dialect.invalid(problem, exchange.rng), dialect)


def _miss(exchange: Exchange, dialect: Dialect, info: Request, choice: Choice) -> web.Response:
    store, namespace = exchange.state.store, exchange.namespace
    message = explain_miss(
        exchange.request.method,
        info,
        store.summary(namespace),
        namespace,
        scenario=choice.scenario,
        declined=choice.declined,
    )
    exchange.answered("nothing scripted: sparring's 404")
    exchange.finish("unmatched", message, status=404)
    return _json(exchange, dialect.unmatched(message, exchange.rng), dialect)


async def _ended(exchange: Exchange) -> web.Response:
    request, path, namespace = exchange.request, exchange.path, exchange.namespace
    with contextlib.suppress(ValueError):  # the body, for the report: what was asked, and where
        raw = await request.read()
        exchange.body(bodies.journaled(raw, bodies.parse(raw)))
    exchange.asked(asked_of(exchange.entry, request.headers))
    dialect = exchange.dialect or _dialect_for(request)
    message = (
        f"sparring: {request.method} {path} was sent to namespace {namespace!r}, which has ended: "
        "the test it belonged to is over. A client made in one test and used in another keeps "
        "that test's URL; make clients in the test that uses them, from fake_llm.base_url."
    )
    exchange.answered(f"{ENDED}: {namespace}")
    exchange.finish("unmatched", message, status=404)
    return _json(exchange, dialect.unmatched(message, exchange.rng), dialect)


def _callback_failed(exchange: Exchange, dialect: Dialect, choice: Choice) -> web.Response:
    """A 500 in the API's shape that no SDK retries; the journal and the test hear of it too."""
    failure = choice.failure
    assert failure is not None
    log.error("%s", failure.message(), exc_info=failure.traceback)
    exchange.answered(choice.label, failure.rule, failure.reply)
    exchange.finish("callback_error", failure.message(), status=500)
    return _json(exchange, dialect.failed(failure.message(), rng=exchange.rng), dialect)


def _scenario_failed(exchange: Exchange, dialect: Dialect, broken: RegexTimeout) -> web.Response:
    """A rule the scenario holds cannot be decided for this request (its regular expression ran
    out of time): the request gets a 500 naming the rule, the journal a `scenario_error`, and the
    server goes on serving."""
    message = broken.message()
    log.error("%s", message)
    exchange.answered(f"nothing: rule {broken.rule + 1 if broken.rule is not None else '?'} failed")
    exchange.finish("scenario_error", message, status=500)
    return _json(exchange, dialect.failed(message, code="sparring_scenario_error", rng=exchange.rng), dialect)


def _in_format(exchange: Exchange, dialect: Dialect, timing: Timing, wire: Wire) -> tuple[Timing, Wire]:
    """The scripted timing and wire shaping as the dialect's stream format can carry them: no
    keep-alives where it has no line a client skips (NDJSON), no line endings in binary frames
    (each noted in the journal), and the API's own line ending where the scenario asks for
    none (Gemini's CRLF)."""
    if timing.keepalive is not None and not dialect.keepalive:
        timing = dataclasses.replace(timing, keepalive=None)
        exchange.note(f"timing.keepalive: {dialect.name} streams have no keep-alive line; waits were silent")
    if wire.line_ending != "lf" and not dialect.text_lines:
        wire = dataclasses.replace(wire, line_ending="lf")
        exchange.note(f"wire.line_ending: {dialect.name} streams are binary frames; sent as they are")
    elif wire.line_ending == "lf" and dialect.line_ending != "lf":
        wire = dataclasses.replace(wire, line_ending=dialect.line_ending)
    return timing, wire


def _retry_count(request: web.Request) -> int | None:
    """The retry count the client sent: the openai and anthropic SDKs' `x-stainless-retry-count`,
    or botocore's `amz-sdk-request: attempt=N; max=M` (N - 1)."""
    count = _int_header(request, "x-stainless-retry-count")
    if count is None:
        for part in request.headers.get("amz-sdk-request", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == "attempt" and value.isdigit() and int(value) > 0:
                return int(value) - 1
    return count


def _int_header(request: web.Request, name: str) -> int | None:
    try:
        return int(request.headers[name])
    except (KeyError, ValueError):
        return None


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
