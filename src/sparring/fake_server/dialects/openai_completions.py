"""OpenAI legacy Completions: `POST /v1/completions`, streamed and not (wire-format.md §5).

Every chunk is a whole `text_completion` object carrying one choice's next `text`; each
choice ends with a chunk of empty text and its `finish_reason`; `include_usage` adds a last
chunk with `choices: []`; `data: [DONE]` ends the stream. Same SSE rules as Chat.

This API has no tool calls and no refusal field, so only text is rendered: a tool-call-only
reply is empty text finishing `stop`, and a scripted refusal is said as plain text (what a
completion model would do). Finish reasons this API lacks (`tool_calls`) become `stop`.

A list of prompts is a batch: `n` choices per prompt, indexes `prompt * n + choice`, as the
real API numbers them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Frame, InvalidRequest, ParsedRequest, around, compact, specific, string
from sparring.fake_server.dialects.openai_chat import DONE
from sparring.fake_server.resolve import Resolved, ResolvedChoice
from sparring.scenario.text import count_tokens

_FINISH_REASONS = ("stop", "length", "content_filter")


@dataclass(frozen=True)
class CompletionsRequest(ParsedRequest):
    """What Completions reads besides: `stream_options.include_usage`."""

    include_usage: bool = False


class Completions(common.OpenAIDialect):
    name = "completions"
    path = "/v1/completions"

    def parse(self, body: object) -> CompletionsRequest:
        body = common.object_with_model(body, "prompt")
        texts, prompt_tokens = prompts(body["prompt"], "prompt")
        stream = body.get("stream")
        if stream is not None:
            common.require_type(body, "stream", bool, "a boolean")
        n = bounded_int(body, "n", 1, 128) or 1
        bounded_int(body, "max_tokens", 0, None)
        options = body.get("stream_options")
        if options is not None:
            if not stream:
                raise InvalidRequest(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    param="stream_options",
                )
            common.require_type(body, "stream_options", dict, "an object")
        return CompletionsRequest(
            body=body,
            model=body["model"],
            # One user message per prompt: rules match on the last prompt, as on Chat's last user message.
            messages=[{"role": "user", "content": text} for text in texts],
            stream=bool(stream),
            n=n * len(texts),  # a batch answers every prompt with its own n choices
            prompt_tokens=sum(prompt_tokens),
            include_usage=(options or {}).get("include_usage") is True,
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        include_usage = specific(request, CompletionsRequest).include_usage
        head: dict[str, Any] = {
            "id": common.new_id(rng, "cmpl-"),
            "object": "text_completion",
            "created": int(time.time()),
            "choices": [],
            "model": resolved.model,
        }
        if include_usage:
            head["usage"] = None
        # Every chunk is `head` with one choice entry: `head` is rendered once, around the entry.
        before, after = around(head, "choices")
        prefix, suffix = b"data: " + before + b"[", b"]" + after + b"\n\n"
        # `pieces` are the text's, or the refusal's; a tool-call-only reply has none.
        per_choice = [_entries(c) for c in resolved.choices]

        def frames() -> Iterator[Frame]:
            for entry, shows in common.interleave(per_choice):
                yield Frame(prefix + entry + suffix, content=shows)
            if include_usage:
                last = {**head, "usage": usage(resolved, request)}
                yield Frame(b"data: " + compact(last) + b"\n\n", paced=False)
            yield Frame(DONE, paced=False, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        return sum(len(c.pieces) + 1 for c in resolved.choices)  # the pieces, then the finish

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        return {
            "id": common.new_id(rng, "cmpl-"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": resolved.model,
            "choices": [_entry(c, _text(c), _finish(c)) for c in resolved.choices],
            "usage": usage(resolved, request),
        }


def prompts(value: object, param: str) -> tuple[list[str], list[int]]:
    """A prompt (or embeddings input) as texts and their token counts. A string, a list of
    strings, one token array or a list of token arrays; a token array's text is its ids joined
    by spaces, so rules can still match on it, and its count is its length."""
    if isinstance(value, str):
        return [value], [count_tokens(value)]
    if not isinstance(value, list) or not value:
        raise _invalid_input(param, "expected a non-empty string or array")
    if all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        if not all(_is_token(t) for t in value):
            raise _invalid_input(param, "token ids must be integers >= 0")
        return [_token_text(value)], [len(value)]
    texts: list[str] = []
    counts: list[int] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            texts.append(item)
            counts.append(count_tokens(item))
        elif isinstance(item, list) and item and all(_is_token(t) for t in item):
            texts.append(_token_text(item))
            counts.append(len(item))
        else:
            raise _invalid_input(param, f"{param}[{i}] must be a string or a non-empty array of token ids")
    return texts, counts


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _token_text(tokens: list[Any]) -> str:
    return " ".join(str(t) for t in tokens)


def _invalid_input(param: str, why: str) -> InvalidRequest:
    # The real API's words for a malformed prompt/input, plus what exactly is wrong.
    return InvalidRequest(
        f"'$.{param}' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference. "
        f"(sparring: {why}.)",
        param=param,
        code="invalid_value",
    )


def bounded_int(body: dict[str, Any], key: str, low: int, high: int | None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    common.require_type(body, key, int, "an integer")
    if value < low or (high is not None and value > high):
        below = value < low
        raise InvalidRequest(
            f"Invalid '{key}': integer {'below minimum' if below else 'above maximum'} value. "
            f"Expected a value {f'>= {low}' if below else f'<= {high}'}, but got {value} instead.",
            param=key,
            code="integer_below_min_value" if below else "integer_above_max_value",
        )
    return int(value)


def _text(choice: ResolvedChoice) -> str:
    return choice.refusal if choice.refusal is not None else choice.text or ""


def _finish(choice: ResolvedChoice) -> str:
    return choice.finish_reason if choice.finish_reason in _FINISH_REASONS else "stop"


def _entries(choice: ResolvedChoice) -> Iterator[tuple[bytes, bool]]:
    """Every chunk's choice entry for one choice, as JSON, and whether it carries text: one
    per piece (only the piece is serialized for each), then the finish entry."""
    after = b',"index":%d,"logprobs":null,"finish_reason":null}' % choice.index
    for piece in choice.pieces:
        yield b'{"text":' + string(piece) + after, bool(piece)
    yield compact(_entry(choice, "", _finish(choice))), False


def _entry(choice: ResolvedChoice, text: str, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": choice.index, "logprobs": None, "finish_reason": finish}


def usage(resolved: Resolved, request: ParsedRequest) -> dict[str, int]:
    """Counts as this API gives them: the prompt's own tokens (the request's count), and only
    the text rendered; a count scripted in the reply is kept as scripted."""
    prompt = resolved.prompt_tokens
    completion = resolved.scripted.completion_tokens
    if completion is None:
        completion = sum(count_tokens(_text(c)) for c in resolved.choices)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
