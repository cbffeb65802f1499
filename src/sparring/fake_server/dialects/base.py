"""What every dialect (one API's wire format) provides to the server.

A dialect validates the request body the way that API does, renders resolved content as its
stream events or its whole response object, and shapes errors as that API does. Adding an
API means one module with one `Dialect` subclass, and a route.
"""

from __future__ import annotations

import json
import json.encoder
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple, TypeVar

from sparring.fake_server.resolve import Resolved, resolve
from sparring.scenario.delivery import Fault, LineEnding, RateLimits
from sparring.scenario.model import Content, ErrorReply
from sparring.scenario.request import Request

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # `json.dumps` makes one a call


def compact(value: object) -> bytes:
    """JSON as the real APIs send it: no spaces, non-ASCII kept as UTF-8."""
    return _ENCODER.encode(value).encode()


_STRING = json.encoder.encode_basestring  # what `_ENCODER` does with a string, called directly


def string(value: str) -> bytes:
    """`compact` of a string (a stream's text piece, one per event), a step shorter."""
    return _STRING(value).encode()


_HOLE = "\x00sparring\x00"  # no JSON a dialect renders holds it: its NULs are escaped


def around(value: Mapping[str, Any], key: str) -> tuple[bytes, bytes]:
    """The compact JSON of `value` before and after `value[key]` (added last if missing): the
    constant parts of a stream's events, rendered once, so each event serializes only what
    varies and the bytes are the same as `compact` of the whole object."""
    before, hole, after = compact({**value, key: _HOLE}).partition(compact(_HOLE))
    assert hole, "the hole is in the JSON"
    return before, after


class Frame(NamedTuple):
    """One SSE event, ready to write. `paced` frames wait the scripted gap before going out;
    the rest (usage, terminator) follow the previous frame at once, as the real APIs do.
    `terminal` marks the event that says "the stream is complete" (`[DONE]`, `message_stop`),
    which the `no_done` fault leaves out. `content` marks events with output in them, which
    the journal counts so retry checks can tell whether a client retried after output.

    A named tuple: immutable, and made in half the time of a frozen dataclass, which counts
    at one frame per event of a stream of thousands."""

    data: bytes
    paced: bool = True
    terminal: bool = False
    content: bool = False  # carries output a client would show: text, refusal, a tool call
    # What the event announced, for a dialect's later error events to continue from (the
    # Responses API's `response.failed` repeats the response of `response.created`).
    source: Any = None
    # How `malformed_chunk` breaks this event when cutting its JSON in half is not the way (a
    # binary event-stream frame gets a bad checksum instead): the frame's bytes -> the broken ones.
    malform: Callable[[bytes], bytes] | None = None


@dataclass(frozen=True)
class HttpError:
    status: int
    body: Mapping[str, Any] | str
    headers: Mapping[str, str] = field(default_factory=dict)


class InvalidRequest(Exception):
    """The request body breaks the API's rules; carries what the API would answer."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ParsedRequest:
    """The parts of a request that matching, resolving and rendering need. `messages` is the
    conversation in Chat Completions shape (`[{"role", "content"}]`), whatever the API: the
    last user message is what rules match on, and prompt tokens are counted from it all.
    A dialect that reads more of its request parses into a subclass with typed fields."""

    body: Mapping[str, Any]
    model: str
    messages: list[Any]
    stream: bool
    n: int = 1
    has_tools: bool = False
    prompt_tokens: int | None = None  # the dialect's own count, when it counts differently


R = TypeVar("R", bound=ParsedRequest)


@dataclass(frozen=True)
class Route:
    """Where a request was sent, besides its body: what its route pattern's `{name}` parts
    matched (`{"deployment": "gpt-4o"}`; empty on a fixed path), and its query string."""

    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


def specific(request: ParsedRequest, kind: type[R]) -> R:
    """`request` as the dialect's own kind; one built by hand as a bare `ParsedRequest` gets
    that kind's defaults (what a request that says nothing more asks for)."""
    if isinstance(request, kind):
        return request
    return kind(**{f.name: getattr(request, f.name) for f in fields(ParsedRequest)})


class Dialect(ABC):
    """One API. `name` is what `match: {endpoint: ...}` says; `path` its route;
    `tool_call_prefix` starts the ids of generated tool calls; `bad_json` is what the API says
    to a body that is not JSON; `stream_content_type` is its streams' `Content-Type`."""

    name: str
    path: str
    tool_call_prefix: str = "call_"
    tool_call_length: int = 24  # random characters after the prefix
    stream_content_type: str = "text/event-stream; charset=utf-8"
    # Whether its streams have a line a client skips, which `timing.keepalive` sends while
    # waiting (SSE's `: ping` comment); without one, waits are silent (NDJSON has none).
    keepalive: bool = True
    # Whether its streams are lines of text, which `wire.line_ending` rewrites; binary frames
    # (Bedrock's event stream) are sent as they are, and the journal says so.
    text_lines: bool = True
    # How its streams' lines end on the wire when a scenario asks for nothing else
    # (`wire.line_ending: lf`, the default): Gemini's end in CRLF. Frames always use LF.
    line_ending: LineEnding = "lf"
    bad_json: str = (
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
        "have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"
    )

    @abstractmethod
    def parse(self, body: object) -> ParsedRequest:
        """Validate like the real API; raise `InvalidRequest` with its message."""

    def parse_at(self, body: object, route: Route) -> ParsedRequest:
        """`parse`, for an API whose route says more than the body (a deployment in the path,
        an API version in the query). Most APIs' bodies say it all."""
        return self.parse(body)

    def refuse(self, route: Route, headers: Mapping[str, str]) -> InvalidRequest | None:
        """What the API answers, whatever the body, to a request its route or headers already
        rule out (a required query parameter missing, no credentials); `None` to go on.
        `headers` is the request's, case-insensitive."""
        return None

    @abstractmethod
    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        """The SSE events of a streamed answer, in order, terminator included, each rendered
        when it is taken. The call itself draws from `rng` (ids, and the seed of a generator
        of the stream's own for what its events draw), so a seeded server sends the same
        bytes however its streams' frames are taken and interleaved."""

    def request_of(
        self,
        parsed: ParsedRequest,
        *,
        path: str,
        headers: Mapping[str, str],
        retry_count: int | None,
        index: int,
    ) -> Request:
        """What rules match on, API-neutral: the parsed request with where it came from."""
        return Request.of(
            endpoint=self.name,
            path=path,
            model=parsed.model,
            messages=parsed.messages,
            body=parsed.body,
            headers=headers,
            stream=parsed.stream,
            has_tools=parsed.has_tools,
            retry_count=retry_count,
            index=index,
        )

    def resolve(self, content: Content, request: ParsedRequest, rng: random.Random) -> Resolved:
        """`content` made concrete for this request, with this API's tool call ids."""
        return resolve(
            content,
            n=request.n,
            model=request.model,
            messages=request.messages,
            rng=rng,
            prompt_tokens=request.prompt_tokens,
            call_id=(self.tool_call_prefix, self.tool_call_length),
        )

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        return sum(1 for f in self.stream(resolved, request, random.Random(0)) if f.paced)

    @abstractmethod
    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        """The whole response object of an answer that is not streamed."""

    @abstractmethod
    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        """The API's in-band error, sent after `sent`: the events that went out before it."""

    @abstractmethod
    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        """Rate-limit state in this API's header names and formats."""

    @abstractmethod
    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        """A scripted error in this API's status, body and headers. Ids in it are drawn from
        `rng` (the server's seeded generator), or at random without one."""

    @abstractmethod
    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        """A validation failure in this API's shape; ids drawn as `error`'s."""

    def claims(self, headers: Mapping[str, str]) -> bool:
        """Whether a request to an unknown route looks like this API's (it then gets this
        API's 404/405 shape). Lower-case header names."""
        return False

    def unmatched(self, message: str, rng: random.Random | None = None) -> HttpError:
        """What a request nothing scripted answers gets: a 404 naming sparring, which no SDK
        retries (`x-should-retry: false`)."""
        error = self.invalid(InvalidRequest(message, code="sparring_no_reply", status=404), rng)
        return HttpError(error.status, error.body, {**error.headers, "x-should-retry": "false"})

    def failed(
        self, message: str, code: str = "sparring_callback_error", rng: random.Random | None = None
    ) -> HttpError:
        """What a request gets when the `respond(...)` callback answering it raised (or a rule's
        match failed: `sparring_scenario_error`): a 500 naming sparring, which no SDK retries
        (`x-should-retry: false`)."""
        error = self.invalid(InvalidRequest(message, code=code, status=500), rng)
        return HttpError(error.status, error.body, {**error.headers, "x-should-retry": "false"})

    @abstractmethod
    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        """Headers the real API sends on every response (request id and friends)."""
