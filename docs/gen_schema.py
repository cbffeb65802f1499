"""Render the scenario file schema, every key with its type, default, meaning and an example,
as the Markdown tables the docs include.

    python docs/gen_schema.py > docs/generated/scenario-schema.md

The keys are the ones the loader accepts (`sparring.scenario.loader`, which reads them from the
builders' signatures and the model's dataclasses); their types and defaults come from those
same signatures and dataclasses, and the lists of allowed values from the model's constants.
Only the meanings and examples are written here, in `DOCS`. tests/test_docs_examples.py checks
that the generated file is current, that every key has a meaning and an example, and that
every example loads.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import yaml

from sparring.fake_server.dialects.anthropic_messages import AnthropicMessages
from sparring.fake_server.dialects.openai_common import rate_limit_headers
from sparring.scenario import builders, loader
from sparring.scenario.delivery import (
    BEFORE_HEADERS,
    ERROR_PRESETS,
    FAULT_KINDS,
    MID_STREAM,
    Fault,
    RateLimits,
    Timing,
    Wire,
)
from sparring.scenario.match import ROLES
from sparring.scenario.model import (
    ENDPOINTS,
    FINISH_REASONS,
    Answer,
    ErrorReply,
    FakerText,
    Match,
    Rule,
    Scenario,
    Split,
    Usage,
)

GENERATED = "docs/generated/scenario-schema.md"
SPLITS = ("word", "char", "token")  # the named ways `make_split` accepts; an integer is a size


class Doc(NamedTuple):
    """What the docs say about a key: its meaning, an example (the key and its value, as in a
    file; more keys when it needs them), and a bound its type does not say."""

    meaning: str
    example: str
    bound: str = ""


class Section(NamedTuple):
    name: str  # also the snippet section's name
    keys: tuple[str, ...]  # what the loader accepts, in its order
    source: Callable[..., object] | type  # the builder or dataclass the keys feed
    rename: Mapping[str, str] = {}  # file key -> parameter name


SECTIONS = (
    Section("scenario", loader.TOP_KEYS, Scenario),
    Section("rule", loader.RULE_KEYS, Rule),
    Section("match", loader.MATCH_KEYS, Match),
    Section("answer", loader.REPLY_KEYS, builders.reply),
    Section("error", loader.ERROR_KEYS, builders.error, {"error": "preset"}),
    Section("choice", loader.MESSAGE_KEYS, builders.message),
    Section("tool_call", loader.TOOL_CALL_KEYS, builders.tool_call),
    Section("faker", loader.FAKER_KEYS, FakerText),
    Section("usage", loader.USAGE_KEYS, Usage),
    Section("timing", loader.TIMING_KEYS, Timing),
    Section("wire", loader.WIRE_KEYS, Wire),
    Section("fault", loader.FAULT_KEYS, Fault),
    Section("rate_limits", loader.RATE_LIMIT_KEYS, RateLimits),
)

# Keys whose string values come from a fixed list: (section, key) -> the list's name in NAMES.
VALUES = {
    ("match", "endpoint"): "endpoints",
    ("match", "last_role"): "roles",
    ("answer", "finish_reason"): "finish reasons",
    ("choice", "finish_reason"): "finish reasons",
    ("answer", "split"): "split",
    ("choice", "split"): "split",
    ("tool_call", "split"): "split",
    ("answer", "fault"): "fault kinds",
    ("error", "error"): "error presets",
    ("fault", "kind"): "fault kinds",
    ("fault", "error"): "error presets",
}


def _codes(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


class Names(NamedTuple):
    values: tuple[str, ...]
    shown: str  # the Values column
    one: str  # what a Type cell says when the list is too long to show there


NAMES = {
    "error presets": Names(ERROR_PRESETS, _codes(ERROR_PRESETS), "error preset"),
    "fault kinds": Names(
        FAULT_KINDS,
        f"before the headers: {_codes(BEFORE_HEADERS)}; during the body: {_codes(MID_STREAM)}",
        "fault kind",
    ),
    "endpoints": Names(
        tuple(ENDPOINTS), ", ".join(f"`{name}` (`POST {path}`)" for name, path in ENDPOINTS.items()), "endpoint"
    ),
    "finish reasons": Names(FINISH_REASONS, _codes(FINISH_REASONS), "finish reason"),
    "roles": Names(ROLES, _codes(ROLES), "role"),
    "split": Names(SPLITS, f"{_codes(SPLITS)}, or a chunk size in characters", "split"),
}

_USES = {
    "times": Doc("The reply answers this many requests before the next one takes over.", "times: 3", ">= 1"),
    "repeat": Doc(
        "The reply answers every request that reaches it, for ever. `times` is then ignored, and the"
        " replies after it are never used.",
        "repeat: true",
    ),
    "optional": Doc(
        "The reply may go unused: the pytest plugin's strict teardown does not report it. What the"
        " server sends does not change.",
        "optional: true",
    ),
}
_CONTENT = {
    "text": Doc(
        "The text. With no `chunks`, `faker`, tool calls or refusal either, the content is empty.",
        'text: "Hello!"',
    ),
    "chunks": Doc(
        "The exact chunks to send; the text is their concatenation. Not with `text` or `faker`, and"
        " `split` does not apply.",
        'chunks: [Hel, lo, "!"]',
    ),
    "split": Doc(
        "How `text` or `refusal` is cut into chunks: each `word` with the spaces before it, each"
        " `char`, `token`-like pieces, or every N characters. Joining the chunks gives the text back.",
        "split: token",
        ">= 1",
    ),
    "faker": Doc(
        "Generated text: a seed, or a mapping with the `faker` keys. The same seed gives the same"
        " text. Not with `text` or `chunks`.",
        "faker: 42",
    ),
    "tool_calls": Doc(
        "Function calls, each a mapping with the keys of a tool call. With text as well, the text comes first.",
        "tool_calls: [{name: get_weather, arguments: {city: Paris}}]",
    ),
    "refusal": Doc(
        "A refusal instead of content, split like text. Not with `text` or `tool_calls`.",
        'refusal: "I can\'t help with that."',
    ),
    "finish_reason": Doc(
        "The finish reason. When not set: `tool_calls` if there are tool calls, else `stop`.",
        "finish_reason: length",
    ),
}
_HEADERS = "Extra response headers. They replace any other header of the same name, such as `x-request-id`."
_RATE_LIMIT = "Sets `{openai}` (Anthropic Messages: `{anthropic}`)."
_RESET = (
    "Seconds until the limit resets. Sets `{openai}`, sent as a duration such as `6ms` or `1m1.5s`"
    " (Anthropic Messages: `{anthropic}`, sent as the time it resets)."
)

DOCS: dict[str, dict[str, Doc]] = {
    "scenario": {
        "name": Doc("A name for the scenario. When not set, a file's name without its extension.", "name: weather-bot"),
        "description": Doc("Free text, for readers.", 'description: "Two rate limits, then the answer."'),
        "fallback": Doc(
            "What a request that nothing answers gets: with `miss`, sparring's `404` that says why each"
            " rule did not answer; with `default`, a generated answer.",
            "fallback: default",
        ),
        "speed": Doc(
            "Divides every scripted wait of the scenario's replies, and the waits they advise"
            " (`retry-after`), by this number: above 0, at most 1,000,000; times `sparring serve --speed`.",
            "speed: 100",
        ),
        "rules": Doc(
            "Rules, tried in order, each a mapping with the keys of a rule.",
            "rules: [{match: {model: gpt-4o}, replies: [{text: Hi}]}]",
        ),
        "replies": Doc(
            "Replies for any request. They form one rule with an empty match, tried before `rules`.",
            "replies: [{text: Hello!}]",
        ),
    },
    "rule": {
        "name": Doc("A label for readers of the file.", "name: weather questions"),
        "match": Doc(
            "Which requests the rule answers: a mapping with the `match` keys. When not set, every request.",
            "match: {message: weather}",
        ),
        "replies": Doc("The rule's replies, at least one, used in order.", "replies: [{text: Sunny.}]"),
    },
    "match": {
        "endpoint": Doc("The request is for this API: {endpoints}.", "endpoint: messages"),
        "path": Doc("The request path is exactly this.", "path: /v1/chat/completions"),
        "model": Doc("The request's `model` is exactly this.", "model: gpt-4o"),
        "message": Doc("The last user message contains this text. Case matters.", "message: weather"),
        "message_regex": Doc(
            "This regular expression (Python `re` syntax, searched within a time budget) is found in the"
            " last user message.",
            'message_regex: "[0-9]+ degrees"',
        ),
        "headers": Doc(
            "Each header named here has exactly this value. Names are case-insensitive, values are not.",
            "headers: {x-team: search}",
        ),
        "tools": Doc("`true`: the request has a non-empty `tools` list. `false`: it has none.", "tools: true"),
        "stream": Doc('`true`: the request has `"stream": true`. `false`: it does not.', "stream: false"),
        "retry_count": Doc(
            "The `x-stainless-retry-count` header has this value: the SDKs send `0` on the first"
            " attempt, `1` on the first retry. A request without the header never matches.",
            "retry_count: 0",
            ">= 0",
        ),
        "body": Doc(
            "The JSON body has these fields with these values. A key is a field name or a dotted path"
            " (`response_format.type`; a number indexes a list: `tools.0.type`). A mapping matches a"
            " subset of the fields, a list matches item by item, `null` matches a field that is null"
            " or missing, and `true` matches only `true`.",
            "body: {temperature: 0, response_format.type: json_schema}",
        ),
        "system": Doc(
            "The system prompt contains this text: every `system` and `developer` message, Anthropic's"
            " `system` and the Responses API's `instructions`, joined by blank lines.",
            "system: You are a pirate",
        ),
        "system_regex": Doc(
            "This regular expression (Python `re` syntax, searched within a time budget) is found in the"
            " system prompt.",
            'system_regex: "(?i)^be brief"',
        ),
        "message_count": Doc(
            "The conversation has this many messages, system and developer ones not counted. A tool"
            " result counts as one message, however the API carries it.",
            "message_count: 3",
            ">= 0",
        ),
        "last_role": Doc(
            "The last message has this role. `tool`: the request ends with tool results.",
            "last_role: tool",
        ),
        "tool_call_id": Doc(
            "A tool result the request sends back answers the call with this id. The tool results"
            " are those sent since the assistant last spoke.",
            "tool_call_id: call_weather",
        ),
        "tool_name": Doc(
            "A tool result the request sends back answers a call of this function (found by the"
            " call's id in the conversation).",
            "tool_name: get_weather",
        ),
        "tool_result": Doc(
            "A tool result the request sends back contains this text. With other `tool_` keys, one"
            " result must satisfy them all.",
            "tool_result: sunny",
        ),
        "tool_result_regex": Doc(
            "This regular expression (Python `re` syntax, searched within a time budget) is found in a"
            " tool result the request sends back.",
            'tool_result_regex: "^[0-9]+ degrees"',
        ),
    },
    "answer": {
        **_CONTENT,
        "choices": Doc(
            "Several choices, each a mapping with the keys of a choice. Not with `text`, `chunks`, `faker`,"
            " `tool_calls`, `refusal`, `finish_reason` or another `split` beside it. The request's `n`"
            " says how many choices are sent.",
            "choices: [{text: Paris.}, {text: It is Paris.}]",
        ),
        "usage": Doc(
            "Token counts: a mapping with the `usage` keys. A count not given is derived from the request"
            " and the answer.",
            "usage: {prompt_tokens: 12}",
        ),
        "model": Doc(
            "The model the response reports. When not set, the request's `model`.", "model: gpt-4o-2024-08-06"
        ),
        "timing": Doc(
            "When each part goes out: a mapping with the `timing` keys. When not set, no delays.",
            "timing: {first_chunk: 0.5, gap: 0.05}",
        ),
        "wire": Doc(
            "How the bytes are cut into writes, and how lines end: a mapping with the `wire` keys. When"
            " not set, events with no wait between them share a write, and LF.",
            "wire: {write_size: 1}",
        ),
        "fault": Doc(
            "Something going wrong on the wire: a fault kind, or a mapping with the `fault` keys.",
            "fault: reset",
        ),
        "rate_limits": Doc(
            "Rate-limit headers: a mapping with the `rate_limits` keys. Headers not set keep their defaults.",
            "rate_limits: {remaining_requests: 0}",
        ),
        "headers": Doc(_HEADERS, "headers: {x-request-id: req_123}"),
        **_USES,
    },
    "error": {
        "error": Doc(
            "A preset, or a bare status. A status that has a preset takes it (`429` is `rate_limit`);"
            " any other gets a body that says it was scripted.",
            "error: rate_limit",
            "from 400 to 599",
        ),
        "status": Doc(
            "The HTTP status, sent with the preset's body. Not with a bare status as `error`.",
            "status: 503",
            "from 400 to 599",
        ),
        "message": Doc("The error's message. When not set, the preset's.", 'message: "Slow down."'),
        "type": Doc("The error's type. When not set, the preset's.", "type: requests"),
        "code": Doc("The error's code. When not set, the preset's.", "code: rate_limit_exceeded"),
        "param": Doc("The error's param. When not set, the preset's.", "param: messages"),
        "body": Doc(
            "The whole body, replacing the preset's: a mapping is sent as JSON, a string as `text/plain`.",
            'body: "upstream connect error"',
        ),
        "headers": Doc(_HEADERS, "headers: {server: envoy}"),
        "retry_after": Doc(
            "The `retry-after` header: seconds, or a string sent as written. The `rate_limit` preset"
            " without `retry_after` or `retry_after_ms` sends `retry-after: 1`.",
            "retry_after: 2",
        ),
        "retry_after_ms": Doc(
            "The `retry-after-ms` header, in milliseconds. The SDKs read it before `retry-after`.",
            "retry_after_ms: 250",
            ">= 0",
        ),
        "retry_after_format": Doc(
            "`date` sends `retry_after` as an HTTP date that many seconds from now, rounded up. It"
            " needs `retry_after` as a number.",
            "retry_after: 30, retry_after_format: date",
        ),
        "should_retry": Doc(
            "Sends `x-should-retry: true` or `false`, which the SDKs obey over their own rules. When not"
            " set, the header is not sent.",
            "should_retry: false",
        ),
        "rate_limits": Doc(
            "Rate-limit headers: a mapping with the `rate_limits` keys.",
            "rate_limits: {remaining_requests: 0, reset_requests: 1.5}",
        ),
        "timing": Doc(
            "Only `headers_delay` is used: the error is sent after that wait.",
            "timing: {headers_delay: 0.2}",
        ),
        **_USES,
    },
    "choice": _CONTENT,
    "tool_call": {
        "name": Doc("The function's name.", "name: get_weather"),
        "arguments": Doc(
            "The arguments: a mapping, sent as compact JSON, or a string of valid JSON, sent as written.",
            "arguments: {city: Paris}",
        ),
        "id": Doc(
            "The call's id. When not set, one is made with the API's prefix, such as `call_`.",
            "id: call_1",
        ),
        "split": Doc("How the JSON text of the arguments is cut into fragments.", "split: char", ">= 1"),
    },
    "faker": {
        "seed": Doc("The seed: the same seed always gives the same text.", "seed: 42"),
        "sentences": Doc("How many sentences.", "sentences: 5", ">= 1"),
    },
    "usage": {
        "prompt_tokens": Doc(
            "Input tokens. When not set, counted from the request.",
            "prompt_tokens: 12",
            ">= 0",
        ),
        "completion_tokens": Doc(
            "Output tokens. When not set, counted from the answer's text, refusal and tool calls.",
            "completion_tokens: 40",
            ">= 0",
        ),
    },
    "timing": {
        "headers_delay": Doc("Seconds before the status line and headers.", "headers_delay: 0.2", ">= 0"),
        "first_chunk": Doc("Seconds after the headers, before the first chunk.", "first_chunk: 0.5", ">= 0"),
        "gap": Doc("Seconds before each later chunk.", "gap: 0.05", ">= 0"),
        "jitter": Doc(
            "Each gap varies uniformly by up to this many seconds either way, never below 0.",
            "jitter: 0.02",
            ">= 0",
        ),
        "distribution": Doc(
            "`lognormal`: each gap is `gap` times a log-normal draw, so `gap` is the median and long"
            " gaps happen now and then. `jitter` is then not used.",
            "distribution: lognormal",
        ),
        "sigma": Doc(
            "The spread of the log-normal draw: larger means more long gaps.",
            "sigma: 1.0",
            ">= 0",
        ),
        "keepalive": Doc(
            "While the stream waits for its next chunk, send a comment line `: ping` every this many seconds.",
            "keepalive: 0.1",
            "> 0",
        ),
        "seed": Doc("Seeds the draws of `jitter` and `lognormal`, so each run waits the same gaps.", "seed: 7"),
    },
    "wire": {
        "write_size": Doc(
            "Cut the body into writes of this many bytes. A list is cycled: `[1, 7, 3]` gives writes of"
            " 1, 7, 3, 1, 7, 3... bytes.",
            "write_size: [1, 7, 3]",
            "(each >= 1)",
        ),
        "events_per_write": Doc(
            "Join this many events into one write, before `write_size` cuts it.",
            "events_per_write: 3",
            ">= 1",
        ),
        "line_ending": Doc("How every line ends. The real APIs send `lf`.", "line_ending: crlf"),
    },
    "fault": {
        "kind": Doc(
            "What goes wrong. A fault before the headers leaves the client without a response; the others"
            " strike at a position in the body.",
            "kind: stall",
        ),
        "after_chunk": Doc(
            "Strike after this many events. Not with `after_byte`. With neither, {positions}.",
            "kind: close, after_chunk: 2",
            ">= 0",
        ),
        "after_byte": Doc(
            "Strike after this many bytes of the body, as sent.",
            "kind: truncate, after_byte: 100",
            ">= 0",
        ),
        "duration": Doc(
            "Seconds a `stall` or `hang` lasts; only these two take it. When not set, until the client gives up.",
            "kind: stall, duration: 1.5",
            ">= 0",
        ),
        "error": Doc("The preset whose error an `error_event` sends.", "kind: error_event, error: rate_limit"),
        "message": Doc(
            "The message of an `error_event`. When not set, the preset's.",
            'kind: error_event, message: "Try again later."',
        ),
        "size": Doc("How many random bytes `garbage` sends.", "kind: garbage, size: 16", ">= 1"),
        "seed": Doc("Seeds the random bytes of `garbage`: the same seed, the same bytes.", "kind: garbage, seed: 3"),
    },
    "rate_limits": {
        "limit_requests": Doc(_RATE_LIMIT, "limit_requests: 100", ">= 0"),
        "remaining_requests": Doc(_RATE_LIMIT, "remaining_requests: 0", ">= 0"),
        "reset_requests": Doc(_RESET, "reset_requests: 1.5", ">= 0"),
        "limit_tokens": Doc(_RATE_LIMIT, "limit_tokens: 30000", ">= 0"),
        "remaining_tokens": Doc(_RATE_LIMIT, "remaining_tokens: 120", ">= 0"),
        "reset_tokens": Doc(_RESET, "reset_tokens: 61.5", ">= 0"),
    },
}


# -- what the model says about each key ------------------------------------------------------


class Key(NamedTuple):
    hint: Any
    default: object  # REQUIRED when there is none


REQUIRED = object()


def keys_of(section: Section) -> dict[str, Key]:
    """Each file key of the section, with the type and default of what it feeds."""
    source = section.source
    hints = typing.get_type_hints(source)
    found: dict[str, Key] = {}
    if isinstance(source, type) and dataclasses.is_dataclass(source):
        for f in dataclasses.fields(source):
            if f.default is not dataclasses.MISSING:
                default: object = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = REQUIRED
            found[f.name] = Key(hints[f.name], default)
    else:
        for p in inspect.signature(source).parameters.values():
            found[p.name] = Key(hints[p.name], REQUIRED if p.default is inspect.Parameter.empty else p.default)
    if section.name == "scenario":  # top-level `replies` is a rule of its own, not a field
        found["replies"] = Key(tuple[Answer | ErrorReply, ...], None)
    return {key: found[section.rename.get(key, key)] for key in section.keys}


_PLAIN = {str: "string", int: "integer", float: "number", bool: "boolean"}
_LISTS = {
    "Rule": "list of mappings",
    "ToolCall": "list of mappings",
    "Message": "list of mappings",
    "str": "list of strings",
    "int": "list of integers",
}


def type_text(hint: Any, section: str, key: str) -> str:
    """A key's type, in a file's terms; a type this does not know is an error, to be added here."""
    parts: list[str] = []
    for arm in _arms(hint):
        text = _arm_text(arm, section, key)
        if text and text not in parts:
            parts.append(text)
    if parts == ["integer", "number"]:
        parts = ["number"]
    parts.sort(key=lambda part: part == "mapping")  # the plain forms first
    return ", or ".join(parts)


def _arms(hint: Any) -> list[Any]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return [a for a in typing.get_args(hint) if a is not type(None)]
    return [hint]


def _arm_text(arm: Any, section: str, key: str) -> str | None:
    origin = typing.get_origin(arm)
    if origin is typing.Literal:
        return _one_of(typing.get_args(arm))
    if arm is str and (section, key) in VALUES:
        names = NAMES[VALUES[section, key]]
        return _one_of(names.values) if len(names.values) <= 5 else names.one
    if arm in _PLAIN:
        return _PLAIN[arm]
    if origin in (tuple, list, Sequence):
        item = typing.get_args(arm)[0]
        if {Answer, ErrorReply} <= set(_arms(item)):  # a Callback reply is Python only
            return "list of mappings"
        return _LISTS[getattr(item, "__name__", str(item))]
    if origin is Mapping:
        return "mapping of strings" if typing.get_args(arm) == (str, str) else "mapping"
    if arm is Split:
        return None  # Python only; files give a name or a size
    if isinstance(arm, type) and dataclasses.is_dataclass(arm):
        return "mapping"
    raise KeyError(f"no file type for {arm!r} ({section}.{key}); teach docs/gen_schema.py")


def _one_of(values: Sequence[object]) -> str:
    shown = [f"`{v}`" for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def default_text(default: object) -> str:
    if default is REQUIRED:
        return "required"
    if default is None or default in ((), {}) or dataclasses.is_dataclass(default):
        return "not set"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def meaning(section: str, key: str) -> str:
    """The meaning, its placeholders filled from the model and the dialects."""
    text = DOCS[section][key].meaning
    fields: dict[str, str] = {
        "endpoints": ", ".join(f"`{name}` is `{path}`" for name, path in ENDPOINTS.items()),
        "positions": "a fault strikes halfway, or before the headers for `reset` and `garbage`",
    }
    if section == "rate_limits":
        limits = RateLimits(**{key: 1})
        (fields["openai"],) = rate_limit_headers(limits)
        (fields["anthropic"],) = AnthropicMessages().rate_limit_headers(limits)
    return text.format(**fields)


# -- rendering --------------------------------------------------------------------------------


def table(section: Section) -> list[str]:
    rows = ["| Key | Type | Default | Meaning | Example |", "|---|---|---|---|---|"]
    for key, found in keys_of(section).items():
        doc = DOCS[section.name][key]
        kind = type_text(found.hint, section.name, key)
        if doc.bound:
            kind += f" {doc.bound}"
        cells = [f"`{key}`", kind, default_text(found.default), meaning(section.name, key), f"`{doc.example}`"]
        if any("|" in cell for cell in cells):
            raise ValueError(f"a `|` in the row of {section.name}.{key} would break the table")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def names_table() -> list[str]:
    rows = ["| Name | Values |", "|---|---|"]
    rows += [f"| {name} | {names.shown} |" for name, names in NAMES.items()]
    return rows


def _section(name: str, lines: list[str]) -> list[str]:
    return [f"<!-- --8<-- [start:{name}] -->", *lines, f"<!-- --8<-- [end:{name}] -->", ""]


def markdown() -> str:
    lines = [
        "<!-- Generated from the scenario model by docs/gen_schema.py: do not edit by hand. -->",
        f"<!-- Regenerate: python docs/gen_schema.py > {GENERATED} -->",
        "",
    ]
    for section in SECTIONS:
        lines += _section(section.name, table(section))
    lines += _section("names", names_table())
    return "\n".join(lines)


# -- examples, as whole scenarios --------------------------------------------------------------

_REPLY = {"text": "Hi"}
_PLACES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "scenario": lambda ex: ex if "rules" in ex or "replies" in ex else {**ex, "replies": [_REPLY]},
    "rule": lambda ex: {"rules": [{"replies": [_REPLY], **ex}]},
    "match": lambda ex: {"rules": [{"match": ex, "replies": [_REPLY]}]},
    "answer": lambda ex: {"replies": [ex]},
    "error": lambda ex: {"replies": [{"error": "server_error", **ex}]},
    "choice": lambda ex: {"replies": [{"choices": [ex]}]},
    "tool_call": lambda ex: {"replies": [{"tool_calls": [{"name": "get_weather", **ex}]}]},
    "faker": lambda ex: {"replies": [{"faker": ex}]},
    "usage": lambda ex: {"replies": [{"usage": ex}]},
    "timing": lambda ex: {"replies": [{"timing": ex}]},
    "wire": lambda ex: {"replies": [{"wire": ex}]},
    "fault": lambda ex: {"replies": [{"fault": ex}]},
    "rate_limits": lambda ex: {"replies": [{"rate_limits": ex}]},
}


def example_values(section: str, key: str) -> dict[str, Any]:
    values = yaml.safe_load("{" + DOCS[section][key].example + "}")
    if not isinstance(values, dict) or key not in values:
        raise ValueError(f"the example of {section}.{key} does not give {key}")
    return values


def example_scenario(section: str, key: str) -> str:
    """A whole scenario, as JSON text, with the key's example in its place."""
    return json.dumps(_PLACES[section](example_values(section, key)))


if __name__ == "__main__":
    print(markdown(), end="")
