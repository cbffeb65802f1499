"""Recordings for the replay tests: the real transcripts of wire-format.md (§1.5 chat, §1.7 a
whole chat completion, §4.2 Responses, §6.2 Anthropic Messages), cut into reads chosen by
hand (events joined in one read, events torn across two) at chosen times, and made into
recordings the way the recorder makes them (`frames_of`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sparring import Recorded, recorded
from sparring.recorder.frames import frames_of

HEADERS_AT = 0.05  # seconds from the request to the headers, as "recorded"


def sse(*events: Any, named: bool = False) -> bytes:
    """The SSE body of `events` (JSON objects, or strings sent as they are)."""
    out = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        head = f"event: {event['type']}\n" if named and not isinstance(event, str) else ""
        out.append(f"{head}data: {data}\n\n")
    return "".join(out).encode()


def cut(body: bytes, marks: Sequence[tuple[int, float]]) -> list[tuple[bytes, float]]:
    """`body` as reads: read i starts at byte offset marks[i][0] and arrived at marks[i][1]."""
    ends = [offset for offset, _ in marks[1:]] + [len(body)]
    return [(body[start:end], at) for (start, at), end in zip(marks, ends, strict=True)]


def reads_by_events(body: bytes, plan: Sequence[tuple[int, float]]) -> list[tuple[bytes, float]]:
    """Reads that begin at event `k` (a whole-event boundary) or, with a fraction part, inside
    it: plan = [(event index * 1000 + byte offset within it, arrival)...]."""
    starts = [0]
    rest = body
    while rest:
        end = rest.index(b"\n\n") + 2
        starts.append(starts[-1] + end)
        rest = rest[end:]
    return cut(body, [(starts[key // 1000] + key % 1000, at) for key, at in plan])


_CHAT_HEAD = {
    "id": "chatcmpl-9x",
    "object": "chat.completion.chunk",
    "created": 1764680501,
    "model": "gpt-4.1-nano-2025-04-14",
    "service_tier": "default",
    "system_fingerprint": "fp_1a",
    "usage": None,
}


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**_CHAT_HEAD, "choices": [choice], **extra}


CHAT_WORDS = ["Hel", "lo", ", ", "wor", "ld", "!"]
CHAT_BODY = sse(
    _chunk({"role": "assistant", "content": "", "refusal": None}, obfuscation="58LAb"),
    *(_chunk({"content": word}) for word in CHAT_WORDS),
    _chunk({}, "stop"),
    {
        **_CHAT_HEAD,
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15},
    },
    "[DONE]",
)
# 10 events: the role chunk and the first word in one read; "lo" torn at byte 40; ", " and
# "wor" in one read; the finish, usage and [DONE] in the last read.
CHAT_READS = reads_by_events(
    CHAT_BODY,
    [(0, 0.10), (2000, 0.13), (2040, 0.16), (3000, 0.20), (5000, 0.24), (6000, 0.27), (7000, 0.31)],
)

_RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1764680501, "model": "gpt-4.1-nano", "output": []}
RESPONSES_WORDS = ["I", " am", " here", "."]
_ITEM = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
_PART = {"type": "output_text", "annotations": [], "text": ""}
_TEXT = "".join(RESPONSES_WORDS)
_DONE_PART = {**_PART, "text": _TEXT}
_DONE_ITEM = {**_ITEM, "status": "completed", "content": [_DONE_PART]}
_usage = {"input_tokens": 5, "output_tokens": 4, "total_tokens": 9}
RESPONSES_BODY = sse(
    *(
        {"type": t, "sequence_number": i, **fields}
        for i, (t, fields) in enumerate(
            [
                ("response.created", {"response": {**_RESPONSE, "status": "in_progress"}}),
                ("response.in_progress", {"response": {**_RESPONSE, "status": "in_progress"}}),
                ("response.output_item.added", {"output_index": 0, "item": _ITEM}),
                (
                    "response.content_part.added",
                    {"item_id": "msg_1", "output_index": 0, "content_index": 0, "part": _PART},
                ),
                *(
                    (
                        "response.output_text.delta",
                        {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": w, "logprobs": []},
                    )
                    for w in RESPONSES_WORDS
                ),
                (
                    "response.output_text.done",
                    {"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": _TEXT, "logprobs": []},
                ),
                (
                    "response.content_part.done",
                    {"item_id": "msg_1", "output_index": 0, "content_index": 0, "part": _DONE_PART},
                ),
                ("response.output_item.done", {"output_index": 0, "item": _DONE_ITEM}),
                (
                    "response.completed",
                    {
                        "response": {
                            **_RESPONSE,
                            "status": "completed",
                            "output": [_DONE_ITEM],
                            "usage": _usage,
                        }
                    },
                ),
            ]
        )
    ),
    named=True,
)
# 12 events: created and in_progress together; the two `added` torn at byte 60 of the
# first; each delta alone (the second torn); the three `done` and `completed` in one read.
RESPONSES_READS = reads_by_events(
    RESPONSES_BODY,
    [(0, 0.08), (2000, 0.11), (2060, 0.12), (4000, 0.15), (5000, 0.18), (5030, 0.19), (6000, 0.22), (7000, 0.25)],
)

MESSAGES_WORDS = ["Hello", " from", " Claude"]
_message = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "content": [],
    "model": "claude-sonnet-4-5",
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 1},
}
MESSAGES_BODY = sse(
    {"type": "message_start", "message": _message},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in MESSAGES_WORDS),
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3},
    },
    {"type": "message_stop"},
    named=True,
)
# 9 events: message_start alone; the block start and ping together; each delta alone (the
# first torn at byte 50); the stop, message_delta and message_stop together.
MESSAGES_READS = reads_by_events(
    MESSAGES_BODY, [(0, 0.07), (1000, 0.10), (3000, 0.14), (3050, 0.15), (4000, 0.18), (5000, 0.21), (6000, 0.24)]
)

WHOLE_CHAT_BODY = (
    b'{"id":"chatcmpl-Cukv","object":"chat.completion","created":1767642812,"model":"gpt-4o-mini-2024-07-18",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Paris is the capital of France.",'
    b'"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":14,"completion_tokens":7,"total_tokens":21},'
    b'"service_tier":"default","system_fingerprint":null}'
)
WHOLE_CHAT_READS = cut(WHOLE_CHAT_BODY, [(0, 0.06), (120, 0.09)])

BODIES = {"chat": CHAT_BODY, "responses": RESPONSES_BODY, "messages": MESSAGES_BODY}
READS = {"chat": CHAT_READS, "responses": RESPONSES_READS, "messages": MESSAGES_READS}
CONTENT_TYPES = {
    "chat": "text/event-stream; charset=utf-8",
    "responses": "text/event-stream",
    "messages": "text/event-stream",
}


def recording(api: str, reads: Sequence[tuple[bytes, float]] | None = None, **options: Any) -> Recorded:
    """The recording of `api`'s transcript, read as `reads` (its reads by default)."""
    events, tail = frames_of(reads if reads is not None else READS[api])
    assert tail is None
    headers = {
        "content-type": CONTENT_TYPES[api],
        "x-request-id": "req_recorded",
        "content-length": "999",  # hop-by-hop and length headers are not replayed
        "transfer-encoding": "chunked",
    }
    options.setdefault("headers_at", HEADERS_AT)
    return recorded(api, events=events, headers=headers, **options)


def whole_recording(**options: Any) -> Recorded:
    events, tail = frames_of(WHOLE_CHAT_READS)
    assert events == []  # a JSON body has no blank line: all of it is the tail
    assert tail is not None
    headers = {"content-type": "application/json", "x-request-id": "req_whole"}
    return recorded("chat", body=tail, headers=headers, headers_at=HEADERS_AT, **options)


def schedule(reads: Sequence[tuple[bytes, float]], speed: float = 1.0) -> list[tuple[int, float]]:
    """The recorded writes: each read's size and arrival (scaled)."""
    return [(len(data), at / speed) for data, at in reads]
