"""Anthropic Messages: `POST /v1/messages`, streamed and not (wire-format.md §6).

The details the `anthropic` SDK depends on:
- Every event has an `event: <name>` line *and* `"type": "<name>"` in its JSON: 2.x skips
  events without a name, and `messages.stream()` then fails.
- `message_start` comes first (the stream helper raises otherwise), and each block's
  `content_block_start` precedes its deltas (the helper indexes `content[index]`); `index` is
  the block's position in the final `content`: the text block first, then the tool_use blocks.
- One `ping` right after the first `content_block_start`, as real traffic has; the SDK skips it.
- Tool input streams as `input_json_delta` pieces (the first one `""`) that concatenate to
  the JSON; the start event carries `input: {}`.
- `message_delta` carries the stop reason and *cumulative* usage (the SDK overwrites, never
  adds). `message_stop` ends the stream (no `[DONE]`); it is the terminal frame `no_done`
  drops, which the SDK does not notice: the stop reason came with `message_delta`.
- An `event: error` in the stream raises `APIStatusError` with status 200, not the class the
  same error would get as an HTTP status.
- Error bodies are `{"type":"error","error":{"type","message"},"request_id"}`; the SDK reads
  the `request-id` header, `x-should-retry`, then `retry-after-ms`, then `retry-after`.

Error presets take Anthropic's documented status and `error.type` (`PRESETS` below). Two
needed a choice. `unavailable` is a 503 api_error (the catch-all server type): as a 500 it
would duplicate `server_error`, as a 529 `overloaded`, and SDK 2.x has a class for 503
(`ServiceUnavailableError`). `insufficient_quota` is the 400 invalid_request_error "Your
credit balance is too low…" the real API sends when credits run out, not a 402 billing_error.
A scripted `code` becomes `error.details.error_code`, which SDK 2.x uses to pick finer
exception classes; `param` has no place in Anthropic's errors and is left out. A request
nothing answers gets a 404 not_found_error naming sparring, with `x-should-retry: false`.

Requests are normalized into Chat-shaped `messages` for matching and token counting: the
system prompt first, text blocks joined with newlines, `tool_result` blocks as `tool`
messages (so the last *user* message is what the user wrote). Always one choice: this API
has no `n`. Generated tool-call ids start `toolu_01`; scripted ids are sent as given.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import (
    Dialect,
    Frame,
    HttpError,
    InvalidRequest,
    ParsedRequest,
    around,
    compact,
    string,
)
from sparring.fake_server.resolve import Resolved, ResolvedChoice, random_id
from sparring.scenario.delivery import Fault, RateLimits
from sparring.scenario.model import ErrorReply

_RATE_LIMIT_MESSAGE = (
    "This request would exceed the rate limit for your organization (sparring) of 50 requests per minute. "
    "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for "
    "current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may "
    "also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
)
_NO_CREDIT_MESSAGE = (
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or "
    "purchase credits."
)
# preset: (status, error.type, message); `{model}` comes from the request.
PRESETS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "rate_limit_error", _RATE_LIMIT_MESSAGE),
    "insufficient_quota": (400, "invalid_request_error", _NO_CREDIT_MESSAGE),
    "server_error": (500, "api_error", "Internal server error"),
    "bad_gateway": (502, "api_error", "Bad gateway"),
    "unavailable": (503, "api_error", "Service unavailable"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "timeout": (504, "timeout_error", "Request timeout"),
    "bad_request": (400, "invalid_request_error", "There was an issue with the format or content of your request."),
    "context_length_exceeded": (400, "invalid_request_error", "prompt is too long: 213000 tokens > 200000 maximum"),
    "unauthorized": (401, "authentication_error", "invalid x-api-key"),
    "forbidden": (403, "permission_error", "Your API key does not have permission to use the specified resource."),
    "not_found": (404, "not_found_error", "model: {model}"),
    "conflict": (409, "conflict_error", "Conflict: another request changed this resource. Please retry."),
}
# A bare status borrows the preset's message for the statuses that have one obvious preset.
_PRESET_BY_STATUS = {429: "rate_limit", 500: "server_error", 502: "bad_gateway", 503: "unavailable", 504: "timeout"}
_PRESET_BY_STATUS[529] = "overloaded"
# Presets sharing a status share its type, too.
_TYPE_BY_STATUS = {**{status: type_ for status, type_, _ in PRESETS.values()}, 402: "billing_error"}
_TYPE_BY_STATUS[413] = "request_too_large"
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
_STOP_REASONS["function_call"] = "tool_use"
_ORGANIZATION_ID = "73706172-7269-4e67-8000-000000000001"  # "sparring", as a UUID
_UNSEEDED = random.SystemRandom()
_USUAL_LIMITS = RateLimits(4000, 3999, 0, 2_000_000, 2_000_000, 0)  # on every response, as the real API


class AnthropicMessages(Dialect):
    name = "messages"
    path = "/v1/messages"
    tool_call_prefix = "toolu_01"
    tool_call_length = 22
    bad_json = "There was an error parsing the body of your request: the body is not valid JSON."

    def parse(self, body: object) -> ParsedRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("Input should be a valid dictionary")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                raise InvalidRequest(f"{key}: Field required")
        if not isinstance(body["model"], str):
            raise InvalidRequest("model: Input should be a valid string")
        if not body["model"]:
            raise InvalidRequest("model: String should have at least 1 character")
        max_tokens = body["max_tokens"]
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            raise InvalidRequest("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise InvalidRequest("max_tokens: Input should be greater than or equal to 1")
        _check_messages(body["messages"])
        if "stream" in body and not isinstance(body["stream"], bool):
            raise InvalidRequest("stream: Input should be a valid boolean")
        if body.get("system") is not None:
            _check_content(body["system"], "system")
        if body.get("tools") is not None and not isinstance(body["tools"], list):
            raise InvalidRequest("tools: Input should be a valid list")
        return ParsedRequest(
            body=body,
            model=body["model"],
            messages=_chat_messages(body),
            stream=body.get("stream") is True,
            has_tools=bool(body.get("tools")),
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        choice = resolved.choices[0]
        head = {**_message(resolved, rng, content=[], stop_reason=None), "usage": _usage(resolved, output_tokens=1)}

        def frames() -> Iterator[Frame]:
            yield Frame(_event("message_start", message=head))
            for index, (block, key, pieces) in enumerate(_blocks(choice)):
                # A tool_use start names the call: output, produced at the model's pace.
                is_tool = block["type"] == "tool_use"
                yield Frame(_event("content_block_start", index=index, content_block=block), is_tool, False, is_tool)
                if index == 0:
                    yield Frame(_event("ping"), paced=False)
                # Each delta is this block's constant part around its piece, rendered once.
                before, after = around({"type": "content_block_delta", "index": index}, "delta")
                inner_before, inner_after = around({"type": "text_delta" if key == "text" else "input_json_delta"}, key)
                opening, closing = b"event: content_block_delta\ndata: " + before + inner_before, inner_after + after
                for piece in pieces:
                    yield Frame(opening + string(piece) + closing + b"\n\n", content=bool(piece))
                yield Frame(_event("content_block_stop", index=index), paced=False)
            stop = {"stop_reason": _stop_reason(choice), "stop_sequence": None}
            usage = {"output_tokens": resolved.completion_tokens}
            # Both closing events are `terminal`: `no_done` ends the stream before the stop reason.
            yield Frame(_event("message_delta", delta=stop, usage=usage), paced=False, terminal=True)
            yield Frame(_event("message_stop"), paced=False, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        # `message_start`, every delta, and each tool_use start (its name is output).
        choice = resolved.choices[0]
        return 1 + sum(len(pieces) for _, _, pieces in _blocks(choice)) + len(choice.tool_calls)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        choice = resolved.choices[0]
        content = [_whole_block(block, key, pieces) for block, key, pieces in _blocks(choice)]
        head = _message(resolved, rng, content=content, stop_reason=_stop_reason(choice))
        return {**head, "usage": _usage(resolved, output_tokens=resolved.completion_tokens)}

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        # What would be this preset's HTTP error, sent in-band once the 200 has gone out.
        _, type_, message = PRESETS[fault.error]
        error = {"type": type_, "message": fault.message or message.format(model=request.model)}
        return [Frame(_event("error", error=error))]

    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        headers: dict[str, str] = {}
        for kind in ("requests", "tokens"):
            for field in ("limit", "remaining", "reset"):
                value = getattr(limits, f"{field}_{kind}")
                if value is not None:
                    text = _rfc3339(value) if field == "reset" else str(int(value))
                    headers[f"anthropic-ratelimit-{kind}-{field}"] = text
        return headers

    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        preset = reply.preset or _PRESET_BY_STATUS.get(reply.status or 0)
        status, type_, message = PRESETS[preset] if preset else (0, "", "")
        status = reply.status or status
        if not preset:
            type_ = _type_for(status)
            message = f"Error {status}, scripted by sparring."
        request_id = _request_id(rng)
        body: dict[str, Any] | str
        if reply.body is not None:
            body = dict(reply.body) if not isinstance(reply.body, str) else reply.body
        else:
            text = reply.message or message.format(model=request.model if request else "the model")
            body = _error_body(reply.type or type_, text, request_id)
            if reply.code is not None:
                body["error"]["details"] = {"error_code": reply.code}
        headers = {"request-id": request_id, **self._retry_headers(reply, preset), **reply.headers}
        return HttpError(status, body, headers)

    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        request_id = _request_id(rng)
        body = _error_body(_type_for(problem.status), problem.message, request_id)
        return HttpError(problem.status, body, {"request-id": request_id})

    def claims(self, headers: Mapping[str, str]) -> bool:
        return "anthropic-version" in headers or "x-api-key" in headers

    def unmatched(self, message: str, rng: random.Random | None = None) -> HttpError:
        error = self.invalid(InvalidRequest(message, status=404), rng)
        return HttpError(404, error.body, {**error.headers, "x-should-retry": "false"})

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        ids = {"request-id": _request_id(rng), "anthropic-organization-id": _ORGANIZATION_ID}
        return {**ids, **self.rate_limit_headers(_USUAL_LIMITS)}

    def _retry_headers(self, reply: ErrorReply, preset: str | None) -> dict[str, str]:
        """`retry-after`, `retry-after-ms` and `x-should-retry` as scripted; a rate limit
        with neither delay gets `retry-after: 1` (the real 429 sends seconds only) and
        rate-limit headers under Anthropic's names."""
        after, after_ms = reply.retry_after, reply.retry_after_ms
        if preset == "rate_limit" and after is None and after_ms is None:
            after = 1
        # OpenAI's helper, minus its `x-ratelimit-*` names (preset None, no rate_limits).
        headers = common.retry_headers(dataclasses.replace(reply, retry_after=after, rate_limits=None), None)
        if preset == "rate_limit":
            wait = after_ms / 1000 if after_ms is not None else (after if isinstance(after, (int, float)) else 1)
            headers.update(
                self.rate_limit_headers(RateLimits(limit_requests=50, remaining_requests=0, reset_requests=wait))
            )
        if reply.rate_limits is not None:
            headers.update(self.rate_limit_headers(reply.rate_limits))
        return headers


def _event(name: str, **fields: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + compact({"type": name, **fields}) + b"\n\n"


def _message(resolved: Resolved, rng: random.Random, *, content: list[Any], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": random_id(rng, "msg_01", 22),
        "type": "message",
        "role": "assistant",
        "model": resolved.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
    }


def _usage(resolved: Resolved, *, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": resolved.prompt_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _blocks(choice: ResolvedChoice) -> list[tuple[dict[str, Any], str, tuple[str, ...]]]:
    """Each content block as its start object, the field its deltas fill (`text`,
    `partial_json`) and their pieces: text (or a refusal, said as text) first, then one
    tool_use block per call, whose input streams as JSON pieces, the first one empty."""
    blocks: list[tuple[dict[str, Any], str, tuple[str, ...]]] = []
    if choice.refusal is not None or choice.text or not choice.tool_calls:
        blocks.append(({"type": "text", "text": ""}, "text", choice.pieces))
    for call in choice.tool_calls:
        start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        blocks.append((start, "partial_json", ("", *call.pieces)))
    return blocks


def _whole_block(block: dict[str, Any], key: str, pieces: tuple[str, ...]) -> dict[str, Any]:
    if key == "text":
        return {**block, "text": "".join(pieces)}
    return {**block, "input": json.loads("".join(pieces))}


def _stop_reason(choice: ResolvedChoice) -> str:
    return "refusal" if choice.refusal is not None else _STOP_REASONS.get(choice.finish_reason, "end_turn")


def _request_id(rng: random.Random | None = None) -> str:
    return random_id(rng or _UNSEEDED, "req_011C", 20, "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789")


def _error_body(type_: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id}


def _type_for(status: int) -> str:
    # Anthropic's docs: invalid_request_error also stands for 4XX statuses without a type.
    return _TYPE_BY_STATUS.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def _rfc3339(seconds_from_now: float) -> str:
    """A reset time as Anthropic sends it (`2025-08-21T12:40:59Z`), rounded up to the second."""
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list):
        raise InvalidRequest("messages: Input should be a valid list")
    if not messages:
        raise InvalidRequest("messages: at least one message is required")
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where}: Input should be a valid dictionary")
        for key in ("role", "content"):
            if key not in message:
                raise InvalidRequest(f"{where}.{key}: Field required")
        if message["role"] not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: Input should be 'user' or 'assistant'")
        _check_content(message["content"], f"{where}.content")
        final_assistant = i == len(messages) - 1 and message["role"] == "assistant"
        if message["content"] in ("", []) and not final_assistant:
            raise InvalidRequest(
                f"{where}: all messages must have non-empty content except for the optional final assistant message"
            )


def _check_content(content: object, where: str) -> None:
    """A string, or a list of blocks that each have a `type` (and text blocks a string `text`)."""
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: Input should be a valid list")
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise InvalidRequest(f"{where}.{j}: Input should be a valid dictionary")
        if "type" not in block:
            raise InvalidRequest(f"{where}.{j}.type: Field required")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            problem = "Input should be a valid string" if "text" in block else "Field required"
            raise InvalidRequest(f"{where}.{j}.text: {problem}")


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    return ""


def _chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation in Chat Completions shape, for matching and prompt-token counts:
    `tool_use` blocks become the assistant's `tool_calls`, `tool_result` blocks `tool` messages."""
    chat: list[dict[str, Any]] = []
    if body.get("system"):
        chat.append({"role": "system", "content": _text(body["system"])})
    for message in body["messages"]:
        content = message["content"]
        blocks = content if isinstance(content, list) else []
        results = [b for b in blocks if b["type"] == "tool_result"]
        chat.extend(
            {"role": "tool", "tool_call_id": b.get("tool_use_id"), "content": _text(b.get("content"))} for b in results
        )
        calls = [_tool_call(b) for b in blocks if b["type"] == "tool_use"]
        # A turn of nothing but tool results is no user message, as in Chat.
        if _text(content) or calls or not results:
            said: dict[str, Any] = {"role": message["role"], "content": _text(content)}
            if calls:
                said["tool_calls"] = calls
            chat.append(said)
    return chat


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(block.get("input", {}), separators=(",", ":"), ensure_ascii=False)
    return {"id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": arguments}}
