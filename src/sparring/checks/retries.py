"""Retry verdicts read from the journal: how many attempts a call made, how long the client
waited before each retry, and whether it should have retried at all.

The server journals every request; a retrying client shows up as several entries. Each
entry becomes an `Attempt`, attempts are grouped into logical calls, and `check_retries`
judges each retry against what the server said in the response before it (status,
`retry-after-ms` / `retry-after`, `x-should-retry`) and against what it had already sent
(output the consumer may have shown). The rules follow the openai SDK (wire-format.md §3.2).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sparring.checks import grouping
from sparring.checks.grouping import Attempt, attempts, calls, parse_retry_after
from sparring.fake_server.journal import Entry

__all__ = [
    "BACKOFF_CAPPED",
    "BACKOFF_GROWTH",
    "MAX_RETRY_AFTER",
    "RETRYABLE_4XX",
    "Attempt",
    "RetryCheckError",
    "RetryReport",
    "attempts",
    "calls",
    "check_retries",
    "parse_retry_after",
]

# 4xx statuses worth retrying: timeout, conflict, rate limit. Every other 4xx says the request
# itself is wrong, and sending it again gets the same answer.
RETRYABLE_4XX = frozenset({408, 409, 429})
# A retry-after every openai SDK version honours (0 < d <= 60 s; 2.52+ and 3.x go to 120 s).
# Above it a client may fall back to backoff, so longer delays are not demanded.
MAX_RETRY_AFTER = 60.0
# Each backoff wait must be at least this multiple of the one before, less `slack`. The SDK
# doubles its nominal delay and takes up to 25 % off at random, so its worst ratio is
# 2 * 0.75 / 1 = 1.5; 1.3 (and the slack) leave room for scheduling latency, which only ever
# lengthens a measured wait, while a fixed delay (ratio 1.0) still fails.
BACKOFF_GROWTH = 1.3
# From here up a wait is at the SDK's cap (8 s less 25 % jitter) and need not grow any more.
BACKOFF_CAPPED = 6.0
# An HTTP date names a whole second: a client that rounds it down is not at fault.
_DATE_RESOLUTION = 1.0


@dataclass(frozen=True)
class RetryReport:
    """What `check_retries` found: the attempts, grouped into calls, and what was wrong."""

    attempts: list[Attempt]
    calls: list[list[Attempt]]
    violations: list[str]
    note: str = ""  # how grouping read an ambiguous journal, when a failure may hang on it

    @property
    def ok(self) -> bool:
        return not self.violations

    def __str__(self) -> str:
        n, c = len(self.attempts), len(self.calls)
        head = f"{n} attempt{'s' * (n != 1)} in {c} call{'s' * (c != 1)}"
        if self.ok:
            lines = [f"retry check passed: {head}"]
        else:
            lines = [f"retry check failed: {head}, {len(self.violations)} problem{'s' * (len(self.violations) != 1)}:"]
            lines.extend(f"  - {v}" for v in self.violations)
            if self.note:
                lines.append(self.note)
            lines.append("what the server saw:")
        for number, call in enumerate(self.calls, 1):
            lines.append(f"  call {number}:")
            lines.extend(f"    {a.describe()}" for a in call)
        return "\n".join(lines)


class RetryCheckError(AssertionError):
    """A client retried wrongly; the message lists every problem and every attempt."""

    def __init__(self, report: RetryReport) -> None:
        super().__init__(str(report))
        self.report = report


def check_retries(
    entries: Iterable[Entry],
    *,
    attempts: int | None = None,
    max_attempts: int | None = None,
    honours_retry_after: bool = True,
    backoff: bool = False,
    min_gap: float = 0.05,
    slack: float = 0.05,
    max_retry_after: float = MAX_RETRY_AFTER,
    call_starts: Iterable[int] = (),
    raise_on_violation: bool = True,
) -> RetryReport:
    """Judge the retries in a journal (`fake_llm.journal`).

    `attempts`: each call made exactly this many requests. `max_attempts`: no call made more.
    `honours_retry_after`: each retry waited at least the retry-after the server sent, less
    `slack` seconds (delays outside 0 < d <= `max_retry_after` are not demanded). `backoff`:
    each wait without a retry-after is at least 1.3x the one before, less `slack`. Always: no
    retry after a non-retryable status or `x-should-retry: false`, none sooner than `min_gap`
    without a retry-after, none after output was sent. Raises `RetryCheckError` listing every
    problem unless `raise_on_violation=False`; the report says what was found either way.

    Calls: a request continues the call before it when its `x-stainless-retry-count` is above
    0, or when it repeats a request that failed (same client, path and body), whatever count
    it sent. `call_starts`: journal indices (`Entry.index`) of requests that start a call of
    their own anyway, e.g. `len(fake_llm.journal)` taken before a test's next call.
    """
    __tracebackhide__ = True  # pytest: the failure is the message, not this frame
    flat = grouping.attempts(entries, call_starts=call_starts)  # `attempts` is a parameter here
    grouped = grouping.group(flat)
    violations: list[str] = []
    doubtful: list[Attempt] = []  # retries by repetition alone, in calls found at fault
    if not grouped and attempts:
        violations.append(f"no request reached the server, expected {attempts} attempts")
    for number, call in enumerate(grouped, 1):
        found = _count(number, call, attempts, max_attempts)
        found.extend(_judge(call, honours_retry_after, backoff, min_gap, slack, max_retry_after))
        violations.extend(found)
        if found:
            doubtful.extend(a for a in call if a.repeats is not None)
    report = RetryReport(flat, grouped, violations, _note(doubtful))
    if violations and raise_on_violation:
        raise RetryCheckError(report)
    return report


def _note(repeats: Sequence[Attempt]) -> str:
    """How to read retries that only their repetition made retries, and how to say otherwise."""
    if not repeats:
        return ""
    labels = ", ".join(a.label for a in repeats[:4]) + (", ..." if len(repeats) > 4 else "")
    first = repeats[0]
    counted = "counts as a retry because it repeats" if len(repeats) == 1 else "count as retries because each repeats"
    return (
        f"note: {labels} {counted} a failed request (same client, path and body), whatever retry count it sent; "
        f"if {first.label} started a call of its own, pass call_starts=[{first.index}] "
        "(its Entry.index: len(fake_llm.journal) just before that call)"
    )


def _summary(call: Sequence[Attempt]) -> str:
    return ", ".join(f"{a.label} {a.answer}" for a in call)


def _count(number: int, call: Sequence[Attempt], expected: int | None, most: int | None) -> list[str]:
    found: list[str] = []
    n = len(call)
    if expected is not None and n != expected:
        found.append(f"call {number} made {n} attempt{'s' * (n != 1)}, expected {expected}: {_summary(call)}")
    if most is not None and n > most:
        found.append(f"retry storm: call {number} made {n} attempts, more than max_attempts={most}: {_summary(call)}")
    return found


def _judge(
    call: Sequence[Attempt], honours: bool, backoff: bool, min_gap: float, slack: float, max_retry_after: float
) -> list[str]:
    found: list[str] = []
    last_wait: tuple[Attempt, float] | None = None  # the previous wait not directed by the server
    for before, after in itertools.pairwise(call):
        gap = after.gap_before if after.gap_before is not None else 0.0
        retry = f"attempt {after.label} retried {before.label} ({before.answer}) after {gap:.3f}s"
        if before.output_sent:
            found.append(
                f"retried after partial output: {before.label} ({before.answer}) had already sent "
                f"{before.output_sent} output event{'s' * (before.output_sent != 1)} when {after.label} "
                "started the call again; the consumer may already have shown that text; retrying duplicates it"
            )
        if before.should_retry is False:
            found.append(f"{retry}, although the server sent x-should-retry: false")
        elif before.should_retry is None and before.status is not None and _non_retryable(before.status):
            found.append(
                f"{retry}, but {before.status} is not retryable (only 408, 409, 429 and 5xx are, "
                "unless the server sends x-should-retry: true)"
            )
        directed = before.retry_after
        if directed is not None and 0 < directed <= max_retry_after:
            allowed = slack + (_DATE_RESOLUTION if _is_date(before.retry_after_header) else 0.0)
            if honours and gap < directed - allowed:
                found.append(f"{retry}, but the server asked for {directed:.3f}s ({before.retry_after_header})")
            continue
        if gap < min_gap:
            found.append(f"retry storm: {retry} with no retry-after; wait at least {min_gap:.3f}s")
        if backoff and last_wait is not None:
            previous, waited = last_wait
            if waited < BACKOFF_CAPPED and gap < BACKOFF_GROWTH * waited - slack:
                found.append(
                    f"no exponential backoff: {retry}, not {BACKOFF_GROWTH}x the {waited:.3f}s "
                    f"waited before {previous.label}"
                )
        last_wait = (after, gap)
    return found


def _is_date(source: str | None) -> bool:
    """Whether a retry-after came as an HTTP date rather than a number."""
    _, _, value = (source or "").partition(": ")
    try:
        float(value)
    except ValueError:
        return bool(value)
    return False


def _non_retryable(status: int) -> bool:
    return 400 <= status < 500 and status not in RETRYABLE_4XX
