"""`Match`: which requests a rule answers, and the check that it holds for a request.

The keys read a `Request` (sparring.scenario.request), so they mean the same whatever API the
request came through: the route and model, the last user message, headers, the conversation
(system prompt, how many messages, who spoke last, the tool results the agent sends back) and
any field of the JSON body.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparring.apis import ENDPOINTS as ENDPOINTS  # the registry's: `match: {endpoint: ...}` names
from sparring.errors import ScenarioError
from sparring.scenario._validate import closest, fail
from sparring.scenario.request import short

if TYPE_CHECKING:
    import regex

    from sparring.scenario.request import Request, RequestMessage

# What `last_role` can say (sparring.scenario.request.ROLES, repeated to keep this module light).
ROLES = ("system", "developer", "user", "assistant", "tool")
_TEXT_KEYS = ("path", "model", "message", "system", "tool_call_id", "tool_name", "tool_result")
_REGEX_KEYS = ("message_regex", "system_regex", "tool_result_regex")
MAX_PATTERN = 1000  # characters in one pattern: real ones are a few dozen
# `regex` unrolls counted repeats when it compiles: `(a{1000}){1000}` takes half a second and
# `((a{1000}){1000}){1000}` every byte of memory. Their counts multiplied stay below this.
MAX_REPEATS = 10_000
_COUNTED = re.compile(r"\{(\d*)(?:,(\d*))?\}")  # an escaped `\{3}` counts too: more, never less
REGEX_BUDGET = 0.1  # seconds all of one request's regular expressions may take together
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
            pattern = getattr(self, name)
            if pattern is None:
                continue
            if len(pattern) > MAX_PATTERN:
                raise fail(f"match.{name}", f"is {len(pattern):,} characters long; the limit is {MAX_PATTERN:,}")
            if _repeats(pattern) > MAX_REPEATS:
                raise fail(
                    f"match.{name}",
                    f"has counted repeats ({{m,n}}) that multiplied together come to more than {MAX_REPEATS:,},"
                    " the limit: the regex engine unrolls them when it compiles the pattern",
                )
            try:
                _compiled(pattern)
            except (_regex().error, OverflowError, RecursionError, ValueError) as exc:
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
        return all(check(self, request) is None for check in self._checks)

    def explain(self, request: Request) -> str | None:
        """Why the match does not hold for `request`: the first key given that fails, in words
        (`model is 'gpt-4.1', the rule wants 'gpt-4o'`); `None` when every key holds. The same
        checks as `holds`, which only asks whether each found a reason."""
        for check in self._checks:
            why = check(self, request)
            if why is not None:
                return why
        return None

    @functools.cached_property
    def _checks(self) -> tuple[_Check, ...]:
        """The checks of the keys given, in `_CHECKS` order: an empty match has none to run."""
        given = (check for key, check in _CHECKS if getattr(self, key) not in (None, {}))
        return tuple(dict.fromkeys(given))  # the tool keys share one check

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


class RegexTimeout(Exception):
    """A rule's regular expression ran out of the request's time budget. `rule` is set by
    the store, which knows the rule's place in the scenario."""

    def __init__(self, key: str, pattern: str, budget: float, rule: int | None = None) -> None:
        super().__init__(key, pattern, budget, rule)
        self.key, self.pattern, self.budget, self.rule = key, pattern, budget, rule

    def message(self) -> str:
        where = f"rule {self.rule + 1}" if self.rule is not None else "a rule"
        return (
            f"sparring: the scenario's {where} match.{self.key} {self.pattern!r} took more than the"
            f" {self.budget:g} s that regular expressions may take per request (catastrophic"
            " backtracking?); simplify the pattern"
        )


# The budget of the request being matched: when it runs out (`time.monotonic()`), and its size.
_BUDGET: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar("sparring_regex", default=None)


@contextlib.contextmanager
def regex_budget(seconds: float = REGEX_BUDGET) -> Iterator[None]:
    """Every regular expression searched inside shares `seconds`; past them, `RegexTimeout`."""
    token = _BUDGET.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _repeats(pattern: str) -> int:
    """The counts of every `{m}`, `{m,}`, `{m,n}` and `{,n}` in the pattern, multiplied: more than
    nested repeats cost, never less."""
    product = 1
    for low, high in _COUNTED.findall(pattern):
        product *= max(1, int(high or low or 1))
        if product > MAX_REPEATS:
            break
    return product


def _regex() -> Any:
    """`regex` rather than `re`: the same syntax, and a `timeout` per search. A pattern such as
    `(a|aa)+$` takes time exponential in the text it searches; `re` cannot be stopped. Imported
    on first use: most scenarios have no pattern, and it costs a fortieth of `serve`'s start-up."""
    import regex

    return regex


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> regex.Pattern[str]:
    compiled: regex.Pattern[str] = _regex().compile(pattern)
    return compiled


def _search(match: Match, key: str, text: str) -> bool:
    pattern: str | None = getattr(match, key)
    if pattern is None:
        return True
    deadline, budget = _BUDGET.get() or (time.monotonic() + REGEX_BUDGET, REGEX_BUDGET)
    left = deadline - time.monotonic()
    try:
        if left <= 0:
            raise TimeoutError
        return _compiled(pattern).search(text, timeout=left) is not None
    except TimeoutError:
        raise RegexTimeout(key, pattern, budget) from None


# -- the checks: one per key, each `None` when the key holds, else why not ------------------------

_Check = Callable[["Match", "Request"], "str | None"]


def _endpoint(m: Match, r: Request) -> str | None:
    if m.endpoint is None or m.endpoint == r.endpoint:  # the dialect's name: its route may be a pattern
        return None
    return f"endpoint {r.endpoint}, the rule wants {m.endpoint}"


def _path(m: Match, r: Request) -> str | None:
    return None if m.path == r.path else f"path is {r.path!r}, the rule wants {m.path!r}"


def _model(m: Match, r: Request) -> str | None:
    return None if m.model == r.model else f"model is {r.model!r}, the rule wants {m.model!r}"


def _contains(what: str, text: str, want: str | None) -> str | None:
    return None if want is not None and want in text else f"{what} {short(text)} does not contain {want!r}"


def _matches(what: str, text: str, m: Match, key: str) -> str | None:
    if _search(m, key, text):
        return None
    return f"{what} {short(text)} does not match the pattern {getattr(m, key)!r}"


def _message(m: Match, r: Request) -> str | None:
    return _contains("last user message", r.last_user_text, m.message)


def _message_regex(m: Match, r: Request) -> str | None:
    return _matches("last user message", r.last_user_text, m, "message_regex")


def _tools(m: Match, r: Request) -> str | None:
    if m.tools == r.has_tools:
        return None
    if r.has_tools:
        return "the request offers tools, the rule wants none"
    return "the request offers no tools, the rule wants tools"


def _stream(m: Match, r: Request) -> str | None:
    if m.stream == r.stream:
        return None
    if r.stream:
        return "the request streams, the rule wants no stream"
    return "the request is not streamed, the rule wants a stream"


def _retry_count(m: Match, r: Request) -> str | None:
    if m.retry_count == r.retry_count:
        return None
    if r.retry_count is None:
        return f"no x-stainless-retry-count header, the rule wants retry count {m.retry_count}"
    return f"retry count is {r.retry_count}, the rule wants {m.retry_count}"


def _headers(m: Match, r: Request) -> str | None:
    for name, want in m.headers.items():
        got = r.headers.get(name.lower())
        if got != want:
            said = f"no {name} header" if got is None else f"header {name} is {short(got)}"
            return f"{said}, the rule wants {want!r}"
    return None


def _system(m: Match, r: Request) -> str | None:
    return _contains("system prompt", r.system, m.system)


def _system_regex(m: Match, r: Request) -> str | None:
    return _matches("system prompt", r.system, m, "system_regex")


def _message_count(m: Match, r: Request) -> str | None:
    if m.message_count == r.message_count:
        return None
    return f"{r.message_count} message{'' if r.message_count == 1 else 's'}, the rule wants {m.message_count}"


def _last_role(m: Match, r: Request) -> str | None:
    if m.last_role == r.last_role:
        return None
    said = "no messages" if r.last_role is None else f"the last message is from {r.last_role}"
    return f"{said}, the rule wants {m.last_role}"


def _body(m: Match, r: Request) -> str | None:
    return body_differs(m.body, r.body)


def _tool_results(match: Match, request: Request) -> str | None:
    """One tool result the request sends back must satisfy every tool key given."""
    wanted = {
        key: value
        for key in ("tool_call_id", "tool_name", "tool_result", "tool_result_regex")
        if (value := getattr(match, key)) is not None
    }
    if not wanted:
        return None
    keys = ", ".join(f"{key}={value!r}" for key, value in wanted.items())
    results = request.tool_results
    if not results:
        return f"no tool results sent back, the rule wants one with {keys}"
    reasons = [_tool_result(match, result) for result in results]
    if None in reasons:
        return None
    if len(results) == 1:
        return reasons[0]
    sent = "; ".join(f"{r.tool_call_id} ({r.tool_name}) {short(r.text)}" for r in results)
    return f"none of the {len(results)} tool results sent back has {keys} (sent: {sent})"


def _tool_result(m: Match, result: RequestMessage) -> str | None:
    said = f"the tool result {short(result.text)}"
    if m.tool_call_id is not None and result.tool_call_id != m.tool_call_id:
        return f"the tool result answers call {result.tool_call_id!r}, the rule wants {m.tool_call_id!r}"
    if m.tool_name is not None and result.tool_name != m.tool_name:
        return f"the tool result is from {result.tool_name!r}, the rule wants {m.tool_name!r}"
    if m.tool_result is not None and m.tool_result not in result.text:
        return f"{said} does not contain {m.tool_result!r}"
    if not _search(m, "tool_result_regex", result.text):
        return f"{said} does not match the pattern {m.tool_result_regex!r}"
    return None


# Each key's check, in the order they are tried: the cheap ones first.
_CHECKS: tuple[tuple[str, _Check], ...] = (
    ("endpoint", _endpoint),
    ("path", _path),
    ("model", _model),
    ("message", _message),
    ("message_regex", _message_regex),
    ("tools", _tools),
    ("stream", _stream),
    ("retry_count", _retry_count),
    ("headers", _headers),
    ("system", _system),
    ("system_regex", _system_regex),
    ("message_count", _message_count),
    ("last_role", _last_role),
    ("tool_call_id", _tool_results),
    ("tool_name", _tool_results),
    ("tool_result", _tool_results),
    ("tool_result_regex", _tool_results),
    ("body", _body),
)


def body_holds(expected: Mapping[str, Any], actual: object) -> bool:
    """Whether `actual` has every field of `expected`: keys are dotted paths (a number indexes a
    list), a mapping matches a subset of the fields, a list matches item by item, and `null`
    matches a field that is null or missing."""
    return body_differs(expected, actual) is None


def body_differs(expected: Mapping[str, Any], actual: object, prefix: str = "") -> str | None:
    """The first field of `expected` that `actual` lacks or has otherwise, in words; `None`
    when it has them all (see `body_holds`)."""
    for key, want in expected.items():
        path = prefix + key
        found, got = lookup(actual, key)
        if want is None:
            if found and got is not None:
                return f"body {path} is {short(got)}, the rule wants null or missing"
        elif not found:
            return f"body {path} is missing, the rule wants {short(want)}"
        elif isinstance(want, Mapping) and isinstance(got, Mapping):
            why = body_differs(want, got, f"{path}.")
            if why is not None:
                return why
        elif not _value_holds(want, got):
            return f"body {path} is {short(got)}, the rule wants {short(want)}"
    return None


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
