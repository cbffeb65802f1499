"""What the Gemini API's routes share: its errors (`google.rpc.Status`), its refusals, and its
requests read into the conversation in Chat Completions shape. Each fact is written down with
its source in docs/gemini.md.

- Errors are `{"error": {"code": 429, "message": ..., "status": "RESOURCE_EXHAUSTED",
  "details": [...]}}`: the HTTP status, Google's canonical status name, and typed details; a
  rate limit says how long to wait only in a `google.rpc.RetryInfo` detail (`retryDelay`, a
  protobuf duration such as `"20s"`), never in a `Retry-After` header.
- The key comes in `x-goog-api-key` (what google-genai sends), or as `?key=` in the URL.
- A request is `contents` (turns of `role` `user`/`model`, each a list of `parts`: `text`,
  `functionCall {name, args, id?}`, `functionResponse {name, response, id?}`), with
  `systemInstruction`, `tools[].functionDeclarations` and `generationConfig` beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import HttpError, InvalidRequest, Route
from sparring.scenario.model import ErrorReply

VERSIONS = ("v1", "v1beta", "v1alpha")  # what generativelanguage.googleapis.com serves
# google.rpc.Code names by HTTP status (google/rpc/code.proto gives each code's status).
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more information on this "
    "error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: "
    "https://ai.dev/rate-limit. "
)
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or "
    "other form of API consumer identity to call this API."
)
# preset: (status, message); `{model}` and `{version}` come from the request.
PRESETS: dict[str, tuple[int, str]] = {
    "rate_limit": (429, "Resource has been exhausted (e.g. check quota)."),
    "insufficient_quota": (429, QUOTA),
    "server_error": (
        500,
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    ),
    "bad_gateway": (502, "Bad Gateway"),
    "unavailable": (503, "The service is currently unavailable."),
    "overloaded": (503, "The model is overloaded. Please try again later."),
    "timeout": (504, "Deadline expired before operation could complete."),
    "bad_request": (400, "Request contains an invalid argument."),
    "context_length_exceeded": (400, "The input token count exceeds the maximum number of tokens allowed (1048576)."),
    "unauthorized": (
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    ),
    "forbidden": (403, "The caller does not have permission"),
    "not_found": (
        404,
        "models/{model} is not found for API version {version}, or is not supported for generateContent. Call "
        "ListModels to see the list of available models and their supported methods.",
    ),
    "conflict": (409, "The operation was aborted."),
}
_PRESET_BY_STATUS = {429: "rate_limit", 500: "server_error", 502: "bad_gateway", 503: "unavailable", 504: "timeout"}
_TYPE = "type.googleapis.com/google.rpc."


def status_body(code: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `google.rpc.Status` as the REST API wraps it."""
    error: dict[str, Any] = {"code": code, "message": message, "status": STATUS_NAMES.get(code, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


def duration(seconds: float) -> str:
    """A protobuf `Duration` in JSON: decimal seconds and an `s` (`20s`, `1.5s`)."""
    return f"{common.seconds_text(seconds)}s"


def refusal(route: Route, headers: Mapping[str, str]) -> InvalidRequest | None:
    """An API version Google does not serve is no route (404); no key is Google's 403."""
    if route.params.get("version") not in VERSIONS:
        where = f"/{route.params.get('version')}/models/{route.params.get('model')}"
        return InvalidRequest(f"The requested URL {where} was not found on this server.", status=404)
    if not headers.get("x-goog-api-key", "").strip() and not route.query.get("key"):
        return InvalidRequest(NO_KEY, status=403)
    return None


def scripted_error(reply: ErrorReply, model: str, version: str) -> HttpError:
    """A scripted error in Google's shape: the preset's status and message, with a `RetryInfo`
    detail on a 429 (`retry_after`, 1 s by default); `body` replaces the whole body."""
    preset = reply.preset or _PRESET_BY_STATUS.get(reply.status or 0)
    status, message = (
        PRESETS[preset] if preset else (reply.status or 500, f"Error {reply.status}, scripted by sparring.")
    )
    status = reply.status or status
    headers = dict(reply.headers)
    if reply.rate_limits is not None:  # Google sends none: OpenAI's names, as scripted
        headers = {**common.rate_limit_headers(reply.rate_limits), **headers}
    if reply.body is not None:
        return HttpError(status, dict(reply.body) if not isinstance(reply.body, str) else reply.body, headers)
    details: list[dict[str, Any]] = []
    if status == 429:
        details.append({"@type": _TYPE + "Help", "links": [_HELP]})
        wait = reply.retry_after if reply.retry_after is not None else 1
        if reply.retry_after_ms is not None:
            wait = reply.retry_after_ms / 1000
        if isinstance(wait, (int, float)):
            details.append({"@type": _TYPE + "RetryInfo", "retryDelay": duration(wait)})
    if reply.code is not None:
        details.insert(0, {"@type": _TYPE + "ErrorInfo", "reason": reply.code, "domain": "googleapis.com"})
    text = reply.message or message.format(model=model, version=version)
    body = status_body(status, text, details)
    if reply.type is not None:  # the status name, when a scenario gives its own
        body["error"]["status"] = reply.type
    return HttpError(status, body, headers)


_HELP = {
    "description": "Learn more about Gemini API quotas",
    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
}


def in_band(preset: str, message: str | None, model: str) -> dict[str, Any]:
    """The error a stream under way ends with: the same `google.rpc.Status` as one event."""
    status, text = PRESETS[preset]
    return status_body(status, message or text.format(model=model, version="v1beta"))


def conversation(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's turns in Chat Completions shape, for matching and token counts: the
    `systemInstruction` first, `model` turns as `assistant`, a `functionCall` part as a tool
    call (its `args` as JSON text; without an `id`, one of its place), and each
    `functionResponse` part as a `tool` message answering the call with its `id`, else the
    latest call of its `name` (Gemini's own pairing)."""
    chat: list[dict[str, Any]] = []
    system = body.get("systemInstruction")
    if system is not None:
        chat.append({"role": "system", "content": _text(system)})
    latest: dict[str, str] = {}  # function name -> the id of its latest call
    for i, turn in enumerate(body.get("contents") or []):
        role = "assistant" if turn.get("role") == "model" else (turn.get("role") or "user")
        parts = [p for p in turn.get("parts") or [] if isinstance(p, dict)]
        calls = []
        for j, part in enumerate(parts):
            call = part.get("functionCall")
            if isinstance(call, dict):
                given = call.get("id")
                call_id = given if isinstance(given, str) and given else f"call_{i}_{j}"
                name = str(call.get("name") or "")
                latest[name] = call_id
                arguments = json.dumps(call.get("args") or {}, separators=(",", ":"), ensure_ascii=False)
                calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
        for part in parts:
            result = part.get("functionResponse")
            if isinstance(result, dict):
                given = result.get("id")
                name = str(result.get("name") or "")
                answers = given if isinstance(given, str) and given else latest.get(name, f"call_{name}")
                response = json.dumps(result.get("response"), separators=(",", ":"), ensure_ascii=False)
                chat.append({"role": "tool", "tool_call_id": answers, "content": response})
        text = "".join(str(p["text"]) for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))
        if calls:
            chat.append({"role": "assistant", "content": text, "tool_calls": calls})
        elif text or not any("functionResponse" in p for p in parts):
            chat.append({"role": role, "content": text})
    return chat


def _text(content: object) -> str:
    """The text of a `Content` (or of a bare string, which the REST API also takes)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        parts = content.get("parts") or []
        return "".join(str(p["text"]) for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def tool_names(tools: object) -> tuple[str, ...]:
    """The names of the functions declared in `tools[].functionDeclarations`."""
    names: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for declaration in declarations if isinstance(declarations, list) else []:
            if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                names.append(declaration["name"])
    return tuple(names)


def check(body: object) -> dict[str, Any]:
    """The body's shape as the API checks it, in its words (`* GenerateContentRequest.x: ...`)."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"Invalid JSON payload received. Expected an object, got {type(body).__name__}.")
    contents = body.get("contents")
    if not contents:
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified\n")
    if not isinstance(contents, list) or not all(isinstance(c, dict) for c in contents):
        raise InvalidRequest('Invalid JSON payload received. Unknown name "contents": expected a list of Content.')
    for i, turn in enumerate(contents):
        role = turn.get("role")
        if role is not None and role not in ("user", "model", "function", "tool"):
            raise InvalidRequest(f"Please use a valid role: user, model. (contents[{i}].role is {role!r})")
        parts = turn.get("parts")
        if not isinstance(parts, list) or not parts:
            raise InvalidRequest(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
    config = body.get("generationConfig")
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest('Invalid JSON payload received. Unknown name "generationConfig": expected an object.')
    count = (config or {}).get("candidateCount", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 8:
        raise InvalidRequest(
            f"* GenerateContentRequest.generation_config.candidate_count: must be from 1 to 8, got {count!r}\n"
        )
    return body
