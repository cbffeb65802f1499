"""When the reference client tries again, and how long it waits first.

The rules follow the openai SDK's (wire-format.md §3.2), made explicit so they can be tested:
`x-should-retry` first, then 408, 409, 429 and 5xx, and every failure to connect; a delay the
server asks for (`retry-after-ms`, then `retry-after` in seconds or as an HTTP date) is
honoured up to a cap, otherwise exponential backoff with jitter.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import openai

_RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` tries in all; backoff `initial` * 2^n seconds, at most `max_backoff`,
    less up to 25 % jitter; a server-requested delay above `max_retry_after` is not waited
    out (the client gives up and says so instead)."""

    max_attempts: int = 3
    initial: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0


def is_transport_error(exc: BaseException) -> bool:
    """A broken connection as older SDKs raise it: a raw httpx/httpcore exception mid-stream."""
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "anyio", "h11")


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError):
        should = exc.response.headers.get("x-should-retry")
        if should in ("true", "false"):
            return should == "true"
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    if isinstance(exc, openai.APIConnectionError) or is_transport_error(exc):
        return True
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        return exc.type in ("server_error", "requests", "tokens") or exc.code in ("rate_limit_exceeded", "server_error")
    return False


def server_delay(exc: BaseException) -> float | None:
    """Seconds the server asked the client to wait, if it said."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            value = headers["retry-after"]
            try:
                return float(value)
            except ValueError:
                return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
    return None


def backoff(policy: RetryPolicy, retries_taken: int, rng: random.Random) -> float:
    return float(min(policy.initial * 2**retries_taken, policy.max_backoff) * (1 - 0.25 * rng.random()))


def describe(exc: BaseException) -> str:
    """One readable sentence for an ERROR event."""
    if isinstance(exc, openai.APIStatusError):
        message = _message(exc.body) or exc.message
        return f"HTTP {exc.status_code} {type(exc).__name__}: {message}"
    if isinstance(exc, openai.APIConnectionError) or is_transport_error(exc):
        return f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, openai.APIError):
        return f"error in the stream ({exc.code or exc.type or 'unknown'}): {exc.message}"
    if isinstance(exc, json.JSONDecodeError):
        return f"the server sent a malformed chunk: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"the server sent bytes that are not UTF-8: {exc.reason} at byte {exc.start}"
    return f"{type(exc).__name__}: {exc}"


def _message(body: Any) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return None
