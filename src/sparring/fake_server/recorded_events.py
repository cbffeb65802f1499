"""What each recorded event is, per API: the terminator, an event with output, a paced one.

A recording keeps each event's exact bytes; playback needs to know more of them, as it
knows of the events a dialect renders (`Frame`): which event says the stream is complete
(the `no_done` fault leaves it out), which carry output a client would show (the journal
counts them, so retry checks can tell a retry after output), and which are paced (when a
`timing` given beside the recording replaces its pace, only those wait the gap). The
answers come from the event's own JSON, read as the API's SDK reads it; an event that is not
JSON (a comment, a cut tail) is none of these.

Azure OpenAI's routes send OpenAI's events (`family`); Ollama's streams are NDJSON, one JSON
object per line, read from the line itself (there are no SSE fields): the `done` record ends
the stream, and an `{"error": ...}` line is an in-band error. The Gemini API's events are
`GenerateContentResponse` objects: the one whose candidate has a `finishReason` is the last
(it may carry text too), and a `{"error": ...}` event is an in-band error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sparring.fake_server.dialects.base import Frame

_LINES = re.compile(r"\r\n|\r|\n")  # SSE's line endings only: str.splitlines also cuts at U+2028

# The events after which a Responses stream is over (no `[DONE]` follows).
RESPONSES_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Anthropic's closing pair: both are left out by `no_done`, as for a rendered stream.
MESSAGES_ENDS = frozenset({"message_delta", "message_stop"})


# The OpenAI API whose events each Azure OpenAI route sends.
_FAMILIES = {
    "azure_chat": "chat",
    "azure_v1_chat": "chat",
    "azure_completions": "completions",
    "azure_embeddings": "embeddings",
    "azure_v1_responses": "responses",
}
NDJSON_APIS = frozenset({"ollama_chat", "ollama_generate"})  # each event one JSON line
GEMINI_APIS = frozenset({"gemini_generate", "gemini_stream"})


def family(api: str) -> str:
    """The API whose events `api` sends (`azure_chat` sends `chat`'s); else `api` itself."""
    return _FAMILIES.get(api, api)


def line_json(frame: bytes) -> dict[str, Any] | None:
    """The JSON object of one NDJSON line, or None (a cut line, a blank one)."""
    return _json(frame.decode("utf-8", "replace").strip())


def fields_of(frame: bytes) -> tuple[str | None, str]:
    """The SSE event name and data of one event's bytes (any line ending, comments skipped)."""
    event: str | None = None
    data: list[str] = []
    for line in _LINES.split(frame.decode("utf-8", "replace")):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return event, "\n".join(data)


def _json(data: str) -> dict[str, Any] | None:
    if not data.startswith("{"):
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _choices(payload: dict[str, Any]) -> list[dict[str, Any]]:
    choices = payload.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _chat(frame: bytes, event: str | None, data: str) -> Frame:
    if data == "[DONE]":
        return Frame(frame, paced=False, terminal=True)
    payload = _json(data) or {}
    choices = _choices(payload)
    deltas: list[dict[str, Any]] = [d for c in choices if isinstance(d := c.get("delta"), dict)]
    shows = any(d.get("content") or d.get("tool_calls") or d.get("refusal") or d.get("function_call") for d in deltas)
    return Frame(frame, paced=bool(choices), content=bool(shows))  # no choices: the usage chunk


def _completions(frame: bytes, event: str | None, data: str) -> Frame:
    if data == "[DONE]":
        return Frame(frame, paced=False, terminal=True)
    choices = _choices(_json(data) or {})
    return Frame(frame, paced=bool(choices), content=any(c.get("text") for c in choices))


def _responses(frame: bytes, event: str | None, data: str) -> Frame:
    payload = _json(data) or {}
    kind = payload.get("type", event)
    if kind in RESPONSES_ENDS:
        return Frame(frame, paced=False, terminal=True)
    if kind == "response.created":  # its response is what a later in-band error repeats
        return Frame(frame, paced=False, source=payload.get("response"))
    if isinstance(kind, str) and kind.endswith(".delta"):
        return Frame(frame, content=bool(payload.get("delta")))
    item = payload.get("item")
    call = kind == "response.output_item.added" and isinstance(item, dict) and item.get("type") == "function_call"
    return Frame(frame, paced=False, content=call)


def _messages(frame: bytes, event: str | None, data: str) -> Frame:
    payload = _json(data) or {}
    kind = event if event is not None else payload.get("type")
    if kind in MESSAGES_ENDS:
        return Frame(frame, paced=False, terminal=True)
    if kind == "message_start":
        return Frame(frame)
    if kind == "content_block_delta":
        delta = payload.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        return Frame(frame, content=bool(delta.get("text") or delta.get("partial_json") or delta.get("thinking")))
    block = payload.get("content_block")
    tool = kind == "content_block_start" and isinstance(block, dict) and block.get("type") == "tool_use"
    return Frame(frame, paced=tool, content=tool)  # a tool_use start names the call: output


def ollama_shows(payload: dict[str, Any]) -> bool:
    """Whether an Ollama record (a stream's line, or a whole answer) carries output."""
    message = payload.get("message")
    if isinstance(message, dict) and (message.get("content") or message.get("tool_calls")):
        return True
    return bool(payload.get("response"))


def _ollama(frame: bytes) -> Frame:
    payload = line_json(frame)
    if payload is None or "error" in payload:  # a cut line, or the in-band error
        return Frame(frame, paced=False)
    if payload.get("done") is True:  # the last record, with the timings: `no_done` drops it
        return Frame(frame, paced=False, terminal=True, content=ollama_shows(payload))
    return Frame(frame, content=ollama_shows(payload))


def gemini_shows(payload: dict[str, Any]) -> bool:
    """Whether a Gemini `GenerateContentResponse` (an event, or a whole answer) carries output:
    a part with text or a function call in any candidate."""
    for candidate in _listed(payload, "candidates"):
        for part in _listed(candidate.get("content") or {}, "parts"):
            if part.get("text") or part.get("functionCall"):
                return True
    return False


def _listed(payload: Any, key: str) -> list[dict[str, Any]]:
    items = payload.get(key) if isinstance(payload, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _gemini(frame: bytes, event: str | None, data: str) -> Frame:
    payload = _json(data)
    if payload is None or "error" in payload:  # a cut tail, or the in-band error
        return Frame(frame, paced=False)
    finished = any(c.get("finishReason") for c in _listed(payload, "candidates"))
    return Frame(frame, terminal=finished, content=gemini_shows(payload))


def _plain(frame: bytes, event: str | None, data: str) -> Frame:
    return Frame(frame, paced=False)


_BY_API: dict[str, Callable[[bytes, str | None, str], Frame]] = {
    "chat": _chat,
    "completions": _completions,
    "responses": _responses,
    "messages": _messages,
    **dict.fromkeys(GEMINI_APIS, _gemini),
}


def frame_of(api: str, frame: bytes) -> Frame:
    """The recorded event `frame` (its exact bytes) of `api`'s stream, as playback sees it."""
    if api in NDJSON_APIS:
        return _ollama(frame)
    event, data = fields_of(frame)
    return _BY_API.get(family(api), _plain)(frame, event, data)


def body_shows(api: str, body: bytes) -> bool:
    """Whether a whole recorded answer carries output a client would show."""
    payload = _json(body.decode("utf-8", "replace").strip()) or {}
    api = family(api)
    if api in NDJSON_APIS:
        return ollama_shows(payload)
    if api == "chat":
        messages = [c.get("message") for c in _choices(payload)]
        return any(
            isinstance(m, dict) and (m.get("content") or m.get("tool_calls") or m.get("refusal")) for m in messages
        )
    if api == "completions":
        return any(c.get("text") for c in _choices(payload))
    if api == "responses":
        return bool(payload.get("output"))
    if api == "messages":
        return bool(payload.get("content"))
    if api in GEMINI_APIS:
        return gemini_shows(payload)
    return bool(payload.get("data"))  # embeddings: the vectors
