"""One exchange with an upstream, as it happened, turned into a scenario rule.

`Capture` holds what came back: status, headers, when they came, and every read of the body
with its arrival time (seconds from the moment the request was sent), and how the body ended
if it did not end well. `reply_of` makes the reply that gives a client the same again:
- 2xx: a `Recorded` answer (`events` for an SSE or NDJSON stream, one per SSE event or
  NDJSON line; `body` for anything else);
- status >= 400: an `error:` reply with the exact body and the headers that matter;
- a body the upstream cut: what arrived, the unfinished tail as a last raw event, and
  `fault: {kind: reset | close, after_byte: N}`.
`match_of` makes the rule's match from the request, by the keys the user chose (`MATCH_KEYS`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sparring.errors import closest
from sparring.recorder.frames import NDJSON, Framer
from sparring.recorder.redact import scrub_event, scrub_text
from sparring.scenario.delivery import Fault
from sparring.scenario.match import Match
from sparring.scenario.model import ErrorReply
from sparring.scenario.recording import Recorded, RecordedEvent
from sparring.scenario.request import Request

# What a recorded rule can match on, and what each takes from the request.
MATCH_KEYS = {
    "endpoint": "the API (chat, responses, messages, azure_chat, ollama_chat...): always matched",
    "model": "the model asked for",
    "message": "the last user message's text (a rule matches a message containing it)",
    "stream": "streamed or not",
    "path": "the URL path",
    "body": "the whole JSON body (fields named with --redact left out)",
}
DEFAULT_MATCH = ("endpoint", "model", "message")

# Response headers a recording keeps: what clients read (retry advice, rate limits, request
# ids, the body's type). The rest (dates, servers, cookies, tracing, account ids) is left out.
_KEPT = frozenset(
    {
        "content-type",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
        "x-request-id",
        "request-id",
        "openai-processing-ms",
        "openai-version",
        "anthropic-version",
        "apim-request-id",  # Azure OpenAI's request id, besides x-request-id
    }
)
_KEPT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "ratelimit-")
_EVENT_STREAM = re.compile(r"^\s*text/event-stream", re.IGNORECASE)

Cut = Literal["reset", "close"]


def check_match_on(names: Sequence[str]) -> tuple[str, ...]:
    """The match keys, checked: a clear error and a "did you mean" for an unknown one."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    for name in names:
        if name not in MATCH_KEYS:
            hint = closest(name, tuple(MATCH_KEYS))
            did = f" (did you mean {hint!r}?)" if hint else ""
            raise ValueError(f"match_on: unknown key {name!r}{did}; keys: {', '.join(MATCH_KEYS)}")
    return tuple(names)


def kept_headers(headers: Mapping[str, str], drop: frozenset[str] = frozenset()) -> dict[str, str]:
    """The response headers that matter, names lower-cased; none of `drop` (credentials)."""
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in drop:
            continue
        if lower in _KEPT or lower.startswith(_KEPT_PREFIXES):
            kept[lower] = value
    return kept


@dataclass
class Capture:
    """What an upstream sent back for one request, read by read."""

    api: str
    status: int
    headers: dict[str, str]  # the ones kept (`kept_headers`)
    headers_at: float
    reads: list[tuple[bytes, float]] = field(default_factory=list)
    cut: Cut | None = None  # how the body ended, if the upstream broke it off

    @property
    def ndjson(self) -> bool:
        """An NDJSON stream (Ollama's): one event per line."""
        return bool(NDJSON.match(self.headers.get("content-type", "")))

    @property
    def streamed(self) -> bool:
        return self.ndjson or bool(_EVENT_STREAM.match(self.headers.get("content-type", "")))

    @property
    def received(self) -> int:
        return sum(len(data) for data, _ in self.reads)

    def reply(self, secrets: Sequence[str]) -> Recorded | ErrorReply | None:
        """The reply that plays this exchange again; None for what no reply can say (3xx)."""
        headers = {name: scrub_text(value, secrets) for name, value in self.headers.items()}
        fault = Fault(self.cut, after_byte=self.received) if self.cut is not None else None
        if self.status >= 400:
            text = scrub_text(b"".join(data for data, _ in self.reads).decode("utf-8", "replace"), secrets)
            body = _readable(text)
            if not isinstance(body, str):  # sparring's JSON error path sets the type itself
                headers.pop("content-type", None)
            return ErrorReply(status=self.status, body=body, headers=headers)
        if not 200 <= self.status <= 299:
            return None
        if self.streamed:
            framer = Framer(ndjson=self.ndjson)
            events = [e for data, at in self.reads for e in framer.feed(data, at)]
            tail = framer.close()
            if tail is not None:
                events.append(tail)
            if events:
                events = [scrub_event(e, secrets) for e in events]
                return Recorded(
                    self.api, events=tuple(events), headers=headers, headers_at=round(self.headers_at, 6), fault=fault
                )
        return Recorded(
            self.api,
            body=scrub_event(self._whole(), secrets),
            headers=headers,
            headers_at=round(self.headers_at, 6),
            fault=fault,
        )

    def _whole(self) -> RecordedEvent:
        """The whole body as one raw event, torn where each later read began."""
        if not self.reads:
            return RecordedEvent(raw="", at=round(self.headers_at, 6))
        torn: list[tuple[int, float]] = []
        offset = 0
        for data, at in self.reads:
            if offset:
                torn.append((offset, at))
            offset += len(data)
        body = b"".join(data for data, _ in self.reads).decode("utf-8", "surrogateescape")
        first = self.reads[0][1]
        return RecordedEvent(raw=body, at=round(first, 6), torn=tuple((o, round(t, 6)) for o, t in torn))


def _readable(text: str) -> str | dict[str, Any]:
    """A JSON object body as a mapping when sparring sends it back byte for byte (compact,
    as its error path writes JSON): easier to read and edit; else the exact text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict) and json.dumps(value, separators=(",", ":"), ensure_ascii=False) == text:
        return value
    return text


def match_of(
    keys: Sequence[str], *, api: str | None, path: str, body: Any, request: Request | None, secrets: Sequence[str]
) -> Match:
    """The match selecting this request by `keys`. `body` is the JSON body without the
    redacted fields; `request`, the request as rules see it (None if sparring could not read it)."""
    # The endpoint always: a recording answers only its own API's requests (a rule holding one
    # gets it anyway), and an error recorded beside it must match the same requests.
    given: dict[str, Any] = {"endpoint": api} if api is not None else {}
    model = request.model if request is not None else body.get("model") if isinstance(body, dict) else None
    for key in keys:
        if key == "model" and isinstance(model, str):
            given["model"] = model
        elif key == "message" and request is not None and request.last_user_text:
            given["message"] = scrub_text(request.last_user_text, secrets)
        elif key == "stream" and request is not None:
            given["stream"] = request.stream
        elif key == "path":
            given["path"] = path
        elif key == "body" and isinstance(body, dict):
            given["body"] = json.loads(scrub_text(json.dumps(body), secrets))
    return Match(**given)
