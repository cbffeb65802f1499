"""The miss message: what a request nothing scripted answers is told, and the test with it.

It starts from the request's one-line description (`Request.describe`, which the journal keeps
as `Entry.asked` and the plugin's teardown shows too), so a request reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from sparring.fake_server.dialects import find
from sparring.fake_server.dialects.base import InvalidRequest, Route
from sparring.fake_server.journal import Entry
from sparring.fake_server.store import DEFAULT_NAMESPACE, describe_reply
from sparring.scenario.match import RegexTimeout
from sparring.scenario.model import Rule, Scenario
from sparring.scenario.request import Request

# Where the miss message says why each rule did not answer; the plugin's teardown shows that part.
WHY = " Why no rule answered: "
RULES_SHOWN = 6  # rules the message gives a reason for; the rest are counted


def explain_miss(
    method: str,
    info: Request,
    summary: list[dict[str, object]],
    namespace: str,
    *,
    scenario: Scenario | None = None,
    declined: tuple[int, ...] = (),
) -> str:
    """`sparring: no scripted reply answers POST /v1/... (model='gpt-4o', ...).`, then, for each
    scripted rule, why it did not: the first key of its match that does not hold, or that its
    replies are used up, or that its callback handed the request on."""
    where = "" if namespace == DEFAULT_NAMESPACE else f" in namespace {namespace!r}"
    head = f"sparring: no scripted reply answers {info.describe(method)}{where}."
    rules = scenario.rules if scenario is not None else ()
    if not rules:
        return head + " Nothing is scripted: add replies or load a scenario (see the docs: Scenario files)."
    # Rules whose match holds first (used up, or handed on): they are the likely answer.
    found = sorted(_reasons(info, rules, summary, declined), key=lambda item: not item[2])
    reasons = [f"{_rule(r, rule)}: {why}" for r, rule, _, why in found[:RULES_SHOWN]]
    more = len(found) - RULES_SHOWN
    if more > 0:
        reasons.append(f"and {more} more rule{'' if more == 1 else 's'}")
    return head + WHY + "; ".join(reasons) + "."


def _rule(r: int, rule: Rule) -> str:
    """`rule 2 'greeting' [message='hi'] (text 'Hello!', then 1 more)`: its place, name, match
    and what it would answer, so a rule reads as the test wrote it."""
    name = f" {rule.name!r}" if rule.name else ""
    more = len(rule.replies) - 1
    answers = describe_reply(rule.replies[0]) + (f", then {more} more" if more else "")
    return f"rule {r + 1}{name} [{rule.match.describe()}] ({answers})"


def _reasons(
    info: Request, rules: Sequence[Rule], summary: list[dict[str, object]], declined: tuple[int, ...]
) -> Iterator[tuple[int, Rule, bool, str]]:
    """Each rule, whether its match holds, and why it did not answer."""
    for r, rule in enumerate(rules):
        try:
            why = rule.match.explain(info)
        except RegexTimeout as exc:
            why = f"its match.{exc.key} took longer than regular expressions may"
        if why is not None:
            yield r, rule, False, why
        else:
            yield r, rule, True, "its callback handed the request on" if r in declined else _used_up(r + 1, summary)


def _used_up(rule: int, summary: list[dict[str, object]]) -> str:
    """`used up: 2 of 2 replies sent`, from the store's summary of rule `rule` (from 1)."""
    total = sent = 0
    for item in summary:
        left, times = item["left"], item["times"]
        if item["rule"] != rule:
            continue
        if not isinstance(left, int) or not isinstance(times, int):  # `repeat`: never used up
            return "it has a reply that repeats, yet did not answer (was it reset meanwhile?)"
        total, sent = total + times, sent + times - left
    return f"used up: {sent} of {total} repl{'y' if total == 1 else 'ies'} sent"


def asked_of(entry: Entry, headers: Mapping[str, str]) -> str | None:
    """The description of a request the server answered without reading it as its API's (one
    sent to a namespace that has ended), from its journaled body: `None` when its route is no
    API's or its body is not one that API takes."""
    found = find(entry.path)
    if found is None or not isinstance(entry.body, Mapping):
        return None
    dialect, params = found
    try:
        parsed = dialect.parse_at(entry.body, Route(params))
    except InvalidRequest:
        return None
    retry = headers.get("x-stainless-retry-count", "")
    request = dialect.request_of(
        parsed,
        path=entry.path,
        headers=headers,
        retry_count=int(retry) if retry.isdigit() else None,
        index=entry.index,
    )
    return request.describe(entry.method)
