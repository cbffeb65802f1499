"""Retrying streaming clients for the retry checks to judge: one correct, four with a classic
bug each. Every client is an async generator of text deltas over httpx, written the way an
application would write it, and sends `x-stainless-retry-count` like the openai SDK so the
journal can tell one call's retries from the next call.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import httpx

RETRYABLE_4XX = frozenset({408, 409, 429})
# A backoff base short enough for fast tests whose first jittered wait (0.06-0.08 s) is still
# no storm by the check's default min_gap (0.05 s).
QUICK = 0.08


class APIError(Exception):
    """An error status the client gave up on."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _request(
    http: httpx.AsyncClient, base_url: str, api_key: str, retry: int
) -> AbstractAsyncContextManager[httpx.Response]:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {api_key}", "x-stainless-retry-count": str(retry)}
    return http.stream("POST", f"{base_url}/chat/completions", json=body, headers=headers)


async def _deltas(response: httpx.Response) -> AsyncIterator[str]:
    async for line in response.aiter_lines():
        data = line[5:].strip() if line.startswith("data:") else None
        if data == "[DONE]":
            return
        for choice in json.loads(data)["choices"] if data else ():
            if choice["delta"].get("content"):
                yield choice["delta"]["content"]


def server_delay(headers: httpx.Headers) -> float | None:
    """retry-after-ms, else retry-after in seconds or as an HTTP date, if 0 < delay <= 60 s."""
    delay: float | None = None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            delay = float(headers[name]) * scale
            break
        except (KeyError, ValueError):
            continue
    when = email.utils.parsedate_tz(headers.get("retry-after", ""))
    if delay is None and when is not None:
        delay = email.utils.mktime_tz(when) - time.time()
    return delay if delay is not None and 0 < delay <= 60 else None


def backoff(retry: int, base: float) -> float:
    """Exponential, capped at 16x the base, less up to 25 % at random (the SDK's shape)."""
    return float(min(base * 2**retry, base * 16) * (1 - 0.25 * random.random()))


def retryable(response: httpx.Response) -> bool:
    flag = str(response.headers.get("x-should-retry", ""))
    if flag in ("true", "false"):
        return flag == "true"
    status: int = response.status_code
    return status in RETRYABLE_4XX or status >= 500


async def correct(base_url: str, api_key: str, *, max_retries: int = 2, base: float = 0.5) -> AsyncIterator[str]:
    """Retries 429, 5xx and connection errors while nothing has been yielded yet, waiting
    what the server asks or else backing off exponentially with jitter."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        for retry in range(max_retries + 1):
            yielded = False
            try:
                async with _request(http, base_url, api_key, retry) as response:
                    if response.status_code < 400:
                        async for text in _deltas(response):
                            yielded = True
                            yield text
                        return
                    if retry == max_retries or not retryable(response):
                        raise APIError(response.status_code)
                    delay = server_delay(response.headers) or backoff(retry, base)
            except httpx.TransportError:
                # Once text is out the consumer may have shown it: a retry would show it twice.
                if yielded or retry == max_retries:
                    raise
                delay = backoff(retry, base)
            await asyncio.sleep(delay)


FIXED_DELAY = 0.1


async def ignores_retry_after(
    base_url: str, api_key: str, *, max_retries: int = 2, delay: float = FIXED_DELAY
) -> AsyncIterator[str]:
    """BUG: waits a fixed delay whatever retry-after says, and never backs off."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        for retry in range(max_retries + 1):
            async with _request(http, base_url, api_key, retry) as response:
                if response.status_code < 400:
                    async for text in _deltas(response):
                        yield text
                    return
                if retry == max_retries or not retryable(response):
                    raise APIError(response.status_code)
            await asyncio.sleep(delay)  # the bug: retry-after-ms / retry-after unread


async def retries_after_output(
    base_url: str, api_key: str, *, max_retries: int = 2, base: float = QUICK
) -> AsyncIterator[str]:
    """BUG: on a connection error mid-stream it starts the whole request again, after the
    first attempt's text was already yielded: the consumer gets that text twice."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        for retry in range(max_retries + 1):
            try:
                async with _request(http, base_url, api_key, retry) as response:
                    if response.status_code >= 400:
                        raise APIError(response.status_code)
                    async for text in _deltas(response):
                        yield text
                    return
            except httpx.TransportError:
                if retry == max_retries:  # the bug: no check that nothing was yielded yet
                    raise
            await asyncio.sleep(backoff(retry, base))


STORM_ATTEMPTS = 5


async def retries_everything(base_url: str, api_key: str) -> AsyncIterator[str]:
    """BUG: retries any failure at once, 400s included, five times: a retry storm that can
    never succeed, since the request itself is what the server rejects."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        for retry in range(STORM_ATTEMPTS):
            async with _request(http, base_url, api_key, retry) as response:
                if response.status_code < 400:
                    async for text in _deltas(response):
                        yield text
                    return
                if retry == STORM_ATTEMPTS - 1:
                    raise APIError(response.status_code)
            # the bug: no look at the status, no wait


async def ignores_should_retry(
    base_url: str, api_key: str, *, max_retries: int = 2, base: float = QUICK
) -> AsyncIterator[str]:
    """BUG: decides by status code alone, so `x-should-retry: false` on a 5xx is retried and
    `x-should-retry: true` on a 4xx is not."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        for retry in range(max_retries + 1):
            async with _request(http, base_url, api_key, retry) as response:
                if response.status_code < 400:
                    async for text in _deltas(response):
                        yield text
                    return
                status = response.status_code
                if retry == max_retries or not (status in RETRYABLE_4XX or status >= 500):  # the bug
                    raise APIError(status)
                delay = server_delay(response.headers) or backoff(retry, base)
            await asyncio.sleep(delay)
