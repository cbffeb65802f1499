"""The recording's file text, remade cheaply after each exchange.

`dump_scenario` of the whole recording costs tens of milliseconds per stream of a few hundred
events, and a recording grows: dumping it all after every exchange would cost more each time,
and hold the GIL the proxy's loop needs meanwhile. So each rule's head (its name and match)
and each reply are dumped once, and the file is those pieces joined: the same text
`dump_scenario(scenario, fmt="yaml")` gives (tests/test_recorder_save.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Sequence

from sparring.scenario.dump import dump_scenario
from sparring.scenario.model import ErrorReply, Reply, Rule, Scenario

_TOP = "fallback: miss\nrules:\n"
_REPLIES = "\n  replies:\n"
_FIRST = "- replies:\n"
_PLACEHOLDER = ErrorReply(status=500)


class Pieces:
    """Dumped rule heads and replies, kept while the rules they belong to are."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[object, str]] = {}  # id -> (the object, so the id stays its own; text)

    def text(self, rules: Sequence[Rule]) -> str:
        if not rules:
            return dump_scenario(Scenario(), fmt="yaml")
        kept: dict[int, tuple[object, str]] = {}
        parts = [_TOP]
        for rule in rules:
            parts.append(self._piece(rule, kept, self._head))
            parts.extend(self._piece(reply, kept, self._reply) for reply in rule.replies)
        self._kept = kept
        return "".join(parts)

    def _piece(self, obj: object, kept: dict[int, tuple[object, str]], make: object) -> str:
        found = self._kept.get(id(obj))
        text = found[1] if found is not None and found[0] is obj else make(obj)  # type: ignore[operator]
        kept[id(obj)] = (obj, text)
        return text

    @staticmethod
    def _head(rule: Rule) -> str:
        """`- match: ...\n  replies:\n`: the rule up to its first reply."""
        text = _rule_text(Rule(replies=(_PLACEHOLDER,), match=rule.match, name=rule.name))  # not a long stream
        return text[: _replies_end(text)]

    @staticmethod
    def _reply(reply: Reply) -> str:
        """`  - recorded: chat\n    ...`: one reply as an item of a rule's replies."""
        text = _rule_text(Rule(replies=(reply,)))
        return text[_replies_end(text) :]


def _rule_text(rule: Rule) -> str:
    """One rule as `dump_scenario` writes it in a file's `rules:` list."""
    text = dump_scenario(Scenario(rules=(rule,)), fmt="yaml")
    if not text.startswith(_TOP):
        raise AssertionError(f"dump_scenario's layout changed: {text[:40]!r}")
    return text[len(_TOP) :]


def _replies_end(text: str) -> int:
    """Where a dumped rule's replies begin: after its `replies:` line, the last key of a rule
    (`- replies:` when it has no name or match)."""
    if text.startswith(_FIRST):
        return len(_FIRST)
    return text.index(_REPLIES) + len(_REPLIES)
