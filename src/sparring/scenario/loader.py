"""Scenario files (YAML or JSON) to the model, with located, explained mistakes.

The file is read into plain values plus a map from each value's path to its line. Every
mapping is checked against the keyword arguments of the builder it feeds, so the file
vocabulary is the Python vocabulary, and a misspelled key gets a "did you mean". The model's
own checks run unchanged; their errors get the file, line and full path added here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sparring.errors import Problem, ScenarioError
from sparring.scenario import _yaml, builders
from sparring.scenario._cost import MAX_REPLIES
from sparring.scenario._validate import closest
from sparring.scenario.delivery import FAULT_KINDS, Fault, RateLimits, Timing, Wire
from sparring.scenario.model import (
    FakerText,
    Match,
    RecordedEvent,
    Reply,
    Rule,
    Scenario,
    Usage,
)

PathKey = tuple[str | int, ...]
T = TypeVar("T")
TOP_KEYS = ("name", "description", "fallback", "speed", "rules", "replies")
RULE_KEYS = ("name", "match", "replies")


def parse_scenario(text: str, *, source: str = "<string>", name: str | None = None) -> Scenario:
    """A scenario from YAML or JSON text. `source` names it in error messages."""
    data, lines = _read(text, source)
    return _Builder(source, lines).scenario(data, name)


def _too_many_replies(top: object) -> tuple[int, PathKey] | None:
    """How many replies a document holds and where, when more than a scenario may: counted
    before anything is built, or, for JSON, before its lines are even read."""
    if not isinstance(top, dict):
        return None
    rules = top.get("rules")
    lists = [top.get("replies")]
    if isinstance(rules, list):
        lists += [rule.get("replies") for rule in rules if isinstance(rule, dict)]
    total = sum(len(items) for items in lists if isinstance(items, list))
    if total <= MAX_REPLIES:
        return None
    return total, ("rules",) if isinstance(rules, list) else ("replies",)


def _replies_problem(total: int) -> str:
    return f"the scenario has {total:,} replies; the limit is {MAX_REPLIES:,}"


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([Problem(f"cannot read: {exc.strerror or exc}", source=str(path))]) from None
    text = _yaml.decode(data, str(path))
    return parse_scenario(text, source=str(path), name=path.stem)


def _read(text: str, source: str) -> tuple[Any, dict[PathKey, int]]:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")) and len(text) <= _yaml.MAX_BYTES:
        try:
            too_many = _too_many_replies(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ScenarioError([Problem(f"invalid JSON: {exc.msg}", source=source, line=exc.lineno)]) from None
        except (RecursionError, ValueError):
            pass  # too deep or too large for the JSON parser: the YAML reader names the limit
        else:
            if too_many is not None:  # refused before the (slow) YAML reader finds its lines
                total, where = too_many
                raise ScenarioError([Problem(_replies_problem(total), _dotted(where), source)])
    node, value = _yaml.compose(text, source)
    if node is None:
        raise ScenarioError([Problem("the file is empty; a scenario needs `replies` or `rules`", source=source)])
    lines: dict[PathKey, int] = {}
    duplicates: list[Problem] = []
    _record_lines(node, (), lines, duplicates, source)
    if duplicates:
        raise ScenarioError(duplicates)
    problems: list[Problem] = []
    value = _mend(value, (), lines, problems, source)
    if problems:
        raise ScenarioError(problems)
    return value, lines


def _mend(value: Any, path: PathKey, lines: dict[PathKey, int], problems: list[Problem], source: str) -> Any:
    """Join surrogate pairs into the characters they stand for. JSON tools escape an emoji
    as `\\ud83c\\udf89` and the YAML reader keeps the two halves; a lone half is no text at all."""
    if isinstance(value, str):
        if not any("\ud800" <= c <= "\udfff" for c in value):
            return value
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            problems.append(
                Problem(
                    "a lone surrogate escape (\\ud800-\\udfff) is not a character; write the character "
                    "itself, or both halves of its pair",
                    path=_dotted(path),
                    source=source,
                    line=lines.get(path),
                )
            )
            return value
    if isinstance(value, dict):
        return {k: _mend(v, (*path, str(k)), lines, problems, source) for k, v in value.items()}
    if isinstance(value, list):
        return [_mend(v, (*path, i), lines, problems, source) for i, v in enumerate(value)]
    return value


def _record_lines(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], dupes: list[Problem], source: str) -> None:
    """Note the line of every value by its path; report keys given twice (YAML keeps the last)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                dupes.append(Problem(f"key {key!r} is given twice", path=_dotted(child), source=source, line=line))
            seen.add(key)
            lines[child] = line
            _record_lines(value_node, child, lines, dupes, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, (*path, i), lines, dupes, source)


def _dotted(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _keys_of(builder: Callable[..., object], *, rename: Mapping[str, str] | None = None) -> tuple[str, ...]:
    names = [p for p in inspect.signature(builder).parameters if p not in ("replies",)]
    rename = rename or {}
    return tuple(rename.get(n, n) for n in names)


REPLY_KEYS = _keys_of(builders.reply)
ERROR_KEYS = _keys_of(builders.error, rename={"preset": "error"})
RECORDED_KEYS = _keys_of(builders.recorded, rename={"api": "recorded"})
EVENT_KEYS = tuple(RecordedEvent.__dataclass_fields__)
MESSAGE_KEYS = _keys_of(builders.message)
TOOL_CALL_KEYS = _keys_of(builders.tool_call)
MATCH_KEYS = tuple(f for f in Match.__dataclass_fields__)
TIMING_KEYS = tuple(Timing.__dataclass_fields__)
WIRE_KEYS = tuple(Wire.__dataclass_fields__)
FAULT_KEYS = tuple(Fault.__dataclass_fields__)
RATE_LIMIT_KEYS = tuple(RateLimits.__dataclass_fields__)
USAGE_KEYS = tuple(Usage.__dataclass_fields__)
FAKER_KEYS = tuple(FakerText.__dataclass_fields__)


class _Builder:
    def __init__(self, source: str, lines: dict[PathKey, int]) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(self, path: PathKey, message: str, suggestion: str | None = None) -> ScenarioError:
        return ScenarioError([Problem(message, _dotted(path), self.source, self._line(path), suggestion)])

    def _line(self, path: PathKey) -> int | None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def mapping(self, value: object, path: PathKey, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.problem(path, f"{what} must be a mapping, got {_kind(value)}")
        problems: list[Problem] = []
        for key in value:
            if not isinstance(key, str):
                message = f"{what} has a key that is not a name: {_kind(key)}; keys: {', '.join(allowed)}"
                problems.extend(self.problem(path, message).problems)
            elif key not in allowed:
                message = f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}"
                problems.extend(self.problem((*path, key), message, closest(key, allowed)).problems)
        if problems:
            raise ScenarioError(problems)
        return value

    def each(self, data: dict[str, Any], problems: list[Problem], key: str, convert: Callable[[Any], Any]) -> None:
        """Convert `data[key]` in place; a mistake is noted and the key dropped, so the rest of
        the reply is still checked and every mistake in it reported at once."""
        if key not in data:
            return
        try:
            data[key] = convert(data[key])
        except ScenarioError as exc:
            problems.extend(exc.problems)
            del data[key]

    def listing(self, value: object, path: PathKey, what: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.problem(path, f"{what} must be a list, got {_kind(value)}")
        return value

    def call(self, path: PathKey, make: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a builder; its model errors get this file's location."""
        try:
            return make(*args, **kwargs)
        except ScenarioError as exc:
            located = []
            for p in exc.problems:
                full = (*path, *[int(x) if x.isdigit() else x for x in p.path.split(".") if x]) if p.path else path
                located.append(Problem(p.message, _dotted(full), self.source, self._line(full), p.suggestion))
            raise ScenarioError(located) from None
        except TypeError as exc:
            raise self.problem(path, f"wrong type: {exc}") from None

    # -- the document, top down --------------------------------------------------------------

    def scenario(self, data: object, name: str | None) -> Scenario:
        top = self.mapping(data, (), TOP_KEYS, "a scenario")
        if "rules" not in top and "replies" not in top:
            raise self.problem((), "a scenario needs `replies` or `rules`")
        self.count_replies(top)
        rules: list[Rule] = []
        if "replies" in top:
            replies = self.replies(top["replies"], ("replies",))
            if replies:
                rules.append(Rule(replies=tuple(replies)))
        for i, raw in enumerate(self.listing(top.get("rules", []), ("rules",), "rules")):
            try:
                made = self.rule(raw, ("rules", i))
            except ScenarioError as exc:
                self.problems.extend(exc.problems)
                continue
            if made is not None:
                rules.append(made)
        if self.problems:
            raise ScenarioError(self.problems)
        fallback = top.get("fallback", "miss")
        return self.call(
            (),
            Scenario,
            rules=tuple(rules),
            fallback=fallback,
            name=top.get("name", name),
            description=top.get("description"),
            source=self.source,
            speed=top.get("speed", 1.0),
        )

    def count_replies(self, top: dict[str, Any]) -> None:
        """Refuse a scenario of too many replies before building any (50,000 take seconds)."""
        too_many = _too_many_replies(top)
        if too_many is not None:
            total, where = too_many
            raise self.problem(where, _replies_problem(total))

    def rule(self, raw: object, path: PathKey) -> Rule | None:
        """The rule, or None when none of its replies is valid (their problems are recorded)."""
        data = self.mapping(raw, path, RULE_KEYS, "a rule")
        if "replies" not in data:
            raise self.problem(path, "a rule needs `replies`")
        match = self.match(data.get("match", {}), (*path, "match"))
        replies = self.replies(data["replies"], (*path, "replies"))
        if not replies:
            return None
        return self.call(path, Rule, replies=tuple(replies), match=match, name=data.get("name"))

    def match(self, raw: object, path: PathKey) -> Match:
        data = self.mapping(raw, path, MATCH_KEYS, "match")
        return self.call(path[:-1], Match, **data)

    def replies(self, raw: object, path: PathKey) -> list[Reply]:
        items = self.listing(raw, path, "replies")
        if not items:
            self.problems.append(self.problem(path, "needs at least one reply").problems[0])
        replies: list[Reply] = []
        for i, item in enumerate(items):
            try:
                replies.append(self.reply(item, (*path, i)))
            except ScenarioError as exc:
                self.problems.extend(exc.problems)
        return replies

    def reply(self, raw: object, path: PathKey) -> Reply:
        if isinstance(raw, dict) and "error" in raw:
            return self.error(raw, path)
        if isinstance(raw, dict) and "recorded" in raw:
            return self.recorded(raw, path)
        problems: list[Problem] = []
        data = self.known(raw, path, REPLY_KEYS, "a reply", problems)
        self.each(
            data,
            problems,
            "choices",
            lambda v: [
                self.message(m, (*path, "choices", i))
                for i, m in enumerate(self.listing(v, (*path, "choices"), "choices"))
            ],
        )
        self.common(data, path, problems)
        self.each(data, problems, "tool_calls", lambda v: self.tool_calls(v, (*path, "tool_calls")))
        self.each(data, problems, "faker", lambda v: self.faker(v, (*path, "faker")))
        self.each(
            data,
            problems,
            "usage",
            lambda v: self.call(path, Usage, **self.mapping(v, (*path, "usage"), USAGE_KEYS, "usage")),
        )
        return self.finish(problems, lambda: self.call(path, builders.reply, **data))

    def error(self, raw: dict[str, Any], path: PathKey) -> Reply:
        problems: list[Problem] = []
        data = self.known(raw, path, ERROR_KEYS, "an error reply", problems)
        preset = data.pop("error")
        self.common(data, path, problems)
        try:
            return self.finish(problems, lambda: self.call(path, builders.error, preset, **data))
        except ScenarioError as exc:
            if "status" in raw:
                raise
            # a bare status is written `error: 503`: name the key the file has
            status = _dotted((*path, "status"))
            renamed = [
                dataclasses.replace(p, path=_dotted((*path, "error"))) if p.path == status else p for p in exc.problems
            ]
            raise ScenarioError(renamed) from None

    def recorded(self, raw: dict[str, Any], path: PathKey) -> Reply:
        problems: list[Problem] = []
        data = self.known(raw, path, RECORDED_KEYS, "a recorded reply", problems)
        api = data.pop("recorded")
        self.common(data, path, problems)
        self.each(data, problems, "events", lambda v: self.recorded_events(v, (*path, "events")))
        self.each(
            data,
            problems,
            "body",
            lambda v: v if isinstance(v, str) else self.recorded_event(v, (*path, "body"), ("raw", "at", "torn")),
        )
        if problems and not {"events", "body"} & data.keys():
            raise ScenarioError(problems)  # the build would only add "needs events or a body"
        return self.finish(problems, lambda: self.call(path, builders.recorded, api, **data))

    def recorded_events(self, raw: object, path: PathKey) -> list[RecordedEvent]:
        """Every event, every mistake among them noted: a recording is long, and fixed at once."""
        problems: list[Problem] = []
        events: list[RecordedEvent] = []
        for i, item in enumerate(self.listing(raw, path, "events")):
            try:
                events.append(self.recorded_event(item, (*path, i)))
            except ScenarioError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ScenarioError(problems)
        return events

    def recorded_event(self, raw: object, path: PathKey, keys: tuple[str, ...] = EVENT_KEYS) -> RecordedEvent:
        data = dict(self.mapping(raw, path, keys, "a recorded event"))
        if "torn" in data:
            pieces = self.listing(data["torn"], (*path, "torn"), "torn")
            data["torn"] = tuple(tuple(p) if isinstance(p, list) else p for p in pieces)
        return self.call(path, RecordedEvent, **data)

    def known(
        self, raw: object, path: PathKey, allowed: tuple[str, ...], what: str, problems: list[Problem]
    ) -> dict[str, Any]:
        """The mapping's keys the reply knows; unknown ones are noted and left out."""
        if not isinstance(raw, dict):
            raise self.problem(path, f"{what} must be a mapping, got {_kind(raw)}")
        try:
            self.mapping(raw, path, allowed, what)
        except ScenarioError as exc:
            problems.extend(exc.problems)
        return {k: v for k, v in raw.items() if isinstance(k, str) and k in allowed}

    def finish(self, problems: list[Problem], build: Callable[[], T]) -> T:
        """Build from what was valid; raise every mistake noted and the build's own."""
        try:
            made = build()
        except ScenarioError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
        if problems:
            raise ScenarioError(problems)
        return made

    def common(self, data: dict[str, Any], path: PathKey, problems: list[Problem]) -> None:
        """The delivery keys answers and errors share: nested mappings become their dataclasses."""
        nested: tuple[tuple[str, type, tuple[str, ...]], ...] = (
            ("timing", Timing, TIMING_KEYS),
            ("wire", Wire, WIRE_KEYS),
            ("rate_limits", RateLimits, RATE_LIMIT_KEYS),
        )
        for key, kind, keys in nested:
            self.each(data, problems, key, functools.partial(self.delivery, path=path, key=key, kind=kind, keys=keys))
        self.each(data, problems, "fault", lambda v: self.fault(v, path))
        self.each(data, problems, "headers", lambda v: self.headers(v, (*path, "headers")))

    def delivery(self, raw: object, path: PathKey, key: str, kind: type, keys: tuple[str, ...]) -> Any:
        values = dict(self.mapping(raw, (*path, key), keys, key))
        if key == "wire" and isinstance(values.get("write_size"), list):
            values["write_size"] = tuple(values["write_size"])
        return self.call(path, kind, **values)

    def fault(self, raw: object, path: PathKey) -> Fault:
        if isinstance(raw, str):
            return self.call(path, Fault, raw)
        values = self.mapping(raw, (*path, "fault"), FAULT_KEYS, "fault")
        if "kind" not in values:
            raise self.problem((*path, "fault"), f"a fault needs a `kind`: one of {', '.join(FAULT_KINDS)}")
        return self.call(path, Fault, **values)

    def headers(self, raw: object, path: PathKey) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise self.problem(path, f"headers must be a mapping, got {_kind(raw)}")
        for name, value in raw.items():
            if isinstance(value, (dict, list)) or value is None:
                raise self.problem((*path, str(name)), f"a header value must be text or a number, got {_kind(value)}")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}

    def message(self, raw: object, path: PathKey) -> Any:
        data = dict(self.mapping(raw, path, MESSAGE_KEYS, "a choice"))
        if "tool_calls" in data:
            data["tool_calls"] = self.tool_calls(data["tool_calls"], (*path, "tool_calls"))
        if "faker" in data:
            data["faker"] = self.faker(data["faker"], (*path, "faker"))
        return self.call(path, builders.message, **data)

    def tool_calls(self, raw: object, path: PathKey) -> list[Any]:
        calls = []
        for i, item in enumerate(self.listing(raw, path, "tool_calls")):
            data = self.mapping(item, (*path, i), TOOL_CALL_KEYS, "a tool call")
            if "name" not in data:
                raise self.problem((*path, i), "a tool call needs a `name`")
            calls.append(self.call((*path, i), builders.tool_call, **data))
        return calls

    def faker(self, raw: object, path: PathKey) -> FakerText:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return self.call(path[:-1], FakerText, seed=raw)
        data = self.mapping(raw, path, FAKER_KEYS, "faker (a seed, or seed and sentences)")
        return self.call(path[:-1], FakerText, **data)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
