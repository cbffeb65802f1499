"""Retry loops written around a client, the way applications write them: over the openai SDK
with its own retries off (`max_retries=0`), and over raw httpx. One is correct; each other has
one classic bug. The SDK sends `x-stainless-retry-count: 0` on every attempt of these loops,
and raw httpx sends no count at all, so the retry check must see the retries from what
happened, not from the count.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import httpx
import openai

# What a naive wrapper catches: any failure of the SDK, and the raw httpx error that openai 2.x
# lets through from a broken stream.
ANY_FAILURE = (openai.APIError, httpx.HTTPError)
ATTEMPTS = 3


def messages(prompt: str) -> list[Any]:
    return [{"role": "user", "content": prompt}]


async def ask(client: openai.AsyncOpenAI, prompt: str, shown: list[str] | None = None) -> str:
    """One streamed answer; each piece goes to `shown` as it comes, as a UI would show it."""
    stream = await client.chat.completions.create(model="gpt-4o", messages=messages(prompt), stream=True)
    pieces = shown if shown is not None else []
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
    return "".join(pieces)


def asked_wait(headers: Any) -> float | None:
    """retry-after-ms, else retry-after in seconds or as an HTTP date; None outside 0-60 s."""
    delay: float | None = None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            delay = float(headers[name]) * scale
            break
        except (KeyError, ValueError):
            continue
    when = email.utils.parsedate_tz(headers.get("retry-after") or "")
    if delay is None and when is not None:
        delay = email.utils.mktime_tz(when) - time.time()
    return delay if delay is not None and 0 < delay <= 60 else None


# -- correct -----------------------------------------------------------------------------------


async def honours_retry_after(client: openai.AsyncOpenAI, prompt: str, *, backoff: float = 0.1) -> str:
    """Retries 408, 409, 429, 5xx and connection errors, never after output; waits what the
    server asks, else backs off."""
    for attempt in range(ATTEMPTS):
        shown: list[str] = []
        try:
            return await ask(client, prompt, shown)
        except openai.APIStatusError as exc:
            retryable = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            if not retryable or attempt == ATTEMPTS - 1:
                raise
            delay = asked_wait(exc.response.headers) or backoff * 2**attempt
        except ANY_FAILURE:
            if shown or attempt == ATTEMPTS - 1:
                raise
            delay = backoff * 2**attempt
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


# -- broken, one bug each ----------------------------------------------------------------------


async def no_wait(client: openai.AsyncOpenAI, prompt: str) -> str:
    """BUG: retries a rate limit at once, whatever retry-after says."""
    for attempt in range(ATTEMPTS):
        try:
            return await ask(client, prompt)
        except openai.RateLimitError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


FIXED_WAIT = 0.1


async def fixed_wait(client: openai.AsyncOpenAI, prompt: str) -> str:
    """BUG: waits a fixed 0.1 s, shorter than what the server asks."""
    for attempt in range(ATTEMPTS):
        try:
            return await ask(client, prompt)
        except openai.RateLimitError:
            if attempt == ATTEMPTS - 1:
                raise
        await asyncio.sleep(FIXED_WAIT)
    raise AssertionError("unreachable")


async def restarts_after_output(client: openai.AsyncOpenAI, prompt: str, shown: list[str]) -> str:
    """BUG: on any failure, starts over, even when the stream broke after text was shown."""
    for attempt in range(ATTEMPTS):
        try:
            return await ask(client, prompt, shown)
        except ANY_FAILURE:
            if attempt == ATTEMPTS - 1:
                raise
        await asyncio.sleep(FIXED_WAIT)
    raise AssertionError("unreachable")


async def retries_any_status(client: openai.AsyncOpenAI, prompt: str) -> str:
    """BUG: retries every error status, a 400 included, which can only fail again."""
    for attempt in range(ATTEMPTS):
        try:
            return await ask(client, prompt)
        except openai.APIStatusError:
            if attempt == ATTEMPTS - 1:
                raise
        await asyncio.sleep(FIXED_WAIT)
    raise AssertionError("unreachable")


def httpx_no_wait(base_url: str, api_key: str, prompt: str) -> str:
    """BUG, over raw httpx (no retry count): retries any error status at once."""
    body = {"model": "gpt-4o", "messages": messages(prompt)}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}) as http:
        for _ in range(ATTEMPTS):
            response = http.post("/chat/completions", json=body)
            if response.status_code == 200:
                return str(response.json()["choices"][0]["message"]["content"])
    raise RuntimeError(f"gave up after {ATTEMPTS} attempts")
