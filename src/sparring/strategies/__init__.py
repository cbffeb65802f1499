"""hypothesis strategies over what the fake server can do, for property-based chaos tests.

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
    @given(script=sparring.strategies.misbehaving_streams(text="Paris is the capital"))
    def test_my_client(fake_llm, script):
        with fake_llm.example(script):  # a fresh namespace state per example
            received, error = run_my_client(fake_llm.base_url, fake_llm.api_key)
            sparring.strategies.check_stream_invariants(fake_llm, "Paris is the capital", received, error)

In an async test, `async with fake_llm.example(script):` and the invariants after the block
(it waits on the loop for the example's requests to end); with
`@pytest.mark.sparring_virtual_time`, waits of many seconds (`max_wait=30`) cost no wall time.

Every strategy builds sparring's own model objects, so every generated scenario is valid, and
each shrinks toward the plain case: no errors, no fault, the default wire and timing (the
simplest branch of every `one_of` comes first). Waits are small by default (`max_wait`), so
hundreds of examples take seconds. Needs hypothesis: `pip install 'sparring[chaos]'`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sparring._optional import require

require("hypothesis", feature="sparring.strategies")
from hypothesis import strategies as st  # noqa: E402

from sparring.errors import closest  # noqa: E402
from sparring.scenario.builders import reply  # noqa: E402
from sparring.scenario.delivery import ERROR_PRESETS, Fault, Timing, Wire  # noqa: E402
from sparring.scenario.match import Match  # noqa: E402
from sparring.scenario.model import Answer, ErrorReply, Rule, Scenario  # noqa: E402
from sparring.strategies.cleanup import check_cleanup_ran  # noqa: E402
from sparring.strategies.invariants import (  # noqa: E402
    InvariantError,
    check_honours_retry_after,
    check_no_retry_after_output,
    check_no_retry_on_fatal,
    check_stream,
    check_stream_invariants,
)

__all__ = [
    "ALL_MID_STREAM_KINDS",
    "APIS",
    "FATAL_PRESETS",
    "FATAL_STATUSES",
    "MID_STREAM_KINDS",
    "RETRYABLE_PRESETS",
    "RETRYABLE_STATUSES",
    "InvariantError",
    "check_cleanup_ran",
    "check_honours_retry_after",
    "check_no_retry_after_output",
    "check_no_retry_on_fatal",
    "check_stream",
    "check_stream_invariants",
    "error_replies",
    "faults",
    "misbehaving_streams",
    "timings",
    "wires",
]

# Presets every dialect answers with a retryable status (408, 409, 429, 5xx), and presets it
# answers with one a client must not retry. `insufficient_quota` is in neither: a 429 from
# OpenAI, a 400 from Anthropic.
RETRYABLE_PRESETS = ("rate_limit", "server_error", "unavailable", "bad_gateway", "overloaded", "timeout", "conflict")
FATAL_PRESETS = ("bad_request", "unauthorized", "forbidden", "not_found", "context_length_exceeded")
RETRYABLE_STATUSES = (500, 503, 429, 502, 504, 408, 409)
FATAL_STATUSES = (400, 401, 403, 404, 422)
assert set(RETRYABLE_PRESETS + FATAL_PRESETS) <= set(ERROR_PRESETS)

# Mid-stream faults, simplest first: the stream cut, then corrupted, then slowed or left open.
# `garbage` is left out by default: bytes landing at the start of a line turn the next event
# into an unknown SSE field, which every client must ignore, so text goes missing with nothing
# to tell (the openai SDK drops a word and ends cleanly); no client can keep "the whole text
# or an error" through it. Ask for it with `faults(kinds=...)` to test something else.
MID_STREAM_KINDS = ("reset", "close", "truncate", "error_event", "malformed_chunk", "no_done", "stall")
ALL_MID_STREAM_KINDS = (*MID_STREAM_KINDS, "garbage")
# The streaming APIs a whole scenario can be meant for (`api=`), and how many events each
# stream has besides one per word of text: chat's role chunk, finish chunk and `[DONE]`;
# Anthropic's message_start, content_block_start, ping, content_block_stop, message_delta
# and message_stop; the Responses API's eight lifecycle events around its text deltas.
APIS = ("chat", "responses", "messages")
_FRAME_EVENTS = {"chat": 3, "responses": 8, "messages": 6}
_ONLY = {"messages": (529,)}  # Anthropic's `overloaded`: its own retryable status
BEFORE_HEADERS_KINDS = ("reset", "empty_response", "garbage")  # `hang` waits for the client's timeout
LINE_ENDINGS = ("lf", "crlf", "cr")


def _seconds(max_wait: float, *, least: int = 0) -> st.SearchStrategy[float]:
    """Whole milliseconds up to `max_wait` seconds: they shrink to `least` and read well in YAML."""
    top = max(least, round(max_wait * 1000))
    return st.integers(least, top).map(lambda ms: ms / 1000)


def error_replies(
    *,
    retryable: bool | None = None,
    max_retry_after: float = 0.05,
    retry_after: bool = True,
    api: str | None = None,
) -> st.SearchStrategy[ErrorReply]:
    """HTTP errors before the stream: presets (each answered in the shape and status of the
    dialect the request speaks), then bare statuses. `retryable=True` keeps to 408, 409, 429
    and 5xx, `False` to statuses a client must not retry. `api="messages"` adds Anthropic's
    own 529 to the bare statuses. With `retry_after`
    (the default), each carries `retry-after-ms` (or `retry-after` in seconds) of at most
    `max_retry_after` seconds, never 0: the SDKs fall back to their own backoff, seconds long,
    on a missing or zero delay."""
    presets = {True: RETRYABLE_PRESETS, False: FATAL_PRESETS, None: RETRYABLE_PRESETS + FATAL_PRESETS}[retryable]
    statuses = {True: RETRYABLE_STATUSES, False: FATAL_STATUSES, None: RETRYABLE_STATUSES + FATAL_STATUSES}[retryable]
    if retryable is not False:
        statuses += _ONLY.get(_api(api) or "", ())
    kind: st.SearchStrategy[str | int] = st.one_of(st.sampled_from(presets), st.sampled_from(statuses))
    if not retry_after:
        return kind.map(lambda k: ErrorReply(preset=k) if isinstance(k, str) else ErrorReply(status=k))
    ms = st.integers(1, max(1, round(max_retry_after * 1000)))

    @st.composite
    def build(draw: st.DrawFn) -> ErrorReply:
        chosen = draw(kind)
        preset, status = (chosen, None) if isinstance(chosen, str) else (None, chosen)
        delay = draw(ms)
        if draw(st.booleans()):  # the same delay as `retry-after` in (fractional) seconds
            return ErrorReply(preset=preset, status=status, retry_after=delay / 1000)
        return ErrorReply(preset=preset, status=status, retry_after_ms=delay)

    return build()


def faults(
    *,
    events: int | None = None,
    kinds: Sequence[str] = MID_STREAM_KINDS,
    before_headers: bool = False,
    max_wait: float = 0.05,
) -> st.SearchStrategy[Fault]:
    """Faults during a stream of `events` events (positions 0 to `events`; 16 if not given),
    of `kinds` (by default every mid-stream kind but `garbage`, the in-band `error_event`
    included); with `before_headers`, also those that strike before the status line. A
    `stall` lasts at most `max_wait` seconds (never until the client gives up)."""
    unknown = [k for k in kinds if k not in ALL_MID_STREAM_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"faults(kinds=...) takes mid-stream kinds from {', '.join(ALL_MID_STREAM_KINDS)}, got {unknown or kinds!r}"
        )
    last = 16 if events is None else max(0, events)
    at = st.integers(0, last)

    @st.composite
    def mid_stream(draw: st.DrawFn) -> Fault:
        kind = draw(st.sampled_from(tuple(kinds)))
        if kind == "no_done":
            return Fault("no_done")
        if kind == "stall":
            return Fault("stall", after_chunk=draw(at), duration=draw(_seconds(max_wait)))
        if kind == "error_event":
            return Fault("error_event", after_chunk=draw(at), error=draw(st.sampled_from(RETRYABLE_PRESETS)))
        if kind == "garbage":
            return Fault("garbage", after_chunk=draw(at), size=draw(st.integers(1, 64)), seed=draw(st.integers(0, 9)))
        return Fault(kind, after_chunk=draw(at))

    if not before_headers:
        return mid_stream()
    return st.one_of(mid_stream(), st.sampled_from(BEFORE_HEADERS_KINDS).map(Fault))


def wires() -> st.SearchStrategy[Wire]:
    """Wire shapes: the default first, then write sizes down to 1 byte (one or a cycle of
    several), events coalesced into one write, and every line ending."""
    size = st.integers(1, 64)
    write_size: st.SearchStrategy[int | tuple[int, ...] | None] = st.one_of(
        st.none(), size, st.lists(st.integers(1, 16), min_size=2, max_size=4).map(tuple)
    )
    shaped = st.builds(
        Wire,
        write_size=write_size,
        events_per_write=st.integers(1, 4),
        line_ending=st.sampled_from(LINE_ENDINGS),
    )
    return st.one_of(st.just(Wire()), shaped)


def timings(*, max_wait: float = 0.01) -> st.SearchStrategy[Timing]:
    """Timings: none first, then small delays: at most `max_wait` seconds before the headers
    and before the first chunk, a tenth of it between chunks (a stream has many), with jitter."""
    wait, gap = _seconds(max_wait), _seconds(max_wait / 10)
    return st.one_of(
        st.just(Timing()),
        st.builds(Timing, headers_delay=wait, first_chunk=wait, gap=gap, jitter=gap, seed=st.integers(0, 9)),
    )


def misbehaving_streams(
    text: str,
    *,
    max_errors: int = 2,
    errors: st.SearchStrategy[ErrorReply] | None = None,
    fault: bool = True,
    max_wait: float = 0.02,
    splits: Sequence[str] = ("word", "char", "token"),
    api: str | None = None,
) -> st.SearchStrategy[Scenario]:
    """Whole scenarios whose last reply streams `text`: after up to `max_errors` error replies
    (`errors`, by default `error_replies(max_retry_after=max_wait, api=api)`), and, with
    `fault`, maybe after an answer of the same text cut or corrupted by a mid-stream fault (or
    an in-band error event, in the dialect's shape), with wire shaping and timings of at most
    `max_wait` seconds.

    With `api` (`chat`, `responses` or `messages`), the scenario is for that API alone: its
    rule matches that endpoint (a request to another is one nothing answered), and faults
    strike anywhere in that API's stream, its closing events included. Without it, the rule
    answers any endpoint, and faults fall within the chat stream's length.

    Only the first reply is required: whether a client reaches the later ones depends on its
    retry policy (a 400 ends the call; a client may give up after two retries), so they are
    `optional`, and the invariants judge what the client did. Shrinks toward `reply(text)`."""
    if not text:
        raise ValueError("misbehaving_streams needs a non-empty text to stream")
    endpoint = _api(api)
    errors = errors if errors is not None else error_replies(max_retry_after=max_wait, api=endpoint)
    # word chunks and the API's own events around them
    events = len(re.findall(r"\s*\S+", text)) + _FRAME_EVENTS[endpoint or "chat"]
    cut: st.SearchStrategy[Fault | None] = (
        st.one_of(st.none(), faults(events=events, max_wait=max_wait)) if fault else st.none()
    )

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        failures = draw(st.lists(errors, max_size=max_errors))
        split = draw(st.sampled_from(tuple(splits)))
        wire = draw(wires())
        timing = draw(timings(max_wait=max_wait))
        broken = draw(cut)
        replies: list[ErrorReply | Answer] = list(failures)
        if broken is not None:
            replies.append(reply(text, split=split, wire=wire, timing=timing, fault=broken))
        replies.append(reply(text, split=split, wire=wire, timing=timing))
        ordered = (replies[0], *(_optional(r) for r in replies[1:]))
        if endpoint is None:
            return Scenario.of(*ordered)
        return Scenario.of(Rule(replies=ordered, match=Match(endpoint=endpoint)))

    return build()


def _api(api: str | None) -> str | None:
    if api is None or api in APIS:
        return api
    hint = closest(str(api), APIS)
    raise ValueError(
        f"unknown api {api!r}; the streaming APIs: {', '.join(APIS)}" + (f" (did you mean {hint!r}?)" if hint else "")
    )


def _optional(item: ErrorReply | Answer) -> ErrorReply | Answer:
    import dataclasses

    return dataclasses.replace(item, optional=True)
