"""Upstreams for the recorder's tests, on 127.0.0.1: a tiny aiohttp server that sends scripted
bytes in chosen reads with chosen gaps, and ends the body as told (cleanly, with a FIN before
the chunked terminator, or with a RST). It keeps every request it got.

Reads stay reads across loopback when writes are `GAP` (50 ms) apart: each write leaves at
once (aiohttp sets TCP_NODELAY) and a reader asleep in between wakes for each. 20 ms would do; 50 ms is far
above a busy machine's scheduling jitter for a reader that is waiting already.

Bodies below are built after wire-format.md's captured traffic (§1.5, §4.2, §6.2).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

GAP = 0.05  # seconds between two scripted reads: they stay separate on the client's side


@dataclass
class Script:
    """One answer: status, headers, the body in reads, how it ends."""

    reads: Sequence[bytes] = ()
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream; charset=utf-8"})
    gap: float = GAP
    end: Literal["eof", "close", "reset", "reset_before_headers"] = "eof"
    chunked: bool = True  # else a Content-Length


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Upstream:
    """Answers each request with the next script (the last one again when they run out)."""

    def __init__(self, *scripts: Script) -> None:
        self.scripts: deque[Script] = deque(scripts)
        self.seen: list[Seen] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def __enter__(self) -> Upstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path, request.query_string, dict(request.headers), body))
        script = self.scripts.popleft() if len(self.scripts) > 1 else self.scripts[0]
        if script.end == "reset_before_headers":
            _rst(request)
            return web.Response()
        response = web.StreamResponse(status=script.status, headers=script.headers)
        if not script.chunked:
            response.content_length = sum(len(r) for r in script.reads)
        await response.prepare(request)
        for i, data in enumerate(script.reads):
            await asyncio.sleep(script.gap if i else script.gap / 2)
            await response.write(data)
        if script.end == "eof":
            await response.write_eof()
        elif script.end == "close":
            assert request.transport is not None
            request.transport.close()
        else:
            _rst(request)
        return response


def _rst(request: web.Request) -> None:
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


# -- captured traffic -------------------------------------------------------------------------


def sse(*payloads: Any, named: bool = False) -> list[bytes]:
    """`data: <compact JSON>\\n\\n` events (with `event: <type>` lines when `named`)."""
    out = []
    for p in payloads:
        data = p if isinstance(p, str) else json.dumps(p, separators=(",", ":"), ensure_ascii=False)
        head = f"event: {p['type']}\n" if named and isinstance(p, dict) else ""
        out.append(f"{head}data: {data}\n\n".encode())
    return out


_CHUNK = {
    "id": "chatcmpl-9x",
    "object": "chat.completion.chunk",
    "created": 1764680501,
    "model": "gpt-4.1-nano-2025-04-14",
    "service_tier": "default",
    "system_fingerprint": "fp_1a",
}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**_CHUNK, "choices": [choice], "obfuscation": "58LAb"}


CHAT_EVENTS = sse(
    _chunk({"role": "assistant", "content": "", "refusal": None}),
    _chunk({"content": "Hel"}),
    _chunk({"content": "lo, "}),
    _chunk({"content": "Paris é"}),
    _chunk({}, "stop"),
    "[DONE]",
)
CHAT_TEXT = "Hello, Paris é"

_RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1764680501, "model": "gpt-4.1-nano", "output": []}
_ITEM = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
_PART = {"type": "output_text", "annotations": [], "text": ""}
_DONE_PART = {**_PART, "text": "Hi there"}
_DONE_ITEM = {**_ITEM, "status": "completed", "content": [_DONE_PART]}
_USAGE = {
    "input_tokens": 5,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 2,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 7,
}
_where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
RESPONSES_EVENTS = sse(
    {"type": "response.created", "sequence_number": 0, "response": {**_RESPONSE, "status": "in_progress"}},
    {"type": "response.in_progress", "sequence_number": 1, "response": {**_RESPONSE, "status": "in_progress"}},
    {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": _ITEM},
    {"type": "response.content_part.added", "sequence_number": 3, **_where, "part": _PART},
    {"type": "response.output_text.delta", "sequence_number": 4, **_where, "delta": "Hi", "logprobs": []},
    {"type": "response.output_text.delta", "sequence_number": 5, **_where, "delta": " there", "logprobs": []},
    {"type": "response.output_text.done", "sequence_number": 6, **_where, "text": "Hi there", "logprobs": []},
    {"type": "response.content_part.done", "sequence_number": 7, **_where, "part": _DONE_PART},
    {"type": "response.output_item.done", "sequence_number": 8, "output_index": 0, "item": _DONE_ITEM},
    {
        "type": "response.completed",
        "sequence_number": 9,
        "response": {**_RESPONSE, "status": "completed", "output": [_DONE_ITEM], "usage": _USAGE},
    },
    named=True,
)
RESPONSES_TEXT = "Hi there"

_MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "content": [],
    "model": "claude-sonnet-4-5",
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 1},
}
MESSAGES_EVENTS = sse(
    {"type": "message_start", "message": _MESSAGE},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Bonjour"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " à tous"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 4},
    },
    {"type": "message_stop"},
    named=True,
)
MESSAGES_TEXT = "Bonjour à tous"

CHAT_WHOLE = json.dumps(
    {
        "id": "chatcmpl-Cukv",
        "object": "chat.completion",
        "created": 1767642812,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Whole answer.", "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        "service_tier": "default",
        "system_fingerprint": None,
    },
    indent=2,
).encode()
RESPONSES_WHOLE = json.dumps(
    {**_RESPONSE, "status": "completed", "output": [_DONE_ITEM], "usage": _USAGE}, separators=(",", ":")
).encode()
MESSAGES_WHOLE = json.dumps(
    {
        **_MESSAGE,
        "content": [{"type": "text", "text": "Whole answer."}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 3},
    }
).encode()

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "x-request-id": "req_619548c272db4f1ab380b83de9fdedef",
    "openai-processing-ms": "324",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "set-cookie": "__cf_bm=abcdefgh; path=/; HttpOnly",
    "date": "Thu, 03 Dec 2026 12:00:00 GMT",
}
JSON_HEADERS = {**SSE_HEADERS, "content-type": "application/json"}
ANTHROPIC_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "request-id": "req_011CAbc"}


def kept_reads(got: Sequence[bytes], sent: Sequence[bytes]) -> bool:
    """Whether `got` are the reads `sent` were, allowing for reads a loaded machine merged: the
    same bytes, no boundary `sent` did not have, and some of its boundaries kept. With `GAP`
    between writes they all stay on an idle machine; a busy one can sleep a reader through a
    gap (seen once in a full run on 2 shared cores)."""
    if b"".join(got) != b"".join(sent):
        return False
    edges = set(itertools.accumulate(len(r) for r in got[:-1]))
    scripted = set(itertools.accumulate(len(r) for r in sent[:-1]))
    return edges <= scripted and (bool(edges) or not scripted)


def cut(reads: Sequence[bytes], *pieces: int) -> list[bytes]:
    """The bytes of `reads` joined, cut into reads at these offsets (so an event can be torn)."""
    body = b"".join(reads)
    edges = [0, *pieces, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]
