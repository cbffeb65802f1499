"""A recording into fault scenarios: the sweep a user wants from one real stream, in one call.

Each derived scenario is the recording's scenario with one recorded reply broken on purpose:
the delivery keys a recording takes (`fault`, `wire`, `speed`, shifted times) replace that
part of the recorded delivery, or an error reply goes before it (the retry then gets the real
stream). Positioned faults strike after `k` events, at a few places chosen from the stream
(after the first content event, halfway, just before the terminator) or at every place.
Names follow the fault keys: `close-after-3` is `fault: {kind: close, after_chunk: 3}`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from sparring.fake_server.recorded_events import GEMINI_APIS, NDJSON_APIS, family, frame_of
from sparring.scenario.delivery import Fault, Wire
from sparring.scenario.model import ErrorReply, Reply, Scenario
from sparring.scenario.recording import Recorded, RecordedEvent

Positions = Literal["some", "all"] | Iterable[int]

# Faults struck after k events, in the order the sweep lists them.
POSITIONED = ("close", "reset", "truncate", "stall", "error_event")
# What ends a stream in each API: the events after which a client knows it has everything.
_RESPONSES_END = ("response.completed", "response.failed", "response.incomplete")
_MESSAGES_END = ("message_delta", "message_stop")
# The in-band error and the 5xx each API's own servers send.
# The APIs whose events are read here as playback reads them (`recorded_events.frame_of`):
# the terminator and the events with output.
_READ_AS_PLAYBACK_DOES = NDJSON_APIS | GEMINI_APIS
_SERVER_ERROR = {"messages": "overloaded"}
_STATUS = {"server_error": 500, "overloaded": 529}
# Smallest write size looked for when splitting a character or a CRLF: reads of a few bytes,
# like a proxy's, rather than the byte-by-byte case `torn-1` already covers.
_SPLIT_FROM = 5
_SPLIT_UP_TO = 256


def fault_sweep(
    recording: Scenario | Recorded,
    *,
    positions: Positions = "some",
    retry_after: float = 1.0,
    slow: float = 0.25,
    first_chunk_delay: float = 2.0,
    stall: float | None = None,
) -> dict[str, Scenario]:
    """Fault scenarios derived from each recorded reply in `recording`, by name, in order.

    `positions`: where positioned faults strike, as counts of events sent: `"some"` (after
    the first content event, halfway, and just before the terminator), `"all"` (after each
    event but the last, from 0: right after the headers), or your own counts. `retry_after`
    goes on the 429 before the stream; `slow` is the speed of the slowed replay (0.25 = four
    times slower); `first_chunk_delay` the seconds added before the first event; `stall` how
    long a stall lasts (None: until the client gives up, so give your client a timeout).

    The names are stable, so they make good test ids::

        SWEEP = fault_sweep(load_scenario("answer.yaml"))

        @pytest.mark.parametrize("scenario", SWEEP.values(), ids=SWEEP.keys())
        def test_survives(fake_llm, scenario): ...
    """
    if not 0 < slow <= 1:
        raise ValueError(f"slow must be a speed above 0 and at most 1 (0.25 = four times slower), got {slow!r}")
    for name, value in (("retry_after", retry_after), ("first_chunk_delay", first_chunk_delay), ("stall", stall)):
        if value is not None and not value >= 0:
            raise ValueError(f"{name} must be seconds >= 0, got {value!r}")
    scenario = recording if isinstance(recording, Scenario) else Scenario.of(recording)
    places = [(r, i) for r, rule in enumerate(scenario.rules) for i, reply in enumerate(rule.replies)]
    targets = [(r, i) for r, i in places if isinstance(scenario.rules[r].replies[i], Recorded)]
    if not targets:
        raise ValueError(
            "no recorded reply to derive faults from: record one with `sparring record` "
            "or import a transcript with `sparring import`"
        )
    sweep: dict[str, Scenario] = {}
    for r, i in targets:
        prefix = _prefix(scenario, r, i) if len(targets) > 1 else ""
        target = scenario.rules[r].replies[i]
        assert isinstance(target, Recorded)
        cases = _cases(target, positions, retry_after, slow, first_chunk_delay, stall)
        for name, description, replies in cases:
            sweep[prefix + name] = _with(scenario, r, i, replies, prefix + name, description)
    return sweep


def _prefix(scenario: Scenario, r: int, i: int) -> str:
    """Which recording a case breaks, when there are several: `rule-2-`, or `rule-2-reply-3-`
    when its rule has more than one."""
    several = sum(isinstance(reply, Recorded) for reply in scenario.rules[r].replies) > 1
    return f"rule-{r + 1}-" + (f"reply-{i + 1}-" if several else "")


def _with(scenario: Scenario, r: int, i: int, replies: tuple[Reply, ...], name: str, description: str) -> Scenario:
    """The scenario with reply i of rule r replaced by `replies`."""
    rule = scenario.rules[r]
    changed = dataclasses.replace(rule, replies=rule.replies[:i] + replies + rule.replies[i + 1 :])
    rules = (*scenario.rules[:r], changed, *scenario.rules[r + 1 :])
    title = f"{scenario.name}: {name}" if scenario.name else name
    return dataclasses.replace(scenario, rules=rules, name=title, description=description, source=None)


Case = tuple[str, str, tuple[Reply, ...]]


def _cases(
    rec: Recorded, positions: Positions, retry_after: float, slow: float, delay: float, stall: float | None
) -> Iterator[Case]:
    """(name, description, the replies in place of the recording) for each way to break it."""
    server_error = _SERVER_ERROR.get(rec.api, "server_error")
    yield (
        "rate-limit-then-ok",
        f"a 429 rate_limit error with retry-after: {retry_after:g}, then the recording (the retry gets it)",
        (ErrorReply(preset="rate_limit", retry_after=retry_after), rec),
    )
    yield (
        f"{server_error.replace('_', '-')}-then-ok",
        f"a {_STATUS[server_error]} {server_error} error, then the recording (the retry gets it)",
        (ErrorReply(preset=server_error), rec),
    )
    yield (f"slow-{1 / slow:.3g}x", f"the recording at speed {slow:g}", (_replace(rec, speed=rec.speed * slow),))
    yield (
        "slow-first-chunk",
        f"the recording with its first event {delay:g} s late, and every later one with it",
        (_replace(rec, events=_later(rec.events, delay), body=_later_body(rec.body, delay)),),
    )
    if rec.body is not None:
        yield from _body_cases(rec, stall)
        return
    end = _terminator(rec)
    for k in _positions(rec, positions, end):
        for kind in POSITIONED:
            fault = Fault(kind, after_chunk=k, duration=stall if kind == "stall" else None, error=server_error)
            what = {
                "close": "the connection closed (FIN, no terminator)",
                "reset": "the connection reset (RST)",
                "truncate": "half of the next event, then the connection closed",
                "stall": "the stream stalls"
                + (f" for {stall:g} s" if stall is not None else " until the client gives up"),
                "error_event": f"an in-band {server_error} event, then a clean end",
            }[kind]
            yield (
                f"{kind.replace('_', '-')}-after-{k}",
                f"{_count(k)} of the recording, then {what}",
                (_replace(rec, fault=fault),),
            )
    if end < len(rec.events):
        yield (
            "no-done",
            "the recording without its terminator event: a clean end too soon",
            (_replace(rec, fault=Fault("no_done")),),
        )
    yield from _wire_cases(rec)


def _body_cases(rec: Recorded, stall: float | None) -> Iterator[Case]:
    """Cuts of a whole (non-streamed) answer, halfway through its body."""
    assert rec.body is not None
    half = len(rec.body.frame) // 2
    for kind in ("close", "reset", "stall"):
        fault = Fault(kind, after_byte=half, duration=stall if kind == "stall" else None)
        yield f"{kind}-after-byte-{half}", f"{half} bytes of the body, then {kind}", (_replace(rec, fault=fault),)


def _wire_cases(rec: Recorded) -> Iterator[Case]:
    frames = [event.frame for event in rec.events]
    yield (
        "torn-1",
        "every byte in its own write (splits every character and every CRLF)",
        (_replace(rec, wire=Wire(write_size=1)),),
    )
    size = _split_size(frames, lambda frame, at: 0x80 <= frame[at] < 0xC0)  # at a UTF-8 continuation byte
    if size is not None:
        yield (
            "torn-utf8",
            f"writes of {size} bytes, some ending inside a UTF-8 character",
            (_replace(rec, wire=Wire(write_size=size)),),
        )
    crlf = any(b"\r\n" in frame for frame in frames)
    if not crlf:
        yield "crlf", "every line ending CRLF instead of LF", (_replace(rec, wire=Wire(line_ending="crlf")),)
    as_sent = frames if crlf else [frame.replace(b"\n", b"\r\n") for frame in frames]
    size = _split_size(as_sent, lambda frame, at: frame[at - 1 : at + 1] == b"\r\n")
    if size is not None:
        line_ending: Any = "lf" if crlf else "crlf"
        yield (
            "torn-crlf",
            f"CRLF line endings in writes of {size} bytes, some between CR and LF",
            (_replace(rec, wire=Wire(write_size=size, line_ending=line_ending)),),
        )


def _split_size(frames: list[bytes], splits: Callable[[bytes, int], bool]) -> int | None:
    """The smallest write size (from a few bytes) whose cuts of some event's bytes fall where
    `splits(frame, offset)` says: each event is its own write, cut every `size` bytes."""
    for size in range(_SPLIT_FROM, _SPLIT_UP_TO + 1):
        if any(splits(frame, at) for frame in frames for at in range(size, len(frame), size)):
            return size
    return None


def _positions(rec: Recorded, positions: Positions, end: int) -> list[int]:
    """Counts of events sent before a positioned fault strikes."""
    n = len(rec.events)
    if positions == "all":
        return list(range(n))
    if positions == "some":
        last = end if end < n else n - 1  # everything but the terminator (or the last event)
        content = [i for i, event in enumerate(rec.events[:end]) if _is_content(rec.api, event)]
        first = min(content[0] + 1 if content else 1, last)
        return sorted({first, (first + last) // 2, last})
    if isinstance(positions, str):
        raise ValueError(f"positions must be 'some', 'all' or counts of events, got {positions!r}")
    counts = sorted(set(positions))
    for k in counts:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < n:
            raise ValueError(f"a position counts events sent before the fault: 0 to {n - 1} here, got {k!r}")
    return counts


def _terminator(rec: Recorded) -> int:
    """The index of the event that ends the stream (`[DONE]`, the Responses end, Anthropic's
    closing `message_delta` + `message_stop`, Ollama's `done` record), or the number of
    events if none does."""
    end = len(rec.events)
    if rec.api in _READ_AS_PLAYBACK_DOES:  # Ollama's done record; Gemini's finish, which may hold the last words
        finished = [i for i, e in enumerate(rec.events) if frame_of(rec.api, e.frame).terminal]
        return finished[-1] if finished else end
    for i in range(len(rec.events) - 1, -1, -1):
        data = payload(rec.events[i])
        if data is None:
            continue
        kind = _json(data).get("type")
        if data.strip() == "[DONE]" or kind in _RESPONSES_END or kind in _MESSAGES_END:
            end = i
        if kind != "message_stop":  # before it, Anthropic's message_delta ends the stream too
            break
    return end


def _is_content(api: str, event: RecordedEvent) -> bool:
    """Whether the event carries a piece of the answer (text, tool-call arguments, a refusal)."""
    if api in _READ_AS_PLAYBACK_DOES:
        return frame_of(api, event.frame).content
    api = family(api)  # Azure's routes send OpenAI's events
    data = payload(event)
    obj = _json(data) if data is not None else {}
    kind = obj.get("type")
    if api == "messages":
        return kind == "content_block_delta"
    if api == "responses":
        return isinstance(kind, str) and kind.endswith(".delta")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    choice = choices[0]
    if api == "completions":
        return bool(choice.get("text"))
    delta = choice.get("delta")
    return isinstance(delta, dict) and any(delta.get(key) for key in ("content", "tool_calls", "refusal"))


def payload(event: RecordedEvent) -> str | None:
    """The event's data (its `data:` lines joined), or None when it has none (a comment)."""
    if event.raw is None:
        return event.data
    lines = event.raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
    return "\n".join(data) if data else None


def _json(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _later(events: tuple[RecordedEvent, ...], delay: float) -> tuple[RecordedEvent, ...]:
    return tuple(
        dataclasses.replace(e, at=round(e.at + delay, 6), torn=tuple((o, round(t + delay, 6)) for o, t in e.torn))
        for e in events
    )


def _later_body(body: RecordedEvent | None, delay: float) -> RecordedEvent | None:
    return None if body is None else _later((body,), delay)[0]


def _replace(rec: Recorded, **changes: Any) -> Recorded:
    return dataclasses.replace(rec, **changes)


def _count(k: int) -> str:
    return "no event" if k == 0 else "1 event" if k == 1 else f"{k} events"
