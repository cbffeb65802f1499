"""Ollama's native API: `POST /api/chat` and `POST /api/generate`, streamed and not.

The facts, from Ollama's server (`server/routes.go`, `api/types.go` in ollama/ollama) and
the `ollama` Python client (`ollama/_client.py`, `_types.py`), as docs/ollama.md lists them:
- A request streams unless it says `"stream": false` (`req.Stream != nil && !*req.Stream`).
- A stream is NDJSON, `Content-Type: application/x-ndjson`: one compact JSON object per line,
  each ending in `\\n`. There is no comment line and no terminator line; the last object has
  `"done": true` with `done_reason` and the timings (`total_duration`, `load_duration`,
  `prompt_eval_count`, `prompt_eval_duration`, `eval_count`, `eval_duration`, nanoseconds).
  That record is the `terminal` frame `no_done` drops.
- `/api/chat` objects carry `message: {role, content}`; a tool call is a whole object in its
  own record, `message.tool_calls: [{id, function: {index, name, arguments}}]`, with the
  arguments as a JSON object, not a string. `done_reason` is `stop` for tool calls too.
  `/api/generate` objects carry `response`; its done record adds `context` (token ids).
- Errors are `{"error": "<message>"}` with the HTTP status; an error once the stream is under
  way is one more line, `{"error": "..."}`, which the client raises as `ResponseError` with
  status code -1. Ollama sends no request ids and no rate-limit headers.

Always one choice (Ollama has no `n`); a refusal is said as text (Ollama has no refusal
field). Generated tool-call ids are Ollama's `call_` and 8 lowercase letters or digits.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import (
    Dialect,
    Frame,
    HttpError,
    InvalidRequest,
    ParsedRequest,
    compact,
    string,
)
from sparring.fake_server.resolve import Resolved, ResolvedChoice, random_id
from sparring.scenario.delivery import Fault, RateLimits
from sparring.scenario.model import Content, ErrorReply

NDJSON_CONTENT_TYPE = "application/x-ndjson"
_MAX_QUEUE = "server busy, please try again.  maximum pending requests exceeded"  # ErrMaxQueue, sched.go
# preset: (status, message); `{model}` comes from the request. The 429s are Ollama's cloud
# (ollama.com) words: a local server has no rate limit.
PRESETS: dict[str, tuple[int, str]] = {
    "rate_limit": (429, "you've reached your hourly usage limit, please wait or upgrade to continue"),
    "insufficient_quota": (
        429,
        "you've reached your weekly usage limit, upgrade for higher limits: https://ollama.com/upgrade",
    ),
    "server_error": (500, "llama runner process has terminated: exit status 2"),
    "bad_gateway": (502, "bad gateway"),
    "unavailable": (503, _MAX_QUEUE),
    "overloaded": (503, _MAX_QUEUE),
    "timeout": (500, "timed out waiting for llama runner to start"),
    "bad_request": (400, "invalid request"),
    "context_length_exceeded": (400, "input length exceeds the context length"),
    "unauthorized": (401, "unauthorized"),
    "forbidden": (403, "forbidden"),
    "not_found": (404, "model '{model}' not found"),
    "conflict": (409, "conflict"),
}
_PRESET_BY_STATUS = {429: "rate_limit", 500: "server_error", 502: "bad_gateway", 503: "unavailable"}
_DONE_REASONS = {"length": "length"}  # every other finish is Ollama's "stop", tool calls too
_CALL_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Synthetic timings, in nanoseconds: a loaded model, prompts read at 2,500 tokens/s, output
# written at 50 tokens/s. The same answer gets the same figures, run after run.
_LOAD_NS = 12_000_000
_PROMPT_TOKEN_NS = 400_000
_OUTPUT_TOKEN_NS = 20_000_000


class _Ollama(Dialect):
    """What `/api/chat` and `/api/generate` share: errors, timings, validation of the common fields."""

    tool_call_prefix = "call_"
    tool_call_length = 8
    stream_content_type = NDJSON_CONTENT_TYPE
    keepalive = False  # NDJSON has no comment line: a keep-alive would be a line the client cannot parse
    bad_json = "invalid character looking for beginning of value"  # Go's encoding/json, as gin returns it
    go_struct = "ChatRequest"  # the Go type Ollama decodes the body into, for its type errors

    def resolve(self, content: Content, request: ParsedRequest, rng: random.Random) -> Resolved:
        """As every dialect, with generated tool-call ids in Ollama's alphabet: lowercase
        letters and digits (`toolCallId` in routes.go). Scripted ids are kept."""
        resolved = super().resolve(content, request, rng)
        scripted = content.messages[0].tool_calls
        choice = resolved.choices[0]
        calls = tuple(
            call if given.id else dataclasses.replace(call, id=random_id(rng, "call_", 8, _CALL_ALPHABET))
            for call, given in zip(choice.tool_calls, scripted, strict=True)
        )
        return dataclasses.replace(resolved, choices=(dataclasses.replace(choice, tool_calls=calls),))

    def _common(self, body: object) -> dict[str, Any]:
        """The body as an object, its `model`, `stream` and `tools` of the right types."""
        if not isinstance(body, dict):
            raise InvalidRequest(
                f"json: cannot unmarshal {_json_type(body)} into Go value of type api.{self.go_struct}"
            )
        for key, kind, go in (("model", str, "string"), ("stream", bool, "bool"), ("tools", list, "[]api.Tool")):
            if key in body and body[key] is not None and not isinstance(body[key], kind):
                raise InvalidRequest(self._type_error(body[key], key, go))
        return body

    def _type_error(self, value: object, field: str, go: str) -> str:
        return f"json: cannot unmarshal {_json_type(value)} into Go struct field {self.go_struct}.{field} of type {go}"

    def _head(self, resolved: Resolved) -> bytes:
        """The start of every record: `{"model":"...","created_at":"...",`."""
        return b'{"model":' + string(resolved.model) + b',"created_at":"' + _created_at() + b'",'

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        _, message = PRESETS[fault.error]
        text = fault.message or message.format(model=request.model)
        return [Frame(compact({"error": text}) + b"\n")]

    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        """Ollama sends none: scripted `rate_limits` go out under OpenAI's `x-ratelimit-*` names."""
        return common.rate_limit_headers(limits)

    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        preset = reply.preset or _PRESET_BY_STATUS.get(reply.status or 0)
        status, message = PRESETS[preset] if preset else (0, f"Error {reply.status}, scripted by sparring.")
        status = reply.status or status
        body: dict[str, Any] | str
        if reply.body is not None:
            body = dict(reply.body) if not isinstance(reply.body, str) else reply.body
        else:
            model = request.model if request else "the model"
            body = {"error": reply.message or message.format(model=model)}
        # Only what the scenario scripts: Ollama itself sends no retry advice.
        scripted = common.retry_headers(dataclasses.replace(reply, rate_limits=None), None)
        if reply.rate_limits is not None:
            scripted.update(self.rate_limit_headers(reply.rate_limits))
        return HttpError(status, body, {**scripted, **reply.headers})

    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        return HttpError(problem.status, {"error": problem.message})

    def claims(self, headers: Mapping[str, str]) -> bool:
        return headers.get("user-agent", "").startswith("ollama-")  # the Python and JS clients

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        return {}


class OllamaChat(_Ollama):
    name = "ollama_chat"
    path = "/api/chat"

    def parse(self, body: object) -> ParsedRequest:
        body = self._common(body)
        if not body.get("model"):
            raise InvalidRequest("model is required")
        messages = body["messages"] if body.get("messages") is not None else []
        if not isinstance(messages, list):
            raise InvalidRequest(self._type_error(messages, "messages", "[]api.Message"))
        for message in messages:
            if not isinstance(message, dict):
                raise InvalidRequest(self._type_error(message, "messages", "api.Message"))
            for key in ("role", "content"):
                if message.get(key) is not None and not isinstance(message[key], str):
                    raise InvalidRequest(self._type_error(message[key], f"messages.{key}", "string"))
        return ParsedRequest(
            body=body,
            model=body["model"],
            messages=_chat_messages(messages),
            stream=body.get("stream") is not False,
            has_tools=bool(body.get("tools")),
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        choice = resolved.choices[0]

        def frames() -> Iterator[Frame]:
            for piece in choice.pieces:
                said = b'"message":{"role":"assistant","content":' + string(piece) + b"}"
                yield Frame(self._head(resolved) + said + b',"done":false}\n', content=bool(piece))
            for index, call in enumerate(choice.tool_calls):
                message = {"role": "assistant", "content": "", "tool_calls": [_tool_call(index, call)]}
                yield Frame(
                    self._head(resolved) + compact({"message": message, "done": False})[1:] + b"\n", content=True
                )
            last = {"message": {"role": "assistant", "content": ""}, **_done(resolved, choice)}
            yield Frame(self._head(resolved) + compact(last)[1:] + b"\n", paced=False, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        choice = resolved.choices[0]
        return len(choice.pieces) + len(choice.tool_calls)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        choice = resolved.choices[0]
        message: dict[str, Any] = {"role": "assistant", "content": "".join(choice.pieces)}
        if choice.tool_calls:
            message["tool_calls"] = [_tool_call(i, c) for i, c in enumerate(choice.tool_calls)]
        return {"model": resolved.model, "created_at": created_at(), "message": message, **_done(resolved, choice)}


class OllamaGenerate(_Ollama):
    name = "ollama_generate"
    path = "/api/generate"
    go_struct = "GenerateRequest"

    def parse(self, body: object) -> ParsedRequest:
        body = self._common(body)
        for key in ("prompt", "system"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise InvalidRequest(self._type_error(body[key], key, "string"))
        if not body.get("model"):  # what Ollama says: the empty name is no model it has
            raise InvalidRequest(f"model '{body.get('model') or ''}' not found", status=404)
        system = [{"role": "system", "content": body["system"]}] if body.get("system") else []
        return ParsedRequest(
            body=body,
            model=body["model"],
            messages=[*system, {"role": "user", "content": body.get("prompt") or ""}],
            stream=body.get("stream") is not False,
            has_tools=bool(body.get("tools")),
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        choice = resolved.choices[0]

        def frames() -> Iterator[Frame]:
            for piece in choice.pieces:
                yield Frame(
                    self._head(resolved) + b'"response":' + string(piece) + b',"done":false}\n', content=bool(piece)
                )
            last = {"response": "", **_generated(resolved, choice)}
            yield Frame(
                self._head(resolved) + compact(last)[1:] + b"\n",
                paced=False,
                terminal=True,
                content=bool(choice.tool_calls),
            )

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        return len(resolved.choices[0].pieces)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        choice = resolved.choices[0]
        whole = {"response": "".join(choice.pieces), **_generated(resolved, choice)}
        return {"model": resolved.model, "created_at": created_at(), **whole}


def created_at() -> str:
    """Now in RFC 3339 with nanoseconds, as Ollama's Go sends it (`2025-03-28T18:09:27.113075Z`),
    but always nine digits: Go trims trailing zeros, which would make a record's length, and so
    every byte offset a fault or a write size counts, change from run to run."""
    return _created_at().decode()


# The formatted date and time of the current second, made once a second: a stream renders a
# `created_at` per record, and formatting the whole time each time tripled a record's cost.
_SECOND: list[tuple[int, bytes]] = [(-1, b"")]


def _created_at() -> bytes:
    second, fraction = divmod(time.time_ns(), 1_000_000_000)
    known = _SECOND[0]  # read once: another thread may replace it meanwhile
    if known[0] != second:
        known = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)).encode())
        _SECOND[0] = known
    return known[1] + b"%09dZ" % fraction


def _done(resolved: Resolved, choice: ResolvedChoice) -> dict[str, Any]:
    """The closing fields of a chat record, in Ollama's order: `done_reason`, `done`, timings."""
    return {"done_reason": _DONE_REASONS.get(choice.finish_reason, "stop"), "done": True, **_timings(resolved)}


def _generated(resolved: Resolved, choice: ResolvedChoice) -> dict[str, Any]:
    """The closing fields of a generate record: `done` before `done_reason`, then `context`
    (the conversation's token ids, here made up: one per token) and the timings; tool calls,
    when scripted, come with the done record, as Ollama's parsers send them."""
    fields: dict[str, Any] = {"done": True, "done_reason": _DONE_REASONS.get(choice.finish_reason, "stop")}
    fields["context"] = list(range(1, resolved.prompt_tokens + resolved.completion_tokens + 1))
    fields.update(_timings(resolved))
    if choice.tool_calls:
        fields["tool_calls"] = [_tool_call(i, c) for i, c in enumerate(choice.tool_calls)]
    return fields


def _timings(resolved: Resolved) -> dict[str, int]:
    prompt_ns = resolved.prompt_tokens * _PROMPT_TOKEN_NS
    eval_ns = max(1, resolved.completion_tokens) * _OUTPUT_TOKEN_NS
    return {
        "total_duration": _LOAD_NS + prompt_ns + eval_ns,
        "load_duration": _LOAD_NS,
        "prompt_eval_count": resolved.prompt_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": resolved.completion_tokens,
        "eval_duration": eval_ns,
    }


def _tool_call(index: int, call: Any) -> dict[str, Any]:
    """Ollama's tool call, its arguments the scripted JSON as a value (the scenario checked it
    is JSON; one that is no object is sent as it is, and the client's model refuses it)."""
    arguments = json.loads(call.arguments)
    return {"id": call.id, "function": {"index": index, "name": call.name, "arguments": arguments}}


def _chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ollama's messages in Chat Completions shape, for matching and token counts. A tool call
    gets its arguments as JSON text and, without an id (the ollama client sends none back), one
    of its place; a tool result says which call it answers by `tool_name` (Ollama's field), so
    it gets the id of the latest call of that name, and through it the name."""
    chat: list[dict[str, Any]] = []
    latest: dict[str, str] = {}  # tool name -> the id of its latest call
    for i, message in enumerate(messages):
        said: dict[str, Any] = {"role": message.get("role") or "", "content": message.get("content") or ""}
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            said["tool_calls"] = [_chat_call(c, f"call_{i}_{j}") for j, c in enumerate(calls) if isinstance(c, dict)]
            latest.update({c["function"]["name"]: c["id"] for c in said["tool_calls"]})
        answers = message.get("tool_call_id") or latest.get(str(message.get("tool_name") or ""))
        if said["role"] == "tool" and isinstance(answers, str):
            said["tool_call_id"] = answers
        chat.append(said)
    return chat


def _chat_call(call: dict[str, Any], placed: str) -> dict[str, Any]:
    function = call["function"] if isinstance(call.get("function"), dict) else {}
    arguments = function.get("arguments", {})
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))
    given = call.get("id")
    return {
        "id": given if isinstance(given, str) and given else placed,
        "type": "function",
        "function": {"name": str(function.get("name") or ""), "arguments": text},
    }


def _json_type(value: object) -> str:
    """The JSON type of a value, in Go's words for its unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
