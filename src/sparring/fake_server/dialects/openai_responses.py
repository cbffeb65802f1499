"""OpenAI Responses API: `POST /v1/responses`, streamed and not (wire-format.md §4).

Every event is `event: <type>` then `data: <json>` whose `type` is the same and whose
`sequence_number` counts from 0; no `[DONE]`: the body ends after `response.completed` (or
`response.incomplete`). What the SDK depends on:

- raw iteration reads only the JSON `type`; the `event:` line is ignored;
- the `responses.stream()` helper wants `response.created` first, each item's
  `output_item.added` before its deltas and `content_part.added` before text deltas, and
  (openai 3.x) the same response id on every lifecycle event and the same item ids from
  `added` to `done`; `get_final_response()` needs `response.completed`;
- an event with a truthy top-level `error` raises `APIError`, so the in-band error is the
  nested `{"type": "error", "error": {...}}` the live API sends, not the documented flat one.

Errors, presets and headers are OpenAI's, shared with Chat Completions (`openai_common`).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Frame, InvalidRequest, ParsedRequest, around, compact, specific, string
from sparring.fake_server.resolve import Resolved, ResolvedChoice
from sparring.scenario.delivery import Fault

_ROLES = ("assistant", "system", "developer", "user")
_TEXT_PARTS = ("input_text", "output_text", "text")
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass(frozen=True)
class ResponsesRequest(ParsedRequest):
    """What Responses reads besides: `stream_options.include_obfuscation`."""

    include_obfuscation: bool = True


class Responses(common.OpenAIDialect):
    name = "responses"
    path = "/v1/responses"

    def parse(self, body: object) -> ResponsesRequest:
        if not isinstance(body, dict):
            raise InvalidRequest(
                f"Invalid type for body: expected an object, but got {common.type_name(body)} instead.",
                code="invalid_type",
            )
        for key, missing in (("model", (None, "")), ("input", (None,))):
            if body.get(key) in missing:
                raise _missing(key)
        common.require_type(body, "model", str, "a string")
        common.require_type(body, "input", (str, list), "one of a string or array of input items")
        for chat_only in ("n", "messages"):  # Chat parameters a client may carry over by mistake
            if chat_only in body:
                raise InvalidRequest(f"Unknown parameter: '{chat_only}'.", param=chat_only, code="unknown_parameter")
        for key, expected, noun in (
            ("instructions", str, "a string"),
            ("stream", bool, "a boolean"),
            ("tools", list, "an array of objects"),
            ("max_output_tokens", int, "an integer"),
            ("stream_options", dict, "an object"),
        ):
            if body.get(key) is not None:
                common.require_type(body, key, expected, noun)
        limit = body.get("max_output_tokens")
        if limit is not None and limit < 16:
            raise InvalidRequest(
                "Invalid 'max_output_tokens': integer below minimum value. "
                f"Expected a value >= 16, but got {limit} instead.",
                param="max_output_tokens",
                code="integer_below_min_value",
            )
        if body.get("stream_options") is not None and not body.get("stream"):
            raise InvalidRequest(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
            )
        tools = body.get("tools") or []
        _check_tools(tools)
        messages = _messages(body["input"])
        if body.get("instructions"):
            messages.insert(0, {"role": "system", "content": body["instructions"]})
        options = body.get("stream_options") or {}
        return ResponsesRequest(
            body=body,
            model=body["model"],
            messages=messages,
            stream=bool(body.get("stream")),
            has_tools=bool(tools),
            include_obfuscation=options.get("include_obfuscation", True) is not False,
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        response = _response(resolved, request, rng)
        choice = resolved.choices[0]
        items = _items(choice, rng)
        has_message = len(items) > len(choice.tool_calls)
        pieces = [choice.pieces] * has_message + [call.pieces for call in choice.tool_calls]
        final = _finished(response, resolved, items)
        started = b'"response":' + compact(response)  # `created` and `in_progress` carry the same
        # Live traffic pads text and argument deltas (not refusal ones) with random `obfuscation`,
        # unless `stream_options.include_obfuscation` is false.
        pad = common.Padding(rng) if specific(request, ResponsesRequest).include_obfuscation else None

        def frames() -> Iterator[Frame]:
            seq = itertools.count()
            yield _event("response.created", next(seq), started, source=response)
            yield _event("response.in_progress", next(seq), started)
            for index, (item, item_pieces) in enumerate(zip(items, pieces, strict=True)):
                yield from _item_events(index, item, item_pieces, seq, pad)
            fields = compact({"response": final})[1:-1]
            yield _event(f"response.{final['status']}", next(seq), fields, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        # The deltas: the message's (text or refusal), when there is one, and each call's.
        choice = resolved.choices[0]
        has_message = choice.refusal is not None or bool(choice.text) or not choice.tool_calls
        return len(choice.pieces) * has_message + sum(len(call.pieces) for call in choice.tool_calls)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        response = _response(resolved, request, rng)
        return _finished(response, resolved, _items(resolved.choices[0], rng))

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        # The error continues the stream: the next sequence number, the same response.
        seq = len(sent)
        error = common.in_band_error(fault, request.model)["error"]
        code = str(error["code"]) if error["code"] is not None else error["type"]
        nested = {"type": error["type"], "code": code, "message": error["message"], "param": error["param"]}
        # The response of the stream's first event (`response.created`), if it went out.
        created = sent[0].source if sent else None
        failed = dict(created) if isinstance(created, dict) else _failed_early(rng)
        failed.update(status="failed", error={"code": code, "message": error["message"]})
        return [
            _event("error", seq, _fields({"error": nested}), paced=True),
            _event("response.failed", seq + 1, _fields({"response": failed}), paced=True),
        ]


def _failed_early(rng: random.Random) -> dict[str, Any]:
    return {"id": _hex_id(rng, "resp_"), "object": "response", "output": []}


def _fields(data: dict[str, Any]) -> bytes:
    """An event's own fields, as JSON without its braces."""
    return compact(data)[1:-1]


def _opening(type_: str) -> bytes:
    """An event up to its sequence number."""
    return b"event: " + type_.encode() + b'\ndata: {"type":' + compact(type_) + b',"sequence_number":'


def _event(
    type_: str,
    seq: int,
    fields: bytes,
    *,
    paced: bool = False,
    content: bool = False,
    terminal: bool = False,
    source: object = None,
) -> Frame:
    data = _opening(type_) + b"%d," % seq + fields + b"}\n\n"
    return Frame(data, paced=paced, content=content, terminal=terminal, source=source)


def _deltas(
    type_: str, fields: dict[str, Any], pieces: Iterable[str], seq: Iterator[int], pad: Callable[[], bytes] | None
) -> Iterator[Frame]:
    """One delta event per piece, paced output: the fields around `delta` rendered once, only
    the piece (and the padding, when on) for each."""
    before, after = around(fields, "delta")
    opening, middle, closing = _opening(type_), b"," + before[1:], after[:-1]
    for piece in pieces:
        end = b',"obfuscation":"' + pad() + b'"}\n\n' if pad is not None else b"}\n\n"
        yield Frame(opening + b"%d" % next(seq) + middle + string(piece) + closing + end, content=True)


def _hex_id(rng: random.Random, prefix: str) -> str:
    return prefix + rng.randbytes(24).hex()


# -- the request ----------------------------------------------------------------------------------


def _check_tools(tools: list[Any]) -> None:
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        common.require_type({where: tool}, where, dict, "an object")
        # A Chat-shaped tool (`{"type": "function", "function": {...}}`) has no name: a 400, as live.
        for key in ("type", "name") if tool.get("type") == "function" else ("type",):
            if key not in tool:
                raise _missing(f"{where}.{key}")


def _messages(given: str | list[Any]) -> list[dict[str, Any]]:
    """The input as a Chat-shaped conversation: matching reads its last user message, and
    prompt tokens are counted from it. Items that are not conversation (reasoning, item
    references) are left out."""
    if isinstance(given, str):
        return [{"role": "user", "content": given}]
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(given):
        where = f"input[{i}]"
        common.require_type({where: item}, where, dict, "an input item")
        kind = item.get("type", "message")
        if kind == "function_call":
            function = {"name": item.get("name"), "arguments": item.get("arguments")}
            call = {"id": item.get("call_id"), "type": "function", "function": function}
            # Calls right after the assistant's message (or each other) are that message's, as in Chat.
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": _text(item.get("output"))})
        elif kind == "message":
            messages.append({"role": _role(item, where), "content": _content(item, where)})
    return messages


def _role(item: dict[str, Any], where: str) -> str:
    if "role" not in item:
        raise _missing(f"{where}.role")
    role = item["role"]
    if role not in _ROLES:
        supported = ", ".join(f"'{r}'" for r in _ROLES[:-1]) + f", and '{_ROLES[-1]}'"
        raise InvalidRequest(
            f"Invalid value: '{role}'. Supported values are: {supported}.", param=f"{where}.role", code="invalid_value"
        )
    return str(role)


def _content(item: dict[str, Any], where: str) -> str:
    if "content" not in item:
        raise _missing(f"{where}.content")
    common.require_type(item, "content", (str, list), "one of a string or array of input content")
    for j, part in enumerate(item["content"] if isinstance(item["content"], list) else []):
        at = f"{where}.content[{j}]"
        common.require_type({at: part}, at, dict, "an object")
        if "type" not in part:
            raise _missing(f"{at}.type")
    return _text(item["content"])


def _missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def _text(content: object) -> str:
    """A string, or the text of the text parts of a list (images and files have none)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") in _TEXT_PARTS)
    return ""


# -- the response ---------------------------------------------------------------------------------


def _response(resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
    """The response object as `response.created` carries it: the request's settings echoed."""
    body = request.body
    reasoning = body.get("reasoning")
    return {
        "id": _hex_id(rng, "resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": resolved.model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None, **(reasoning if isinstance(reasoning, dict) else {})},
        "service_tier": body.get("service_tier") or "auto",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [_echoed_tool(t) for t in body.get("tools") or []],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def _echoed_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool as the API echoes it, with its defaults filled in (`strict` is on)."""
    return {"description": None, "strict": True, **tool} if tool.get("type") == "function" else tool


def _items(choice: ResolvedChoice, rng: random.Random) -> list[dict[str, Any]]:
    """The output items as they stand when done: a message (text or refusal) first, when
    there is one, then one function call per tool call. The item being written when a
    `length` or `content_filter` finish cut it is `incomplete`."""
    items: list[dict[str, Any]] = []
    part: dict[str, Any] | None = None
    if choice.refusal is not None:
        part = {"type": "refusal", "refusal": choice.refusal}
    elif choice.text or not choice.tool_calls:
        part = {"type": "output_text", "annotations": [], "text": choice.text or ""}
    if part is not None:
        message = {"id": _hex_id(rng, "msg_"), "type": "message", "status": "completed", "content": [part]}
        items.append({**message, "role": "assistant"})
    for call in choice.tool_calls:
        item = {"id": _hex_id(rng, "fc_"), "type": "function_call", "status": "completed", "arguments": call.arguments}
        items.append({**item, "call_id": call.id, "name": call.name})
    if choice.finish_reason in _INCOMPLETE and items:
        items[-1]["status"] = "incomplete"
    return items


def _item_events(
    index: int, item: dict[str, Any], pieces: tuple[str, ...], seq: Iterator[int], pad: Callable[[], bytes] | None
) -> Iterator[Frame]:
    """One output item's events, from `output_item.added` to `output_item.done`."""
    where = {"item_id": item["id"], "output_index": index}
    added = _fields({"output_index": index, "item": _started(item)})
    # A function call's added item names the call: output, as Chat's first tool-call fragment is.
    yield _event("response.output_item.added", next(seq), added, content=item["type"] == "function_call")
    if item["type"] == "function_call":
        yield from _deltas("response.function_call_arguments.delta", where, pieces, seq, pad)
        done = _fields({**where, "arguments": item["arguments"]})
        yield _event("response.function_call_arguments.done", next(seq), done)
    else:
        part = item["content"][0]
        at = {**where, "content_index": 0}
        yield _event("response.content_part.added", next(seq), _fields({**at, "part": _empty(part)}))
        if part["type"] == "output_text":
            yield from _deltas("response.output_text.delta", {**at, "delta": "", "logprobs": []}, pieces, seq, pad)
            done = _fields({**at, "text": part["text"], "logprobs": []})
            yield _event("response.output_text.done", next(seq), done)
        else:
            yield from _deltas("response.refusal.delta", at, pieces, seq, None)
            yield _event("response.refusal.done", next(seq), _fields({**at, "refusal": part["refusal"]}))
        yield _event("response.content_part.done", next(seq), _fields({**at, "part": part}))
    yield _event("response.output_item.done", next(seq), _fields({"output_index": index, "item": item}))


def _started(item: dict[str, Any]) -> dict[str, Any]:
    """An item as `output_item.added` announces it: in progress, nothing in it yet."""
    empty: dict[str, Any] = {"arguments": ""} if item["type"] == "function_call" else {"content": []}
    return {**item, "status": "in_progress", **empty}


def _empty(part: dict[str, Any]) -> dict[str, Any]:
    return {**part, "text": ""} if part["type"] == "output_text" else {**part, "refusal": ""}


def _finished(response: dict[str, Any], resolved: Resolved, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The response object of `response.completed` (or `.incomplete`) and of a whole answer."""
    reason = _INCOMPLETE.get(resolved.choices[0].finish_reason)
    return {
        **response,
        "status": "incomplete" if reason else "completed",
        "incomplete_details": {"reason": reason} if reason else None,
        "output": items,
        "service_tier": "default" if response["service_tier"] == "auto" else response["service_tier"],
        "usage": {
            "input_tokens": resolved.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": resolved.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": resolved.total_tokens,
        },
    }
