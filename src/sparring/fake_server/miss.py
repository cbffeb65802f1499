"""What the miss message says about a request: the facts rules match on, briefly."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sparring.scenario.match import lookup
from sparring.scenario.model import Scenario
from sparring.scenario.request import Request


def request_facts(info: Request, scenario: Scenario | None = None) -> list[str]:
    """`model='gpt-4o'`, `stream=False`, the last user message, and what the conversation
    holds: how many messages, who spoke last, the system prompt, the tool results sent back,
    and the body fields the scenario's rules look at."""
    facts = [f"model={info.model!r}", f"stream={info.stream}", f"last user message={info.last_user_text[:60]!r}"]
    if info.retry_count is not None:
        facts.append(f"retry count {info.retry_count}")
    if info.messages:
        count = info.message_count
        facts.append(f"{count} message{'' if count == 1 else 's'}, the last from {info.last_role}")
    if info.system:
        facts.append(f"system prompt {_short(info.system)}")
    for result in info.tool_results:
        name = f" ({result.tool_name})" if result.tool_name else ""
        facts.append(f"tool result {result.tool_call_id}{name} {_short(result.text)}")
    for path in _body_paths(scenario):
        found, value = lookup(info.body, path)
        facts.append(f"body {path}={_short(value) if found else 'missing'}")
    return facts


def _body_paths(scenario: Scenario | None) -> list[str]:
    """Every dotted body path some rule matches on, once, in order."""
    paths: list[str] = []
    for rule in scenario.rules if scenario is not None else ():
        for path in _flatten(rule.match.body):
            if path not in paths:
                paths.append(path)
    return paths


def _flatten(body: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in body.items():
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield prefix + key


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
