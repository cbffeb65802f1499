"""The scenario model back to the file vocabulary: what the loader reads, `dump` writes.

`parse_scenario(dump_scenario(s))` equals `s` (its `source` aside): this is how a scenario
scripted in Python travels to an external server over the control API. Only data travels;
a reply or a match holding Python code (a callback) cannot, and gets an error saying which
one and why.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from sparring.errors import SparringError
from sparring.scenario.delivery import Fault, RateLimits, Timing, Wire
from sparring.scenario.model import (
    Answer,
    ErrorReply,
    FakerText,
    Match,
    Message,
    Recorded,
    RecordedEvent,
    Rule,
    Scenario,
    Split,
    ToolCall,
)


class NotPortableError(SparringError, ValueError):
    """Part of a scenario cannot be written as a scenario file (and so cannot be sent to an
    external server): the message says which part and why."""


def dump_scenario(scenario: Scenario, *, fmt: Literal["json", "yaml"] = "json") -> str:
    """`scenario` as scenario-file text (JSON or YAML) that loads back to an equal scenario."""
    data = scenario_data(scenario)
    if fmt == "yaml":
        # One line per recorded event, however long: a recording reads as a list of events.
        return str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000))
    return json.dumps(data, ensure_ascii=False)


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """`scenario` as the plain values of a scenario file."""
    data: dict[str, Any] = {}
    if scenario.name is not None:
        data["name"] = scenario.name
    if scenario.description is not None:
        data["description"] = scenario.description
    data["fallback"] = scenario.fallback
    if scenario.speed != 1:
        data["speed"] = scenario.speed
    data["rules"] = [_rule(r, i) for i, r in enumerate(scenario.rules)]
    return data


def _rule(rule: Rule, index: int) -> dict[str, Any]:
    where = f"rule {index + 1}" + (f" ({rule.name!r})" if rule.name else "")
    data: dict[str, Any] = {}
    if rule.name is not None:
        data["name"] = rule.name
    match = _match(rule.match, where)
    if match:
        data["match"] = match
    data["replies"] = [_reply(reply, f"{where}, reply {i + 1}") for i, reply in enumerate(rule.replies)]
    return data


def _match(match: Match, where: str) -> dict[str, Any]:
    data = _fields(match, f"{where}, match")
    if "headers" in data:
        data["headers"] = dict(data["headers"])
    return data


class _Flow(dict[str, Any]):
    """A mapping written on one line in YAML (a recorded event)."""


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    """A string with line breaks in double quotes, escapes and all: exact, and on one line."""
    style = '"' if any(c in data for c in "\r\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)


def _reply(reply: object, where: str) -> dict[str, Any]:
    if isinstance(reply, Answer):
        return _answer(reply, where)
    if isinstance(reply, Recorded):
        return _recorded(reply, where)
    if isinstance(reply, ErrorReply):
        return _error(reply, where)
    raise NotPortableError(
        f"{where} is {_what(reply)}, not data: it cannot be written as a scenario file, so it cannot be "
        "sent to an external sparring server (Python code does not travel over HTTP). Script it with "
        "reply(...) or error(...), or run this test on the plugin's own server (without --sparring-url)."
    )


def _recorded(recorded: Recorded, where: str) -> dict[str, Any]:
    data: dict[str, Any] = {"recorded": recorded.api}
    if recorded.status != 200:
        data["status"] = recorded.status
    data["headers_at"] = recorded.headers_at
    if recorded.speed != 1:
        data["speed"] = recorded.speed
    if recorded.body is not None:
        body = _event(recorded.body)
        whole = list(body) == ["at", "raw"] and body["at"] == recorded.headers_at
        data["body"] = body["raw"] if whole else body
    else:
        data["events"] = [_event(e) for e in recorded.events]
    data.update(_delivery(recorded, where))
    return data


def _event(event: RecordedEvent) -> _Flow:
    data = _Flow()
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "at" or value != _default(f):
            data[f.name] = [list(piece) for piece in value] if f.name == "torn" else value
    return data


def _answer(answer: Answer, where: str) -> dict[str, Any]:
    content = answer.content
    if len(content.messages) == 1:
        data = _message(content.messages[0], where)
    else:
        data = {"choices": [_message(m, f"{where}, choice {i + 1}") for i, m in enumerate(content.messages)]}
    if content.usage is not None:
        data["usage"] = _fields(content.usage, where)
    if content.model is not None:
        data["model"] = content.model
    data.update(_delivery(answer, where))
    return data


def _message(message: Message, where: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    split = message.split
    if split.mode == "list":
        if message.text != "".join(split.pieces):
            raise NotPortableError(f"{where}: its text is not the join of its chunks, which a file cannot say")
        data["chunks"] = list(split.pieces)
    elif isinstance(message.text, FakerText):
        data["faker"] = {"seed": message.text.seed, "sentences": message.text.sentences}
    elif message.text is not None:
        data["text"] = message.text
    if split.mode != "list" and split != Split():
        data["split"] = _split(split, where)
    if message.tool_calls:
        data["tool_calls"] = [_tool_call(c, f"{where}, tool call {c.name!r}") for c in message.tool_calls]
    if message.refusal is not None:
        data["refusal"] = message.refusal
    if message.finish_reason is not None:
        data["finish_reason"] = message.finish_reason
    return data


def _split(split: Split, where: str) -> str | int:
    if split.mode == "size":
        return split.size
    if split.mode == "list":
        raise NotPortableError(f"{where}: a list split is written as `chunks`, which only text takes")
    return split.mode


def _tool_call(call: ToolCall, where: str) -> dict[str, Any]:
    data: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
    if call.id is not None:
        data["id"] = call.id
    if call.split != Split("token"):
        data["split"] = _split(call.split, where)
    return data


def _error(error: ErrorReply, where: str) -> dict[str, Any]:
    data: dict[str, Any] = {"error": error.preset if error.preset is not None else error.status}
    if error.preset is not None and error.status is not None:
        data["status"] = error.status
    for name in ("message", "type", "code", "param", "retry_after", "retry_after_ms", "should_retry"):
        value = getattr(error, name)
        if value is not None:
            data[name] = value
    if error.body is not None:
        data["body"] = error.body if isinstance(error.body, str) else dict(error.body)
    if error.retry_after_format != "seconds":
        data["retry_after_format"] = error.retry_after_format
    data.update(_delivery(error, where))
    return data


def _delivery(reply: Answer | ErrorReply | Recorded, where: str) -> dict[str, Any]:
    """What answers and errors share: timing, wire, fault, rate limits, headers, uses."""
    data: dict[str, Any] = {}
    nested: tuple[tuple[str, Timing | Wire | Fault | RateLimits | None], ...] = (
        ("timing", reply.timing),
        ("wire", getattr(reply, "wire", None)),
        ("fault", getattr(reply, "fault", None)),
        ("rate_limits", reply.rate_limits),
    )
    for key, value in nested:
        if value is None:
            continue
        values = _fields(value, where, keep=("kind",))
        if "write_size" in values and isinstance(values["write_size"], tuple):
            values["write_size"] = list(values["write_size"])
        if values or key == "rate_limits":  # RateLimits() sends no header, but is not None
            data[key] = values
    if reply.headers:
        data["headers"] = dict(reply.headers)
    if reply.times != 1:
        data["times"] = reply.times
    if reply.repeat:
        data["repeat"] = True
    if reply.optional:
        data["optional"] = True
    return data


def _fields(obj: Any, where: str, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass's fields that differ from their defaults (and those in `keep`); a callable
    value cannot be written and raises."""
    data: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name not in keep and value == _default(f):
            continue
        if callable(value):
            raise NotPortableError(
                f"{where}: {f.name} is {_what(value)}, and Python code cannot be written as a scenario file "
                "(nor sent to an external sparring server); use data, or the plugin's own server"
            )
        data[f.name] = dict(value) if isinstance(value, Mapping) else value
    return data


def _default(f: dataclasses.Field[Any]) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _what(value: object) -> str:
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if callable(value) and name:
        return f"a Python callable ({name})"
    return f"a {type(value).__name__}"
