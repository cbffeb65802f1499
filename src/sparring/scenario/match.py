"""`Match`: which requests a rule answers, and the check that it holds for a request.

The keys read a `Request` (sparring.scenario.request), so they mean the same whatever API the
request came through: the route and model, the last user message, headers, the conversation
(system prompt, how many messages, who spoke last, the tool results the agent sends back) and
any field of the JSON body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparring.errors import ScenarioError
from sparring.scenario._validate import closest, fail

if TYPE_CHECKING:
    from sparring.scenario.request import Request

# `match: {endpoint: ...}` names, and the route each answers.
ENDPOINTS: dict[str, str] = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
}
# What `last_role` can say (sparring.scenario.request.ROLES, repeated to keep this module light).
ROLES = ("system", "developer", "user", "assistant", "tool")
_TEXT_KEYS = ("path", "model", "message", "system", "tool_call_id", "tool_name", "tool_result")
_REGEX_KEYS = ("message_regex", "system_regex", "tool_result_regex")
_DESCRIBED = (
    "endpoint",
    "path",
    "model",
    "message",
    "message_regex",
    "system",
    "system_regex",
    "message_count",
    "last_role",
    "tool_call_id",
    "tool_name",
    "tool_result",
    "tool_result_regex",
    "tools",
    "stream",
    "retry_count",
)


@dataclass(frozen=True)
class Match:
    """Which requests a rule answers. Every field given must hold; an empty match holds always."""

    endpoint: str | None = None
    path: str | None = None
    model: str | None = None
    message: str | None = None
    message_regex: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tools: bool | None = None
    stream: bool | None = None
    retry_count: int | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    system: str | None = None
    system_regex: str | None = None
    message_count: int | None = None
    last_role: str | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_result: str | None = None
    tool_result_regex: str | None = None

    def __post_init__(self) -> None:
        if self.endpoint is not None and self.endpoint not in ENDPOINTS:
            raise ScenarioError.single(
                f"unknown endpoint {self.endpoint!r}; use one of {', '.join(ENDPOINTS)}",
                path="match.endpoint",
                suggestion=closest(str(self.endpoint), tuple(ENDPOINTS)),
            )
        for name in (*_TEXT_KEYS, *_REGEX_KEYS):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise fail(f"match.{name}", f"must be a string, got {type(value).__name__} {value!r}")
        for name in _REGEX_KEYS:
            if getattr(self, name) is not None:
                try:
                    re.compile(getattr(self, name))
                except re.error as exc:
                    raise fail(f"match.{name}", f"is not a valid regular expression: {exc}") from None
        for name in ("tools", "stream"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise fail(f"match.{name}", f"must be true or false, got {type(value).__name__} {value!r}")
        for name in ("retry_count", "message_count"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise fail(f"match.{name}", f"must be an integer >= 0, got {type(value).__name__} {value!r}")
        if self.last_role is not None and self.last_role not in ROLES:
            raise ScenarioError.single(
                f"unknown role {self.last_role!r}; use one of {', '.join(ROLES)}",
                path="match.last_role",
                suggestion=closest(self.last_role, ROLES),
            )
        _check_headers(self.headers)
        _check_body(self.body, "match.body")

    def holds(self, request: Request) -> bool:
        """Whether every key given holds for `request`."""
        r = request
        return (
            (self.endpoint is None or ENDPOINTS[self.endpoint] == r.path)
            and (self.path is None or self.path == r.path)
            and (self.model is None or self.model == r.model)
            and (self.message is None or self.message in r.last_user_text)
            and _search(self.message_regex, r.last_user_text)
            and (self.tools is None or self.tools == r.has_tools)
            and (self.stream is None or self.stream == r.stream)
            and (self.retry_count is None or self.retry_count == r.retry_count)
            and all(r.headers.get(k.lower()) == v for k, v in self.headers.items())
            and (self.system is None or self.system in r.system)
            and _search(self.system_regex, r.system)
            and (self.message_count is None or self.message_count == r.message_count)
            and (self.last_role is None or self.last_role == r.last_role)
            and _tool_results_hold(self, r)
            and (not self.body or body_holds(self.body, r.body))
        )

    def describe(self) -> str:
        parts = [f"{name}={value!r}" for name, value in self._given()]
        return ", ".join(parts) if parts else "any request"

    def _given(self) -> list[tuple[str, object]]:
        given: list[tuple[str, object]] = []
        for name in _DESCRIBED:
            value = getattr(self, name)
            if value is not None:
                given.append((name, value))
        if self.headers:
            given.append(("headers", dict(self.headers)))
        if self.body:
            given.append(("body", dict(self.body)))
        return given


def _check_headers(headers: object) -> None:
    if not isinstance(headers, Mapping):
        raise fail("match.headers", f"must be a mapping of header names to values, got {headers!r}")
    for name, value in headers.items():
        if not isinstance(value, str):
            raise fail(f"match.headers.{name}", f"must be a string (quote it), got {type(value).__name__} {value!r}")


def _check_body(body: object, path: str) -> None:
    """A mapping of dotted paths (or nested mappings) to JSON values."""
    if not isinstance(body, Mapping):
        raise fail(path, f"must be a mapping of body fields to values, got {type(body).__name__} {body!r}")
    for key, value in body.items():
        if not isinstance(key, str) or not key or "" in key.split("."):
            raise fail(path, f"{key!r} is not a field name or a dotted path such as response_format.type")
        _check_json(value, f"{path}.{key}")


def _check_json(value: object, path: str) -> None:
    if isinstance(value, Mapping):
        _check_body(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}.{i}")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise fail(path, f"must be a JSON value (text, number, true/false, null, list, mapping), got {value!r}")


# -- holding -------------------------------------------------------------------------------------


def _search(pattern: str | None, text: str) -> bool:
    return pattern is None or re.search(pattern, text) is not None


def _tool_results_hold(match: Match, request: Request) -> bool:
    """One tool result the request sends back satisfies every tool key given."""
    if (match.tool_call_id, match.tool_name, match.tool_result, match.tool_result_regex) == (None,) * 4:
        return True
    return any(
        (match.tool_call_id is None or result.tool_call_id == match.tool_call_id)
        and (match.tool_name is None or result.tool_name == match.tool_name)
        and (match.tool_result is None or match.tool_result in result.text)
        and _search(match.tool_result_regex, result.text)
        for result in request.tool_results
    )


def body_holds(expected: Mapping[str, Any], actual: object) -> bool:
    """Whether `actual` has every field of `expected`: keys are dotted paths (a number indexes a
    list), a mapping matches a subset of the fields, a list matches item by item, and `null`
    matches a field that is null or missing."""
    for key, want in expected.items():
        found, got = lookup(actual, key)
        if want is None:
            if found and got is not None:
                return False
        elif not found or not _value_holds(want, got):
            return False
    return True


def lookup(value: object, path: str) -> tuple[bool, object]:
    """The value at a dotted path, and whether it is there."""
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def _value_holds(want: object, got: object) -> bool:
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and body_holds(want, got)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(_value_holds, want, got))
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    return want == got
