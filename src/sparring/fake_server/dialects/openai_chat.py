"""OpenAI Chat Completions: `POST /v1/chat/completions`, streamed and not (wire-format.md §1).

The details the SDK depends on: `role` only in a choice's first chunk; tool-call `id`, `type`
and `name` only in a call's first fragment (the SDK concatenates every string it sees again);
`delta` always present; one finish chunk per choice; the usage chunk with `choices: []` after
the finish chunks when `include_usage` is on; `data: [DONE]` last; compact JSON.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Frame, InvalidRequest, ParsedRequest, around, compact, specific, string
from sparring.fake_server.resolve import Resolved, ResolvedChoice, ResolvedToolCall

DONE = b"data: [DONE]\n\n"
_ROLES = ("system", "assistant", "user", "function", "tool", "developer")


@dataclass(frozen=True)
class ChatRequest(ParsedRequest):
    """What Chat reads besides: `stream_options`."""

    include_usage: bool = False  # a last chunk with the usage, and `usage: null` on the others
    include_obfuscation: bool = True  # the `obfuscation` padding on every chunk


class ChatCompletions(common.OpenAIDialect):
    name = "chat"
    path = "/v1/chat/completions"

    def parse(self, body: object) -> ChatRequest:
        body = common.object_with_model(body, "messages")
        common.require_type(body, "messages", list, "an array of objects")
        _check_messages(body["messages"])
        stream = body.get("stream")
        if stream is not None:
            common.require_type(body, "stream", bool, "a boolean")
        n = body.get("n")
        if n is not None:
            common.require_type(body, "n", int, "an integer")
            if not 1 <= n <= 128:
                raise InvalidRequest(
                    f"Invalid 'n': integer {'below minimum' if n < 1 else 'above maximum'} value. "
                    f"Expected a value {'>= 1' if n < 1 else '<= 128'}, but got {n} instead.",
                    param="n",
                    code="integer_below_min_value" if n < 1 else "integer_above_max_value",
                )
        options = body.get("stream_options")
        if options is not None:
            if not stream:
                raise InvalidRequest(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    param="stream_options",
                )
            common.require_type(body, "stream_options", dict, "an object")
        tools = body.get("tools")
        if tools is not None:
            common.require_type(body, "tools", list, "an array of objects")
        return ChatRequest(
            body=body,
            model=body["model"],
            messages=body["messages"],
            stream=bool(stream),
            n=n or 1,
            has_tools=bool(tools),
            include_usage=(options or {}).get("include_usage") is True,
            include_obfuscation=(options or {}).get("include_obfuscation", True) is not False,
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        options = specific(request, ChatRequest)
        include_usage, obfuscate = options.include_usage, options.include_obfuscation
        head: dict[str, Any] = {
            "id": common.new_id(rng, "chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": resolved.model,
            "service_tier": "default",
            "system_fingerprint": _fingerprint(rng),
        }
        if include_usage:
            head["usage"] = None
        pad = common.Padding(rng)
        # Every chunk is `head` with one choice entry: `head` is rendered once, around the entry.
        before, after = around(head, "choices")
        prefix, suffix = b"data: " + before + b"[", b"]" + after[:-1]  # `after` without its `}`

        def end() -> bytes:
            """A chunk's last bytes: the padding, when on, is its last field."""
            if obfuscate:
                return b',"obfuscation":"' + pad() + b'"}\n\n'
            return b"}\n\n"

        def frames() -> Iterator[Frame]:
            for entry, shows in common.interleave([_choice_entries(c) for c in resolved.choices]):
                yield Frame(prefix + entry + suffix + end(), content=shows)
            if include_usage:  # `usage` keeps its place in `head`, before `choices`
                last = compact({**head, "usage": _usage(resolved), "choices": []})
                yield Frame(b"data: " + last[:-1] + end(), paced=False)
            yield Frame(DONE, paced=False, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        # One paced chunk per choice entry: role, pieces, tool-call fragments, finish.
        return sum(_entry_count(c) for c in resolved.choices)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        return {
            "id": common.new_id(rng, "chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": resolved.model,
            "choices": [_whole_choice(c) for c in resolved.choices],
            "usage": _usage(resolved),
            "service_tier": "default",
            "system_fingerprint": _fingerprint(rng),
        }


def _check_messages(messages: list[Any]) -> None:
    if not messages:
        raise InvalidRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(
                f"Invalid type for '{where}': expected an object, but got {common.type_name(message)} instead.",
                param=where,
                code="invalid_type",
            )
        if "role" not in message:
            raise InvalidRequest(
                f"Missing required parameter: '{where}.role'.", param=f"{where}.role", code="missing_required_parameter"
            )
        if message["role"] not in _ROLES:
            supported = ", ".join(f"'{r}'" for r in _ROLES[:-1]) + f", and '{_ROLES[-1]}'"
            raise InvalidRequest(
                f"Invalid value: '{message['role']}'. Supported values are: {supported}.",
                param=f"{where}.role",
                code="invalid_value",
            )


def _fingerprint(rng: random.Random) -> str:
    return "fp_" + rng.randbytes(5).hex()


def _choice_entries(choice: ResolvedChoice) -> Iterator[tuple[bytes, bool]]:
    """Every chunk's choice entry for one choice, as JSON, role chunk first and finish chunk
    last; and whether it carries output. Text and argument pieces are the many: only the
    piece itself is serialized for each."""
    open_, close = b'{"index":%d,"delta":' % choice.index, b',"logprobs":null,"finish_reason":null}'

    def entry(delta: dict[str, Any], finish: str | None = None) -> tuple[bytes, bool]:
        shows = bool(delta.get("content") or delta.get("refusal") or delta.get("tool_calls"))
        whole = {"index": choice.index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return compact(whole), shows

    if choice.refusal is not None:
        yield entry({"role": "assistant", "content": None, "refusal": ""})
        for piece in choice.pieces:
            yield open_ + b'{"refusal":' + string(piece) + b"}" + close, bool(piece)
    else:
        calls = _call_fragments(choice)
        if choice.text is not None and (choice.text or not choice.tool_calls):
            yield entry({"role": "assistant", "content": "", "refusal": None})
            for piece in choice.pieces:
                yield open_ + b'{"content":' + string(piece) + b"}" + close, bool(piece)
        else:
            # A tool-call-only answer carries the first fragment in the role chunk.
            next(calls)
            first = _call_start(0, choice.tool_calls[0])
            yield entry({"role": "assistant", "content": None, "tool_calls": [first], "refusal": None})
        for fragment in calls:
            yield open_ + b'{"tool_calls":[' + fragment + b"]}" + close, True
    yield entry({}, choice.finish_reason)


def _entry_count(choice: ResolvedChoice) -> int:
    """How many entries `_choice_entries` gives, without rendering them."""
    if choice.refusal is not None:
        return len(choice.pieces) + 2
    fragments = sum(1 + len(call.pieces) for call in choice.tool_calls)
    if choice.text is not None and (choice.text or not choice.tool_calls):
        return len(choice.pieces) + fragments + 2
    return fragments + 1  # the role chunk carries the first fragment


def _call_fragments(choice: ResolvedChoice) -> Iterator[bytes]:
    """Each tool call's fragments, as JSON: the first names the call, the rest carry its arguments."""
    for index, call in enumerate(choice.tool_calls):
        yield compact(_call_start(index, call))
        opening = b'{"index":%d,"function":{"arguments":' % index
        for piece in call.pieces:
            yield opening + string(piece) + b"}}"


def _call_start(index: int, call: ResolvedToolCall) -> dict[str, Any]:
    return {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}


def _whole_choice(choice: ResolvedChoice) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": choice.text if choice.refusal is None and (choice.text or not choice.tool_calls) else None,
        "refusal": choice.refusal,
        "annotations": [],
    }
    if choice.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in choice.tool_calls
        ]
    return {"index": choice.index, "message": message, "logprobs": None, "finish_reason": choice.finish_reason}


def _usage(resolved: Resolved) -> dict[str, Any]:
    return {
        "prompt_tokens": resolved.prompt_tokens,
        "completion_tokens": resolved.completion_tokens,
        "total_tokens": resolved.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
