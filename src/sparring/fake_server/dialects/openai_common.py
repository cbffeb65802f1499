"""What all OpenAI endpoints share: error bodies, error presets, headers, type checks.

Error shape: `{"error": {"message", "type", "param", "code"}}` (wire-format.md §3.1). The SDK
maps the status to an exception class and reads `x-request-id`, `retry-after-ms`,
`retry-after` and `x-should-retry` (§3.2).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from email.utils import formatdate
from typing import Any, TypeVar

from sparring.fake_server.dialects.base import Dialect, Frame, HttpError, InvalidRequest, ParsedRequest, compact
from sparring.fake_server.resolve import random_id, random_text
from sparring.scenario.delivery import Fault, RateLimits
from sparring.scenario.model import ErrorReply

T = TypeVar("T")

# preset: (status, type, code, param, message). `{model}` and `{key}` come from the request.
PRESETS: dict[str, tuple[int, str, str | int | None, str | None, str]] = {
    "rate_limit": (
        429,
        "requests",
        "rate_limit_exceeded",
        None,
        "Rate limit reached for {model} in organization org-sparring on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in {wait}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    "insufficient_quota": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        None,
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    ),
    "server_error": (
        500,
        "server_error",
        None,
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    "bad_gateway": (502, "cf_bad_gateway", 502, None, "Bad gateway."),
    "unavailable": (503, "server_error", None, None, "The server is overloaded or not ready yet."),
    "overloaded": (503, "server_error", None, None, "The engine is currently overloaded, please try again later."),
    "timeout": (504, "cf_gateway_timeout", 504, None, "Gateway timeout."),
    "bad_request": (400, "invalid_request_error", None, None, "Bad request."),
    "context_length_exceeded": (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "131072 tokens. Please reduce the length of the messages.",
    ),
    "unauthorized": (
        401,
        "invalid_request_error",
        "invalid_api_key",
        None,
        "Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    "forbidden": (
        403,
        "invalid_request_error",
        "unsupported_country_region_territory",
        None,
        "Country, region, or territory not supported",
    ),
    "not_found": (
        404,
        "invalid_request_error",
        "model_not_found",
        None,
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    "conflict": (
        409,
        "invalid_request_error",
        "conflict",
        None,
        "The request conflicts with another request in progress. Please retry.",
    ),
}
_BY_STATUS = {429: "rate_limit", 500: "server_error", 502: "bad_gateway", 503: "unavailable", 504: "timeout"}


def error_body(message: str, type_: str, param: str | None = None, code: str | int | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def seconds_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def retry_headers(reply: ErrorReply, preset: str | None) -> dict[str, str]:
    """`retry-after` / `retry-after-ms` as scripted; a rate limit with neither gets 1 s of each."""
    headers: dict[str, str] = {}
    after, after_ms = reply.retry_after, reply.retry_after_ms
    if after is None and after_ms is None and preset == "rate_limit":
        after, after_ms = 1, 1000
    if isinstance(after, (int, float)) and reply.retry_after_format == "date":
        headers["retry-after"] = http_date(after)
    elif after is not None:
        headers["retry-after"] = after if isinstance(after, str) else seconds_text(after)
    if after_ms is not None:
        headers["retry-after-ms"] = seconds_text(after_ms)
    if reply.should_retry is not None:
        headers["x-should-retry"] = "true" if reply.should_retry else "false"
    if preset == "rate_limit":
        wait = after_ms / 1000 if after_ms is not None else (after if isinstance(after, (int, float)) else 1)
        headers.update(rate_limit_headers(RateLimits(limit_requests=3, remaining_requests=0, reset_requests=wait)))
    if reply.rate_limits is not None:
        headers.update(rate_limit_headers(reply.rate_limits))
    return headers


def http_date(seconds_from_now: float) -> str:
    """`retry-after` in its other form: `Wed, 21 Oct 2026 07:28:00 GMT`, rounded up so the
    client never waits less than scripted."""
    return formatdate(math.ceil(time.time() + seconds_from_now), usegmt=True)


def rate_limit_headers(limits: RateLimits) -> dict[str, str]:
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        limit, remaining, reset = (getattr(limits, f"{f}_{kind}") for f in ("limit", "remaining", "reset"))
        if limit is not None:
            headers[f"x-ratelimit-limit-{kind}"] = str(limit)
        if remaining is not None:
            headers[f"x-ratelimit-remaining-{kind}"] = str(remaining)
        if reset is not None:
            headers[f"x-ratelimit-reset-{kind}"] = go_duration(reset)
    return headers


def in_band_error(fault: Fault, model: str | None) -> dict[str, Any]:
    """The error event of a stream: the nested `{"error": {...}}` the SDK raises on."""
    preset = fault.error if fault.error in PRESETS else "server_error"
    _, type_, code, param, message = PRESETS[preset]
    text = fault.message or message.format(model=model or "the model", key="(hidden)", wait="1s")
    return error_body(text, type_, param, code)


def go_duration(seconds: float) -> str:
    """Go-style duration as in `x-ratelimit-reset-*`: `6ms`, `1s`, `23m16.298s`."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def scripted_error(reply: ErrorReply, model: str | None, api_key: str | None) -> HttpError:
    preset = reply.preset or _BY_STATUS.get(reply.status or 0)
    if preset in PRESETS:
        status, type_, code, param, message = PRESETS[preset]
    else:
        status, code, param = 0, None, None
    status = reply.status or status
    if preset not in PRESETS:
        type_ = "server_error" if status >= 500 else "invalid_request_error"
        message = f"Error {status}, scripted by sparring."
    text = message.format(model=model or "the model", key=_masked(api_key), wait=_wait_text(reply))
    body: dict[str, Any] | str
    if reply.body is not None:
        body = dict(reply.body) if not isinstance(reply.body, str) else reply.body
    else:
        body = error_body(
            reply.message or text,
            reply.type or type_,
            reply.param if reply.param is not None else param,
            reply.code if reply.code is not None else code,
        )
    headers = retry_headers(reply, preset)  # a bare 429 is the rate_limit preset, headers and all
    headers.update(reply.headers)
    return HttpError(status, body, headers)


def _wait_text(reply: ErrorReply) -> str:
    """How long the rate-limit message says to wait: what the headers say, else 1 s."""
    if reply.retry_after_ms is not None:
        return f"{reply.retry_after_ms:g}ms"
    if isinstance(reply.retry_after, (int, float)):
        return f"{reply.retry_after:g}s"
    return "1s"


def _masked(key: str | None) -> str:
    if not key:
        return "(none)"
    return key[:3] + "*" * max(len(key) - 7, 4) + key[-4:] if len(key) > 8 else "sk-****"


def invalid(problem: InvalidRequest) -> HttpError:
    return HttpError(problem.status, error_body(problem.message, "invalid_request_error", problem.param, problem.code))


def response_headers(rng: random.Random, *, processing_ms: int) -> dict[str, str]:
    return {
        "x-request-id": "req_" + rng.randbytes(16).hex(),
        "openai-processing-ms": str(processing_ms),
        "openai-version": "2020-10-01",
        "openai-organization": "user-sparring",
        "openai-project": "proj_sparring",
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-limit-tokens": "50000000",
        "x-ratelimit-remaining-requests": "9999",
        "x-ratelimit-remaining-tokens": "49999974",
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-reset-tokens": "0s",
    }


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def type_name(value: object) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def require_type(body: dict[str, Any], key: str, expected: type | tuple[type, ...], noun: str) -> None:
    """OpenAI's wording: "Invalid type for 'n': expected an integer, but got a string instead."."""
    value = body[key]
    bad_bool = isinstance(value, bool) and bool not in (expected if isinstance(expected, tuple) else (expected,))
    if bad_bool or not isinstance(value, expected):
        raise InvalidRequest(
            f"Invalid type for '{key}': expected {noun}, but got {_article(type_name(value))} instead.",
            param=key,
            code="invalid_type",
        )


def interleave(per_choice: Sequence[Iterable[T]]) -> Iterator[T]:
    """Round-robin across choices, index 0 first, as the API sends `n > 1`; lazily."""
    if len(per_choice) == 1:  # the usual case, without a step per entry
        return iter(per_choice[0])
    return _round_robin([iter(entries) for entries in per_choice])


def _round_robin(running: list[Iterator[T]]) -> Iterator[T]:
    while running:
        still: list[Iterator[T]] = []
        for entries in running:
            for entry in entries:  # its next entry, if it has one left
                yield entry
                still.append(entries)
                break
        running = still


class Padding:
    """The random `obfuscation` padding current traffic adds to deltas (so sizes leak
    nothing): 1 to 16 letters and digits a call, as JSON string content. One per stream,
    seeded from the server's generator when the stream starts; its own generator then draws
    lengths and characters in blocks, so a padding costs a few slices."""

    _BLOCK = 4096

    def __init__(self, rng: random.Random) -> None:
        self._rng = random.Random(rng.getrandbits(64))
        self._lengths, self._chars = b"", b""
        self._next_length = self._next_char = 0

    def __call__(self) -> bytes:
        if self._next_length == len(self._lengths):
            self._lengths, self._next_length = self._rng.randbytes(self._BLOCK), 0
        length = (self._lengths[self._next_length] & 15) + 1  # 16 divides 256: all equally likely
        self._next_length += 1
        start = self._next_char
        if start + length > len(self._chars):
            self._chars, start = self._chars[start:] + random_text(self._rng, self._BLOCK), 0
        self._next_char = start + length
        return self._chars[start : start + length]


def object_with_model(body: object, required: str) -> dict[str, Any]:
    """The checks every OpenAI endpoint makes first, in the API's words: a JSON object, a
    string `model`, and the endpoint's main parameter (`messages`, `prompt`, `input`)."""
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"Invalid type for body: expected an object, but got {type_name(body)} instead.", code="invalid_type"
        )
    if body.get("model") in (None, ""):
        raise InvalidRequest("you must provide a model parameter")
    require_type(body, "model", str, "a string")
    if required not in body:
        raise InvalidRequest(
            f"Missing required parameter: '{required}'.", param=required, code="missing_required_parameter"
        )
    return body


def _article(name: str) -> str:
    if name == "null":
        return name
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def new_id(rng: random.Random, prefix: str, length: int = 29) -> str:
    return random_id(rng, prefix, length)


class OpenAIDialect(Dialect):
    """What every OpenAI endpoint answers alike: errors, rejections, misses, headers, and the
    in-band error event (`data: {"error": {...}}`), which the SDK raises as `APIError`."""

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        return [Frame(b"data: " + compact(in_band_error(fault, request.model)) + b"\n\n")]

    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        return rate_limit_headers(limits)

    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        return scripted_error(reply, request.model if request else None, api_key)

    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        return invalid(problem)

    def unmatched(self, message: str, rng: random.Random | None = None) -> HttpError:
        body = error_body(message, "sparring_unmatched_request", code="sparring_no_reply")
        return HttpError(404, body, {"x-should-retry": "false"})

    def failed(
        self, message: str, code: str = "sparring_callback_error", rng: random.Random | None = None
    ) -> HttpError:
        body = error_body(message, "server_error", code=code)
        return HttpError(500, body, {"x-should-retry": "false"})

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        return response_headers(rng, processing_ms=processing_ms)
