"""`LLMClient`: a streaming chat client that does the async-generator patterns right.

- `chat_completion` is an async generator of `StreamEvent`s; the HTTP stream it opens is
  closed in `finally`, on every way out (the end, `break`, cancellation, an exception in the
  consumer, a broken connection), and nothing is yielded while closing.
- It retries failures that happen before anything was yielded (rate limits, overloads,
  5xx, broken connections), waiting what the server asks or backing off exponentially. It
  never retries once output was yielded: the consumer may already have shown that text.
- When it gives up it yields one `ERROR` event instead of raising.

The `openai` SDK's own retries are turned off so there is one retry loop, this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import openai

from sparring.client import retry
from sparring.client.events import (
    EventType,
    StreamEvent,
    ToolCall,
    ToolCallDelta,
    Usage,
    failure,
    text_delta,
)
from sparring.client.retry import RetryPolicy

DEFAULT_MODEL = "gpt-4o-mini"


@dataclass
class _Call:
    """A tool call being assembled from fragments."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class LLMClient:
    """A chat client configured like the `openai` SDK: from `OPENAI_BASE_URL`,
    `OPENAI_API_KEY` and `OPENAI_MODEL`, or keyword arguments, which win."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 60.0,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.model = model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client: openai.AsyncOpenAI | None = None

    def get_client(self) -> openai.AsyncOpenAI:
        """The SDK client, made on first use, with the SDK's own retries off."""
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def chat_completion(
        self, messages: Sequence[dict[str, Any]], stream: bool = True, **params: Any
    ) -> AsyncGenerator[StreamEvent, None]:
        """Events for one chat completion: deltas as they stream in, then `MESSAGE_COMPLETE`;
        or one `MESSAGE_COMPLETE` with the whole answer when `stream=False`; or an `ERROR`."""
        kwargs: dict[str, Any] = {"model": self.model, "messages": list(messages), **params}
        policy = self.retry_policy
        for attempt in range(1, policy.max_attempts + 1):
            yielded = False
            # Say which retry this is, as the SDK's own loop does: servers (and sparring's
            # retry checks) tell one call's attempts apart by it.
            kwargs["extra_headers"] = {**params.get("extra_headers", {}), "x-stainless-retry-count": str(attempt - 1)}
            try:
                if stream:
                    # aclosing: when our consumer leaves, the inner generator (and the HTTP
                    # stream in its finally) closes now, not whenever it is garbage collected.
                    async with contextlib.aclosing(self._stream_response(kwargs)) as events:
                        async for event in events:
                            yielded = True
                            yield event
                else:
                    yield await self._non_stream_response(kwargs)
                return
            except (openai.APIError, ValueError) as exc:  # ValueError: bytes that are not JSON or not UTF-8
                error: BaseException = exc
            except Exception as exc:
                if not retry.is_transport_error(exc):
                    raise
                error = exc
            wait = self._retry_delay(error, attempt, yielded)
            if wait is None:
                yield failure(retry.describe(error), retryable=retry.retryable(error))
                return
            await self._sleep(wait)

    def _retry_delay(self, error: BaseException, attempt: int, yielded: bool) -> float | None:
        """Seconds to wait before trying again, or None to give up."""
        policy = self.retry_policy
        if yielded or attempt >= policy.max_attempts or not retry.retryable(error):
            return None
        asked = retry.server_delay(error)
        if asked is not None and asked > 0:
            return asked if asked <= policy.max_retry_after else None
        return retry.backoff(policy, attempt - 1, self._rng)

    async def _stream_response(self, kwargs: dict[str, Any]) -> AsyncGenerator[StreamEvent, None]:
        response = await self.get_client().chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        calls: dict[int, _Call] = {}
        parts: list[str] = []
        refusal: list[str] = []
        finish_reason: str | None = None
        usage: Usage | None = None
        try:
            async for chunk in response:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens, chunk.usage.total_tokens)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if delta.content:
                        parts.append(delta.content)
                        yield text_delta(delta.content)
                    if delta.refusal:
                        refusal.append(delta.refusal)
                    for fragment in delta.tool_calls or ():
                        call = calls.setdefault(fragment.index, _Call())
                        function = fragment.function
                        call.id = fragment.id or call.id
                        call.name = (function.name if function else None) or call.name
                        arguments = (function.arguments if function else None) or ""
                        call.arguments.append(arguments)
                        yield StreamEvent(
                            EventType.TOOL_CALL_DELTA,
                            tool_call_delta=ToolCallDelta(fragment.index, fragment.id, call.name or None, arguments),
                        )
                    finish_reason = choice.finish_reason or finish_reason
        finally:
            await response.close()  # on every way out; never a yield in here
        finished = tuple(_finish(index, partial) for index, partial in sorted(calls.items()))
        for done in finished:
            yield StreamEvent(EventType.TOOL_CALL_COMPLETE, tool_call=done)
        yield StreamEvent(
            EventType.MESSAGE_COMPLETE,
            finish_reason=finish_reason,
            usage=usage,
            text="".join(parts),
            refusal="".join(refusal) or None,
            tool_calls=finished,
        )

    async def _non_stream_response(self, kwargs: dict[str, Any]) -> StreamEvent:
        completion = await self.get_client().chat.completions.create(**kwargs, stream=False)
        choice = completion.choices[0]
        usage = completion.usage
        calls = tuple(
            ToolCall(i, c.id, c.function.name, _arguments(c.function.arguments))
            for i, c in enumerate(choice.message.tool_calls or ())
            if c.type == "function"
        )
        return StreamEvent(
            EventType.MESSAGE_COMPLETE,
            finish_reason=choice.finish_reason,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) if usage else None,
            text=choice.message.content or "",
            refusal=choice.message.refusal,
            tool_calls=calls,
        )


def _finish(index: int, call: _Call) -> ToolCall:
    return ToolCall(index, call.id, call.name, _arguments("".join(call.arguments)))


def _arguments(text: str) -> dict[str, Any]:
    """Parsed arguments; a model can send invalid JSON, which becomes a JSONDecodeError the
    retry loop reports as an ERROR event."""
    parsed = json.loads(text or "{}")
    return parsed if isinstance(parsed, dict) else {"value": parsed}
