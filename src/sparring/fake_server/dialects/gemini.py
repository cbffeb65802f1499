"""The Gemini API (generativelanguage.googleapis.com), as google-genai calls it:

- `POST /{version}/models/{model}:generateContent`: `gemini_generate`, a whole answer;
- `POST /{version}/models/{model}:streamGenerateContent?alt=sse`: `gemini_stream`, an SSE
  stream of `GenerateContentResponse` objects, one per event, each `data: {...}` and a blank
  line, its lines ending in CRLF as Google's servers send them. Without `?alt=sse` Google
  streams one JSON array instead; sparring refuses that with Google's 400 (the SDK always asks
  for SSE). `version` is `v1` (google-genai's default), `v1beta` or `v1alpha`.

An answer is `candidates[].content.parts[]` (`text`, `functionCall {name, args}`) with a
`finishReason`, `usageMetadata`, `modelVersion` and `responseId`. A stream sends each text
piece and each function call in an event of its own, then a last event with the
`finishReason` and the whole usage: there is no `[DONE]`, so that event is the `terminal`
one `no_done` leaves out. A stream's in-band error is one more event, `data: {"error": ...}`,
which google-genai raises as an `APIError`. docs/gemini.md lists each fact's source.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sparring.fake_server.dialects import gemini_common as gemini
from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import (
    Dialect,
    Frame,
    HttpError,
    InvalidRequest,
    ParsedRequest,
    Route,
    compact,
    specific,
    string,
)
from sparring.fake_server.resolve import Resolved, ResolvedChoice, random_id
from sparring.scenario.delivery import Fault, LineEnding, RateLimits
from sparring.scenario.model import Content, ErrorReply
from sparring.scenario.request import Request
from sparring.scenario.text import count_prompt_tokens

# finishReason by sparring's finish reason; a function call stops with STOP, as Gemini's do.
FINISH_REASONS = {"length": "MAX_TOKENS", "content_filter": "SAFETY"}
# The rating a candidate or prompt that was blocked carries.
BLOCKED_RATING = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HOLE = "\x00sparring\x00"
# Google's JSON printer, as its SSE events show it: `": "` after a key, `,` alone between items.
_GOOGLE_JSON = json.JSONEncoder(separators=(",", ": "), ensure_ascii=False)


@dataclass(frozen=True)
class GeminiRequest(ParsedRequest):
    version: str = "v1beta"


class _Gemini(Dialect):
    """What both routes share: the request, errors and headers."""

    tool_call_prefix = "call_"  # ids of the conversation only: Gemini's calls carry none unless scripted
    line_ending: LineEnding = "crlf"  # Google ends an SSE event's lines in CRLF
    # Google sends no comment lines, and google-genai parses one (`: ping`) as JSON and fails:
    # `timing.keepalive` waits silently here.
    keepalive = False
    bad_json = "Invalid JSON payload received. Unexpected token."
    streams = False

    def refuse(self, route: Route, headers: Mapping[str, str]) -> InvalidRequest | None:
        refused = gemini.refusal(route, headers)
        if refused is None and self.streams and route.query.get("alt") != "sse":
            return InvalidRequest(
                "sparring serves streamGenerateContent as server-sent events only: add ?alt=sse to the URL "
                "(google-genai always does). Without it Google streams one JSON array, which sparring does not send."
            )
        return refused

    def parse(self, body: object) -> ParsedRequest:
        """`parse_at` without a route (the model is in the path): for a body alone, as tests
        render one, the model is the body's `model`, else `gemini-2.5-flash`."""
        model = body.get("model") if isinstance(body, dict) else None
        return self.parse_at(body, Route({"version": "v1beta", "model": str(model or "gemini-2.5-flash")}))

    def parse_at(self, body: object, route: Route) -> GeminiRequest:
        checked = gemini.check(body)
        model = route.params.get("model", "")
        if not model:
            raise InvalidRequest("* GenerateContentRequest.model: unexpected model name format\n")
        return GeminiRequest(
            body=checked,
            model=model,
            messages=gemini.conversation(checked),
            stream=self.streams,
            n=(checked.get("generationConfig") or {}).get("candidateCount", 1),
            has_tools=bool(gemini.tool_names(checked.get("tools"))),
            version=route.params.get("version", "v1beta"),
        )

    def request_of(
        self,
        parsed: ParsedRequest,
        *,
        path: str,
        headers: Mapping[str, str],
        retry_count: int | None,
        index: int,
    ) -> Request:
        """As every dialect's, with the tools' names from `functionDeclarations`."""
        request = super().request_of(parsed, path=path, headers=headers, retry_count=retry_count, index=index)
        return dataclasses.replace(request, tools=gemini.tool_names(parsed.body.get("tools")))

    def resolve(self, content: Content, request: ParsedRequest, rng: random.Random) -> Resolved:
        """As every dialect, but a function call carries an `id` only when scripted: the Gemini
        API sends none of its own."""
        resolved = super().resolve(content, request, rng)
        choices = []
        for choice, message in zip(
            resolved.choices,
            [content.messages[min(i, len(content.messages) - 1)] for i in range(len(resolved.choices))],
            strict=True,
        ):
            calls = tuple(
                call if given.id else dataclasses.replace(call, id="")
                for call, given in zip(choice.tool_calls, message.tool_calls, strict=True)
            )
            choices.append(dataclasses.replace(choice, tool_calls=calls))
        return dataclasses.replace(resolved, choices=tuple(choices))

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        response_id = random_id(rng, "", 22, _ID_ALPHABET)
        tail = {"usageMetadata": _prompt_usage(resolved), "modelVersion": resolved.model, "responseId": response_id}

        def frames() -> Iterator[Frame]:
            for choice in resolved.choices:
                before, _, after = _event({"candidates": [_candidate(choice, [{"text": _HOLE}])], **tail})
                for piece in choice.pieces:
                    yield Frame(before + string(piece) + after, content=bool(piece))
                for call in choice.tool_calls:
                    event = {"candidates": [_candidate(choice, [_function_call(call)])], **tail}
                    yield Frame(_data(event), content=True)
            last = [_candidate(c, [{"text": ""}], finished=True) for c in resolved.choices]
            event = {"candidates": last, **tail, "usageMetadata": usage(resolved)}
            yield Frame(_data(event), paced=False, terminal=True)

        return frames()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        return sum(len(c.pieces) + len(c.tool_calls) for c in resolved.choices)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        candidates = []
        for choice in resolved.choices:
            parts: list[dict[str, Any]] = [{"text": "".join(choice.pieces)}] if choice.pieces else []
            parts += [_function_call(call) for call in choice.tool_calls]
            candidates.append(_candidate(choice, parts or [{"text": ""}], finished=True))
        return {
            "candidates": candidates,
            "usageMetadata": usage(resolved),
            "modelVersion": resolved.model,
            "responseId": random_id(rng, "", 22, _ID_ALPHABET),
        }

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        return [Frame(_data(gemini.in_band(fault.error, fault.message, request.model)))]

    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        """Google sends none: scripted `rate_limits` go out under OpenAI's `x-ratelimit-*` names."""
        return common.rate_limit_headers(limits)

    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        parsed = specific(request, GeminiRequest) if request is not None else None
        model = parsed.model if parsed is not None else "the-model"
        if reply.code == "content_filter" and reply.body is None:  # what blocks Azure's prompt blocks Gemini's
            return self._blocked(reply, parsed, rng)
        return gemini.scripted_error(reply, model, parsed.version if parsed is not None else "v1beta")

    def _blocked(self, reply: ErrorReply, request: GeminiRequest | None, rng: random.Random | None) -> HttpError:
        """A prompt Google's filters block is no HTTP error: a 200 whose `promptFeedback` says
        why (`blockReason`, `SAFETY` unless the reply's `type` names another) and no candidates;
        a stream sends it as its only event."""
        prompt = request.prompt_tokens if request and request.prompt_tokens is not None else None
        tokens = prompt if prompt is not None else _count(request)
        body = {
            "promptFeedback": {"blockReason": reply.type or "SAFETY", "safetyRatings": [BLOCKED_RATING]},
            "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
            "modelVersion": request.model if request else "",
            "responseId": random_id(rng or random.Random(), "", 22, _ID_ALPHABET),
        }
        headers = dict(reply.headers)
        if request is not None and request.stream:
            headers["Content-Type"] = "text/event-stream"
            return HttpError(200, _data(body).decode().replace("\n", "\r\n"), headers)
        return HttpError(200, body, headers)

    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        return HttpError(problem.status, gemini.status_body(problem.status, problem.message))

    def claims(self, headers: Mapping[str, str]) -> bool:
        return "x-goog-api-key" in headers or headers.get("x-goog-api-client", "").startswith("google-genai-sdk/")

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        return {
            "vary": "Origin, X-Origin, Referer",
            "server": "scaffolding on HTTPServer2",
            "server-timing": f"gfet4t7; dur={processing_ms}",
            "x-xss-protection": "0",
            "x-frame-options": "SAMEORIGIN",
            "x-content-type-options": "nosniff",
        }


class GeminiGenerate(_Gemini):
    name = "gemini_generate"
    path = "/{version}/models/{model}:generateContent"


class GeminiStream(_Gemini):
    name = "gemini_stream"
    path = "/{version}/models/{model}:streamGenerateContent"
    streams = True
    stream_content_type = "text/event-stream"  # no charset, as Google sends it

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        return {"content-disposition": "attachment", **super().response_headers(rng, processing_ms=processing_ms)}


def usage(resolved: Resolved) -> dict[str, Any]:
    """`usageMetadata` of a finished answer."""
    return {
        "promptTokenCount": resolved.prompt_tokens,
        "candidatesTokenCount": resolved.completion_tokens,
        "totalTokenCount": resolved.total_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": resolved.prompt_tokens}],
    }


def _prompt_usage(resolved: Resolved) -> dict[str, Any]:
    """`usageMetadata` of an event before the last: the prompt, counted already."""
    return {
        "promptTokenCount": resolved.prompt_tokens,
        "totalTokenCount": resolved.prompt_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": resolved.prompt_tokens}],
    }


def _candidate(choice: ResolvedChoice, parts: list[dict[str, Any]], *, finished: bool = False) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finished:
        reason = FINISH_REASONS.get(choice.finish_reason, "STOP")
        candidate["finishReason"] = reason
        if reason == "SAFETY":
            candidate["safetyRatings"] = [BLOCKED_RATING]
    candidate["index"] = choice.index
    return candidate


def _function_call(call: Any) -> dict[str, Any]:
    """A `functionCall` part: `args` the scripted JSON as an object, `id` only when scripted."""
    function: dict[str, Any] = {"name": call.name, "args": json.loads(call.arguments)}
    if call.id:
        function["id"] = call.id
    return {"functionCall": function}


def _data(value: Mapping[str, Any]) -> bytes:
    """One SSE event (LF line endings: the server makes them CRLF), its JSON as Google prints it."""
    return b"data: " + _GOOGLE_JSON.encode(value).encode() + b"\n\n"


def _event(value: Mapping[str, Any]) -> tuple[bytes, bytes, bytes]:
    """An event's bytes before and after its one text (`_HOLE` in `value`): rendered once per
    choice, so each piece serializes only its text."""
    before, hole, after = _data(value).partition(compact(_HOLE))
    assert hole, "the hole is in the event"
    return before, hole, after


def _count(request: ParsedRequest | None) -> int:
    return count_prompt_tokens(request.messages) if request is not None else 0
