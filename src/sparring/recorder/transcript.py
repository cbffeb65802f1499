"""A raw transcript into a scenario: what `curl -N` prints (the body), or `curl -N -i` (the
status line and headers, then the body), with LF or CRLF line endings.

An SSE body becomes one `Recorded` stream, its events byte for byte; so does an NDJSON body
(Ollama's streams: `Content-Type: application/x-ndjson`, or several lines of JSON objects),
one event per line; a JSON body a whole recorded answer; an HTTP error status an `error:`
reply with the exact body. A transcript holds no timing: every event arrives at 0 (one
read), or `gap` seconds after the one before. The API is read from the events (chat chunks,
Responses `response.*` events, Anthropic `message_start`, Ollama's `message` or `response`
records...) unless given; Azure OpenAI's answers are OpenAI's, so they need `--api azure_chat`
(or another Azure route's name).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath

from sparring.errors import SparringError, closest
from sparring.fake_server.recorded_events import line_json
from sparring.recorder.capture import kept_headers
from sparring.recorder.derive import payload
from sparring.recorder.frames import NDJSON, frames_of
from sparring.scenario.delivery import Fault
from sparring.scenario.match import ENDPOINTS, Match
from sparring.scenario.model import ErrorReply, Reply, Rule, Scenario
from sparring.scenario.recording import Recorded, RecordedEvent

# Retry advice an error reply carries in keys of its own (`retry_after`...), not as headers.
_RETRY = ("retry-after", "retry-after-ms", "x-should-retry")
_STATUS_LINE = re.compile(rb"HTTP/[0-9.]+ +([0-9]{3})\b[^\r\n]*")
_HEAD_END = re.compile(rb"\r\n\r\n|\n\n")
_ANTHROPIC = ("message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta")
_WHOLE = {"chat.completion": "chat", "response": "responses", "text_completion": "completions"}


class TranscriptError(SparringError, ValueError):
    """A transcript sparring cannot read: says where, and what is wrong."""


@dataclass(frozen=True)
class _Head:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = ""
    lines: int = 0  # lines before the body, to point at a line of the transcript


def import_transcript(
    transcript: bytes | str,
    *,
    api: str | None = None,
    model: str | None = None,
    message: str | None = None,
    gap: float = 0.0,
    source: str = "<transcript>",
) -> Scenario:
    """A scenario with one rule answering as the transcript says (see the module's doc).

    `api` names the endpoint when the events do not tell (`chat`, `responses`, `messages`,
    `completions`, `embeddings`); `model` and `message` go into the rule's match; `gap` is the
    seconds between events (a transcript has no timing: 0 sends them all in one read)."""
    data = transcript.encode() if isinstance(transcript, str) else transcript
    if api is not None and api not in ENDPOINTS:
        hint = closest(api, list(ENDPOINTS))
        raise TranscriptError(
            f"unknown API {api!r}; one of {', '.join(ENDPOINTS)}" + (f" (did you mean {hint!r}?)" if hint else "")
        )
    if not gap >= 0:
        raise TranscriptError(f"gap must be seconds >= 0, got {gap!r}")
    head, body = _head(data, source)
    reply: Reply
    if not (200 <= head.status <= 299 or 400 <= head.status <= 599):
        raise TranscriptError(
            f"{source}:1: status {head.status}: a transcript imports as an answer (2xx) or an error (4xx, 5xx)"
        )
    if head.status >= 400:
        reply = _error(head, body)
    elif _is_sse(head, body):
        reply = _stream(head, body, api, gap, source)
    elif _is_ndjson(head, body):
        reply = _ndjson_stream(head, body, api, gap, source)
    else:
        reply = _whole(head, body, api, source)
    endpoint = reply.api if isinstance(reply, Recorded) else api
    rule = Rule(replies=(reply,), match=Match(endpoint=endpoint, model=model, message=message))
    name = PurePath(source).stem if source not in ("<transcript>", "<stdin>") else None
    pace = "every event in one read" if gap == 0 else f"events {gap:g} s apart"
    description = f"imported from {source} by sparring import; a transcript has no timing: {pace}"
    return Scenario(rules=(rule,), name=name, description=description)


def _head(data: bytes, source: str) -> tuple[_Head, bytes]:
    """The last response head (`curl -i` prints interim ones too: 100 Continue, a proxy's
    200), and the body after it. Without a status line, the whole transcript is the body."""
    head, lines = _Head(), 0
    while (status := _STATUS_LINE.match(data)) is not None:
        end = _HEAD_END.search(data)
        if end is None:
            raise TranscriptError(f"{source}:{lines + 1}: a status line, but no blank line ends the headers")
        block = data[: end.start()].decode("latin-1").splitlines()
        headers: dict[str, str] = {}
        for i, line in enumerate(block[1:], start=lines + 2):
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise TranscriptError(f"{source}:{i}: not a header line: {line[:60]!r}")
            headers[name.strip().lower()] = value.strip()
        lines += len(block) + 1
        head = _Head(int(status.group(1)), headers, headers.get("content-type", ""), lines)
        data = data[end.end() :]
    return head, data


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers the recorder keeps (`capture.kept_headers`), but the content type: a
    transcript's replay takes the API's own."""
    return {name: value for name, value in kept_headers(headers).items() if name != "content-type"}


def _is_sse(head: _Head, body: bytes) -> bool:
    if head.content_type:
        return head.content_type.startswith("text/event-stream")
    first = body.lstrip(b"\r\n").split(b"\n", 1)[0]
    return first.startswith((b"data:", b"event:", b"id:", b":", b"retry:"))


def _is_ndjson(head: _Head, body: bytes) -> bool:
    if head.content_type:
        return bool(NDJSON.match(head.content_type))
    # Without a type: more than one line, every whole one a JSON object (the last may be cut).
    *ended, last = body.split(b"\n")
    lines = [line for line in ended if line.strip()]
    more = len(lines) > 1 or (len(lines) == 1 and bool(last.strip()))
    return more and all(line_json(line) is not None for line in lines)


def _ndjson_stream(head: _Head, body: bytes, api: str | None, gap: float, source: str) -> Recorded:
    """An NDJSON stream: each line an event. A last line without its newline is kept as it
    is when it is a whole JSON object (a copy easily loses the last newline), else it is a
    line the stream was cut in."""
    events, tail = frames_of([(body, 0.0)], ndjson=True)
    fault = None
    if tail is not None and tail.frame.strip():
        events.append(tail)
        if line_json(tail.frame) is None:
            fault = Fault("close", after_byte=len(body))
    if not events:
        raise TranscriptError(f"{source}: the body holds no NDJSON line")
    events = [replace(e, at=round(i * gap, 6)) for i, e in enumerate(events)]
    if api is None:
        records = [line_json(e.frame) or {} for e in events]
        api = next((_ollama_api(r) for r in records if _ollama_api(r) is not None), None)
    if api is None:
        raise TranscriptError(
            f"{source}:{head.lines + 1}: an NDJSON stream, but no line says which API (Ollama's chat records "
            f"carry `message`, generate's `response`); pass it with --api ({', '.join(ENDPOINTS)})"
        )
    return Recorded(api=api, events=tuple(events), status=head.status, headers=_kept(head.headers), fault=fault)


def _ollama_api(record: Mapping[str, object]) -> str | None:
    if "done" not in record:
        return None
    return "ollama_chat" if "message" in record else "ollama_generate" if "response" in record else None


def _stream(head: _Head, body: bytes, api: str | None, gap: float, source: str) -> Recorded:
    events, tail = frames_of([(body, 0.0)])
    fault = None
    if tail is not None and tail.frame.strip():
        # The body ends mid-event: the stream was cut after the bytes that came.
        events.append(tail)
        fault = Fault("close", after_byte=len(body))
    if not events:
        raise TranscriptError(f"{source}: the body holds no SSE event")
    events = [replace(e, at=round(i * gap, 6)) for i, e in enumerate(events)]
    api = api or _stream_api(events, source, head.lines)
    return Recorded(api=api, events=tuple(events), status=head.status, headers=_kept(head.headers), fault=fault)


def _stream_api(events: list[RecordedEvent], source: str, skipped: int) -> str:
    for event in events:
        data = payload(event)
        try:
            obj = json.loads(data) if data is not None else None
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type") or event.event or ""
        if obj.get("object") == "chat.completion.chunk":
            return "chat"
        if obj.get("object") == "text_completion":
            return "completions"
        if isinstance(kind, str) and kind.startswith("response."):
            return "responses"
        if kind in _ANTHROPIC:
            return "messages"
    first = events[0].frame.decode("utf-8", "replace").split("\n", 1)[0]
    raise TranscriptError(
        f"{source}:{skipped + 1}: cannot tell which API this stream is from (it starts {first[:80]!r}); "
        f"pass it with --api ({', '.join(ENDPOINTS)})"
    )


def _whole(head: _Head, body: bytes, api: str | None, source: str) -> Recorded:
    text = body.decode("utf-8", "surrogateescape")
    try:
        obj = json.loads(text)
    except ValueError as exc:
        where = f"{source}:{head.lines + getattr(exc, 'lineno', 1)}"
        start = text.strip()[:60]
        if not start:
            raise TranscriptError(f"{where}: the transcript has no body") from None
        raise TranscriptError(
            f"{where}: neither an SSE stream (no `data:` line) nor a JSON body ({exc}); it starts {start!r}"
        ) from None
    if api is None:
        api = _whole_api(obj)
    if api is None:
        raise TranscriptError(
            f"{source}:{head.lines + 1}: cannot tell which API this JSON answer is from; "
            f"pass it with --api ({', '.join(ENDPOINTS)})"
        )
    return Recorded(api=api, body=RecordedEvent(raw=text), status=head.status, headers=_kept(head.headers))


def _whole_api(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return None
    if (ollama := _ollama_api(obj)) is not None:
        return ollama
    if obj.get("type") == "message":
        return "messages"
    if obj.get("object") == "list" and any(
        isinstance(d, dict) and d.get("object") == "embedding" for d in obj.get("data") or ()
    ):
        return "embeddings"
    return _WHOLE.get(str(obj.get("object")))


def _error(head: _Head, body: bytes) -> ErrorReply:
    """An HTTP error as the upstream sent it: its status, exact body, and retry advice."""
    headers = head.headers
    retry_after: float | str | None = headers.get("retry-after")
    with contextlib.suppress(ValueError):  # an HTTP date stays as it was
        retry_after = float(retry_after) if retry_after is not None else None
    retry_ms = headers.get("retry-after-ms")
    should = headers.get("x-should-retry")
    return ErrorReply(
        status=head.status,
        body=body.decode("utf-8", "surrogateescape"),
        headers={k: v for k, v in _kept(headers).items() if k not in _RETRY},
        retry_after=retry_after,
        retry_after_ms=float(retry_ms) if retry_ms and retry_ms.replace(".", "", 1).isdigit() else None,
        should_retry={"true": True, "false": False}.get(should or ""),
    )
