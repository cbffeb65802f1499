"""Python builders: short calls that produce the same model a scenario file does.

Scenario.of(
    rule(error("rate_limit", retry_after_ms=50, times=2), reply("Hello!"), model="gpt-4o"),
)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from sparring.errors import ScenarioError
from sparring.scenario._validate import check_headers, closest
from sparring.scenario.delivery import Fault, RateLimits, Timing, Wire
from sparring.scenario.model import (
    Answer,
    Callback,
    CallbackResult,
    Content,
    ErrorReply,
    FakerText,
    Match,
    Message,
    Recorded,
    RecordedEvent,
    Reply,
    Rule,
    Split,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from sparring.scenario.request import Request

SplitSpec = str | int | Split


def make_split(spec: SplitSpec) -> Split:
    """`"word"`, `"char"`, `"token"`, a chunk size in characters, or a `Split`."""
    if isinstance(spec, Split):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return Split("size", size=spec)
    if isinstance(spec, str) and spec in ("word", "char", "token"):
        return Split(spec)  # type: ignore[arg-type]
    raise ScenarioError.single(
        f"split must be 'word', 'char', 'token' or a chunk size, got {spec!r}",
        path="split",
        suggestion=closest(spec, ("word", "char", "token")) if isinstance(spec, str) else None,
    )


def tool_call(
    name: str,
    arguments: str | Mapping[str, object] = "{}",
    *,
    id: str | None = None,  # noqa: A002 - the wire name
    split: SplitSpec = "token",
) -> ToolCall:
    """A function call; `arguments` may be a mapping, sent as compact JSON."""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    return ToolCall(name=name, arguments=arguments, id=id, split=make_split(split))


def message(
    text: str | None = None,
    *,
    chunks: Sequence[str] | None = None,
    split: SplitSpec = "word",
    faker: int | FakerText | None = None,
    tool_calls: Sequence[ToolCall] = (),
    refusal: str | None = None,
    finish_reason: str | None = None,
) -> Message:
    """One choice's message. Give `text`, `chunks` (exact pieces), `faker` (a seed) or none."""
    given = [name for name, value in (("text", text), ("chunks", chunks), ("faker", faker)) if value is not None]
    if len(given) > 1:
        raise ScenarioError.single(f"give only one of text, chunks and faker, not {' and '.join(given)}")
    body: str | FakerText | None = text
    piece_split = make_split(split)
    if chunks is not None:
        if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
            raise ScenarioError.single(f"must be a list of strings, got {chunks!r}", path="chunks")
        if not all(isinstance(c, str) for c in chunks):
            raise ScenarioError.single("every chunk must be a string", path="chunks")
        piece_split = Split("list", pieces=tuple(chunks))
        body = "".join(chunks)
    elif faker is not None:
        body = faker if isinstance(faker, FakerText) else FakerText(seed=faker)
    return Message(
        text=body,
        split=piece_split,
        tool_calls=tuple(tool_calls),
        refusal=refusal,
        finish_reason=finish_reason,
    )


def reply(
    text: str | None = None,
    *,
    chunks: Sequence[str] | None = None,
    split: SplitSpec = "word",
    faker: int | FakerText | None = None,
    tool_calls: Sequence[ToolCall] = (),
    refusal: str | None = None,
    finish_reason: str | None = None,
    choices: Sequence[Message] | None = None,
    usage: Usage | Mapping[str, int] | None = None,
    model: str | None = None,
    timing: Timing | None = None,
    wire: Wire | None = None,
    fault: Fault | str | None = None,
    rate_limits: RateLimits | None = None,
    headers: Mapping[str, str] | None = None,
    times: int = 1,
    repeat: bool = False,
    optional: bool = False,
) -> Answer:
    """A streamed (or, for `stream: false` requests, whole) answer.

    With `choices`, each `message(...)` is one choice; otherwise the text, tool calls and
    refusal given here make one message, repeated for every choice the request asks for.
    `fault` may be a bare kind: `fault="reset"` is `Fault("reset")`.
    """
    if choices is not None:
        if any(v is not None for v in (text, chunks, faker, refusal, finish_reason)) or tool_calls or split != "word":
            raise ScenarioError.single(
                "give either choices or the content of one message (text, split, finish_reason...), not both;"
                " put those inside each choice",
                path="choices",
            )
        messages = tuple(choices)
    else:
        one = message(
            text,
            chunks=chunks,
            split=split,
            faker=faker,
            tool_calls=tool_calls,
            refusal=refusal,
            finish_reason=finish_reason,
        )
        messages = (one,)
    if isinstance(usage, Mapping):
        usage = Usage(**usage)
    return Answer(
        content=Content(messages=messages, usage=usage, model=model),
        timing=timing or Timing(),
        wire=wire or Wire(),
        fault=Fault(fault) if isinstance(fault, str) else fault,
        rate_limits=rate_limits,
        headers=_headers(headers),
        times=times,
        repeat=repeat,
        optional=optional,
    )


def error(
    preset: str | int,
    *,
    status: int | None = None,
    message: str | None = None,
    type: str | None = None,  # noqa: A002 - the wire name
    code: str | None = None,
    param: str | None = None,
    body: Mapping[str, object] | str | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
    retry_after_format: Literal["seconds", "date"] = "seconds",
    should_retry: bool | None = None,
    rate_limits: RateLimits | None = None,
    timing: Timing | None = None,
    times: int = 1,
    repeat: bool = False,
    optional: bool = False,
) -> ErrorReply:
    """An HTTP error: a preset name (`"rate_limit"`), optionally with another `status`, or a
    bare status (`503`)."""
    preset_name: str | None = preset if isinstance(preset, str) else None
    if not isinstance(preset, str):
        if status is not None:
            raise ScenarioError.single(
                f"error({preset!r}) already gives the status; drop status={status!r}", path="status"
            )
        status = preset
    return ErrorReply(
        preset=preset_name,
        status=status,
        message=message,
        type=type,
        code=code,
        param=param,
        body=body,
        headers=_headers(headers),
        retry_after=retry_after,
        retry_after_ms=retry_after_ms,
        retry_after_format=retry_after_format,
        should_retry=should_retry,
        rate_limits=rate_limits,
        timing=timing or Timing(),
        times=times,
        repeat=repeat,
        optional=optional,
    )


def respond(
    function: Callable[[Request], CallbackResult | Awaitable[CallbackResult]],
    *,
    times: int = 1,
    repeat: bool = False,
    optional: bool = False,
) -> Callback:
    """A reply made by `function(request)` when a request arrives (Python only).

    It returns `reply(...)`, `error(...)`, a string (short for `reply(text)`), or None to let
    the next rule answer. `times`, `repeat` and `optional` count the requests it answers, as
    for any reply.
    """
    return Callback(function, times=times, repeat=repeat, optional=optional)


def recorded(
    api: str,
    *,
    events: Sequence[RecordedEvent] = (),
    body: RecordedEvent | str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    headers_at: float = 0.0,
    speed: float = 1.0,
    timing: Timing | None = None,
    wire: Wire | None = None,
    fault: Fault | str | None = None,
    rate_limits: RateLimits | None = None,
    times: int = 1,
    repeat: bool = False,
    optional: bool = False,
) -> Recorded:
    """An answer as `api` sent it, replayed byte for byte at its recorded pace (`speed`
    scales it); `timing`, `wire` and `fault` replace that part of the recorded delivery.
    `body` is a whole answer's exact text."""
    return Recorded(
        api=api,
        events=tuple(events),
        body=RecordedEvent(raw=body, at=headers_at) if isinstance(body, str) else body,
        status=status,
        headers=_headers(headers),
        headers_at=headers_at,
        speed=speed,
        timing=timing,
        wire=wire or Wire(),
        fault=Fault(fault) if isinstance(fault, str) else fault,
        rate_limits=rate_limits,
        times=times,
        repeat=repeat,
        optional=optional,
    )


def rule(
    *replies: Reply,
    name: str | None = None,
    endpoint: str | None = None,
    path: str | None = None,
    model: str | None = None,
    message: str | None = None,
    message_regex: str | None = None,
    headers: Mapping[str, str] | None = None,
    tools: bool | None = None,
    stream: bool | None = None,
    retry_count: int | None = None,
    body: Mapping[str, Any] | None = None,
    system: str | None = None,
    system_regex: str | None = None,
    message_count: int | None = None,
    last_role: str | None = None,
    tool_call_id: str | None = None,
    tool_name: str | None = None,
    tool_result: str | None = None,
    tool_result_regex: str | None = None,
) -> Rule:
    """Replies for the requests the keyword arguments select (all of them must hold)."""
    match = Match(
        endpoint=endpoint,
        path=path,
        model=model,
        message=message,
        message_regex=message_regex,
        headers=dict(headers or {}),
        tools=tools,
        stream=stream,
        retry_count=retry_count,
        body={} if body is None else dict(body) if isinstance(body, Mapping) else body,
        system=system,
        system_regex=system_regex,
        message_count=message_count,
        last_role=last_role,
        tool_call_id=tool_call_id,
        tool_name=tool_name,
        tool_result=tool_result,
        tool_result_regex=tool_result_regex,
    )
    return Rule(replies=tuple(replies), match=match, name=name)


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """A copy, checked first: `dict("x-a")` would fail with a message about sequences."""
    check_headers("headers", headers or {})
    return dict(headers or {})
