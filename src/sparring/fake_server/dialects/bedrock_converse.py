"""Bedrock Runtime's Converse API: `POST /model/{modelId}/converse` and `/converse-stream`.

The facts (botocore's `service-2.json` for bedrock-runtime 2023-09-30, and the API reference,
docs/bedrock.md lists them):
- The request: `messages[]` of `{role, content[]}` whose blocks are `text`, `toolUse
  {toolUseId, name, input}` or `toolResult {toolUseId, content[] of text/json, status}`;
  `system[]` of `{text}`; `toolConfig.tools[].toolSpec`; `inferenceConfig`.
- A stream is `messageStart {role}`; text as `contentBlockDelta {delta: {text}, contentBlockIndex}`
  (a text block has no start event); each tool call as `contentBlockStart {start: {toolUse:
  {toolUseId, name}}}`, then `contentBlockDelta {delta: {toolUse: {input}}}` whose inputs
  concatenate to the arguments' JSON; `contentBlockStop` after each block; `messageStop
  {stopReason}`; `metadata {usage: {inputTokens, outputTokens, totalTokens}, metrics: {latencyMs}}`.
  `messageStop` and `metadata` are the terminal frames `no_done` drops: the stream ends after
  the last block, with no stop reason and no usage.
- A whole answer: `{output: {message: {role, content[]}}, stopReason, usage, metrics}`, each
  tool call a `toolUse` block with its `input` as a JSON value.
- Stop reasons: `end_turn`, `tool_use`, `max_tokens`, `content_filtered` (a refusal is said as
  text, and stops so).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from sparring.fake_server.dialects import bedrock_eventstream as eventstream
from sparring.fake_server.dialects.base import Frame, InvalidRequest, ParsedRequest, Route, around, compact, string
from sparring.fake_server.dialects.bedrock_common import Bedrock, model_id
from sparring.fake_server.resolve import Resolved, ResolvedChoice

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "content_filtered",
}
_STOP_REASONS["function_call"] = "tool_use"
_LATENCY_MS_PER_TOKEN = 20  # the made-up `metrics.latencyMs`: 50 tokens/s, the same run after run
_ROLES = ("user", "assistant")


class _Converse(Bedrock):
    """What Converse and ConverseStream share: the request, the stop reason, usage."""

    streams: bool
    in_stream = frozenset(
        {
            "internalServerException",
            "modelStreamErrorException",
            "validationException",
            "throttlingException",
            "serviceUnavailableException",
        }
    )

    def parse_at(self, body: object, route: Route) -> ParsedRequest:
        model = model_id(route)
        if not isinstance(body, dict):
            raise InvalidRequest("Malformed input request, please reformat your input and try again.")
        messages = body.get("messages", [])
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise InvalidRequest("1 validation error detected: Value at 'messages' failed to satisfy constraint")
        for i, message in enumerate(messages):
            if message.get("role") not in _ROLES:
                raise InvalidRequest(
                    f"1 validation error detected: Value {message.get('role')!r} at 'messages.{i + 1}.member.role'"
                    " failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"
                )
            if not isinstance(message.get("content"), list):
                raise InvalidRequest(f"1 validation error detected: Value at 'messages.{i + 1}.member.content'")
        if messages and messages[0]["role"] != "user":
            raise InvalidRequest(
                "A conversation must start with a user message. Try again with a conversation that starts with a"
                " user message."
            )
        tools = body.get("toolConfig", {}).get("tools") if isinstance(body.get("toolConfig"), dict) else None
        return ParsedRequest(
            body=body,
            model=model,
            messages=chat_messages(body.get("system"), messages),
            stream=self.streams,
            has_tools=bool(tools),
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        choice = resolved.choices[0]

        def frames() -> Iterator[Frame]:
            yield _frame("messageStart", b'{"role":"assistant"}')
            index = 0
            if choice.text or choice.refusal is not None or not choice.tool_calls:
                before, after = around({"contentBlockIndex": 0, "delta": {}}, "delta")
                for piece in choice.pieces:
                    said = before + b'{"text":' + string(piece) + b"}" + after
                    yield _frame("contentBlockDelta", said, content=bool(piece))
                yield _frame("contentBlockStop", b'{"contentBlockIndex":0}', paced=False)
                index = 1
            for call in choice.tool_calls:
                start = {"start": {"toolUse": {"toolUseId": call.id, "name": call.name}}, "contentBlockIndex": index}
                yield _frame("contentBlockStart", compact(start), content=True)
                before, after = around({"contentBlockIndex": index, "delta": {}}, "delta")
                for piece in call.pieces:
                    yield _frame("contentBlockDelta", before + b'{"toolUse":{"input":' + string(piece) + b"}}" + after)
                yield _frame("contentBlockStop", compact({"contentBlockIndex": index}), paced=False)
                index += 1
            stop = compact({"stopReason": stop_reason(choice)})
            yield _frame("messageStop", stop, paced=False, terminal=True)
            usage = {"usage": usage_of(resolved), "metrics": {"latencyMs": latency_ms(resolved)}}
            yield _frame("metadata", compact(usage), paced=False, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        choice = resolved.choices[0]
        return 1 + len(choice.pieces) + sum(1 + len(call.pieces) for call in choice.tool_calls)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        choice = resolved.choices[0]
        content: list[dict[str, Any]] = []
        if choice.text or choice.refusal is not None or not choice.tool_calls:
            content.append({"text": "".join(choice.pieces)})
        for call in choice.tool_calls:
            content.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": json.loads(call.arguments)}})
        return {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason(choice),
            "usage": usage_of(resolved),
            "metrics": {"latencyMs": latency_ms(resolved)},
        }


class BedrockConverse(_Converse):
    name = "bedrock_converse"
    path = "/model/{modelId}/converse"
    streams = False


class BedrockConverseStream(_Converse):
    name = "bedrock_converse_stream"
    path = "/model/{modelId}/converse-stream"
    streams = True


def _frame(
    event_type: str, payload: bytes, *, paced: bool = True, terminal: bool = False, content: bool = False
) -> Frame:
    return Frame(eventstream.event(event_type, payload), paced, terminal, content, malform=eventstream.malformed)


def stop_reason(choice: ResolvedChoice) -> str:
    return "content_filtered" if choice.refusal is not None else _STOP_REASONS.get(choice.finish_reason, "end_turn")


def usage_of(resolved: Resolved) -> dict[str, int]:
    prompt, completion = resolved.prompt_tokens, resolved.completion_tokens
    return {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}


def latency_ms(resolved: Resolved) -> int:
    return max(1, resolved.completion_tokens) * _LATENCY_MS_PER_TOKEN


def chat_messages(system: object, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation in Chat Completions shape, for matching and token counts: `system`
    first, text blocks joined with newlines, `toolUse` blocks as the assistant's `tool_calls`,
    `toolResult` blocks as `tool` messages (so the last *user* message is what the user wrote)."""
    chat: list[dict[str, Any]] = []
    if isinstance(system, list) and system:
        chat.append({"role": "system", "content": _text(system)})
    for message in messages:
        blocks = [b for b in message["content"] if isinstance(b, dict)]
        for block in blocks:
            result = block.get("toolResult")
            if isinstance(result, dict):
                said = _text(result.get("content"))
                chat.append({"role": "tool", "tool_call_id": result.get("toolUseId"), "content": said})
        calls = [_tool_call(b["toolUse"]) for b in blocks if isinstance(b.get("toolUse"), dict)]
        text = _text(blocks)
        if text or calls or not any("toolResult" in b for b in blocks):
            turn: dict[str, Any] = {"role": message["role"], "content": text}
            if calls:
                turn["tool_calls"] = calls
            chat.append(turn)
    return chat


def _text(blocks: object) -> str:
    """The text of a list of blocks: `text` blocks, and `json` ones (a tool result's) as JSON."""
    if not isinstance(blocks, list):
        return ""
    parts = []
    for block in blocks:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif isinstance(block, dict) and "json" in block:
            parts.append(json.dumps(block["json"], separators=(",", ":"), ensure_ascii=False))
    return "\n".join(parts)


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(block.get("input", {}), separators=(",", ":"), ensure_ascii=False)
    return {
        "id": block.get("toolUseId"),
        "type": "function",
        "function": {"name": block.get("name"), "arguments": arguments},
    }
