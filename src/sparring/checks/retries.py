"""Retry verdicts read from the journal: how many attempts a call made, how long the client
waited before each retry, and whether it should have retried at all.

The server journals every request; a retrying client shows up as several entries. Each
entry becomes an `Attempt`, attempts are grouped into logical calls, and `check_retries`
judges each retry against what the server said in the response before it (status,
`retry-after-ms` / `retry-after`, `x-should-retry`) and against what it had already sent
(output the consumer may have shown). The rules follow the openai SDK (wire-format.md §3.2).
"""

from __future__ import annotations

import email.utils
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sparring.fake_server.journal import Entry

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
class Attempt:
    """One request of a (possibly retried) call, as the server saw it."""

    index: int  # position in the journal; shown as "#index+1", like `Entry.describe`
    call: int  # which logical call it belongs to, from 0
    at: float  # time.monotonic() on arrival
    ended: float | None  # seconds after arrival the response ended (None: under way)
    status: int | None  # None: no response (a fault before headers)
    retry_count: int | None  # the x-stainless-retry-count the client sent
    retry_after: float | None  # seconds the server asked the client to wait
    retry_after_header: str | None  # where that came from, e.g. "retry-after-ms: 200"
    should_retry: bool | None  # x-should-retry, if sent
    output_sent: int  # events with output fully sent before the response ended
    outcome: str | None
    fault: str | None
    gap_before: float | None  # seconds since the previous attempt's response ended (None: first of its call)

    @property
    def label(self) -> str:
        return f"#{self.index + 1}"

    @property
    def answer(self) -> str:
        """What the client got: "429", "200 cut by reset after chunk 4", "no response (reset)"."""
        if self.status is None:
            return f"no response ({self.fault})" if self.fault else "no response"
        if self.fault and self.outcome == "fault":
            return f"{self.status} cut by {self.fault}"
        return str(self.status)

    def describe(self) -> str:
        parts = [f"{self.label} {self.answer}"]
        if self.retry_count is not None:
            parts[0] += f" (retry count {self.retry_count})"
        if self.gap_before is not None:
            parts.append(f"after waiting {self.gap_before:.3f}s")
        if self.retry_after_header:
            parts.append(self.retry_after_header)
        if self.should_retry is not None:
            parts.append(f"x-should-retry: {str(self.should_retry).lower()}")
        if self.output_sent:
            parts.append(f"{self.output_sent} output event{'' if self.output_sent == 1 else 's'} sent")
        parts.append(self.outcome or "under way")
        return " · ".join(parts)


def parse_retry_after(headers: dict[str, str], response_time: float) -> tuple[float | None, str | None]:
    """Seconds to wait, as the openai SDK reads them: `retry-after-ms`, else `retry-after` in
    seconds, else `retry-after` as an HTTP date (relative to `response_time`, a wall-clock
    time). Returns the delay (None if absent or unparseable) and the header it came from."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value)
        except ValueError:
            continue
        if math.isfinite(delay):
            return delay / divisor, f"{name}: {value}"
    value = headers.get("retry-after")
    if value is None:
        return None, None
    try:
        when = email.utils.parsedate_tz(value)
        if when is None:
            return None, None
        return email.utils.mktime_tz(when) - response_time, f"retry-after: {value}"
    except (TypeError, ValueError, OverflowError):
        return None, None


def _should_retry(headers: dict[str, str]) -> bool | None:
    value = headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


def _starts_call(entry: Entry, previous: Entry) -> bool:
    """Whether `entry` starts a new call rather than retrying `previous`. A retry count of 0
    (or one that drops) starts a call; without counts, a call ends with a successful, complete
    answer, since nobody retries that. Either way, a request right after a stream that broke
    with output sent belongs to that stream's call: a client that restarts its SDK call there
    (fresh count 0) retries after partial output all the same, and duplicates the text."""
    broke_after_output = previous.content_sent > 0 and previous.outcome != "completed"
    if broke_after_output:
        return False
    if entry.retry_count is not None:
        return entry.retry_count == 0 or (previous.retry_count is not None and entry.retry_count < previous.retry_count)
    return previous.outcome == "completed" and previous.status is not None and previous.status < 400


def attempts(entries: Iterable[Entry]) -> list[Attempt]:
    """The journal's entries as attempts, each tagged with its call. Calls are told apart in
    arrival order, so concurrent calls interleave: filter their entries apart first."""
    return _attempts(entries)


def _attempts(entries: Iterable[Entry]) -> list[Attempt]:
    result: list[Attempt] = []
    previous: Entry | None = None
    call = 0
    for entry in entries:
        gap: float | None = None
        if previous is not None:
            if _starts_call(entry, previous):
                call += 1
            else:
                gap = entry.arrived - (previous.arrived + (previous.ended or 0.0))
        retry_after, source = parse_retry_after(entry.response_headers, entry.wall_time + (entry.ended or 0.0))
        result.append(
            Attempt(
                index=entry.index,
                call=call,
                at=entry.arrived,
                ended=entry.ended,
                status=entry.status,
                retry_count=entry.retry_count,
                retry_after=retry_after,
                retry_after_header=source,
                should_retry=_should_retry(entry.response_headers),
                output_sent=entry.content_sent,
                outcome=entry.outcome,
                fault=entry.fault,
                gap_before=gap,
            )
        )
        previous = entry
    return result


def calls(entries: Iterable[Entry]) -> list[list[Attempt]]:
    """The attempts grouped into logical calls, in order."""
    return _group(_attempts(entries))


def _group(flat: Sequence[Attempt]) -> list[list[Attempt]]:
    grouped: list[list[Attempt]] = []
    for attempt in flat:
        if attempt.call == len(grouped):
            grouped.append([])
        grouped[-1].append(attempt)
    return grouped


@dataclass(frozen=True)
class RetryReport:
    """What `check_retries` found: the attempts, grouped into calls, and what was wrong."""

    attempts: list[Attempt]
    calls: list[list[Attempt]]
    violations: list[str]

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
    """
    __tracebackhide__ = True  # pytest: the failure is the message, not this frame
    flat = _attempts(entries)  # `attempts` is a parameter here
    grouped = _group(flat)
    violations: list[str] = []
    if not grouped and attempts:
        violations.append(f"no request reached the server, expected {attempts} attempts")
    for number, call in enumerate(grouped, 1):
        violations.extend(_count(number, call, attempts, max_attempts))
        violations.extend(_judge(call, honours_retry_after, backoff, min_gap, slack, max_retry_after))
    report = RetryReport(flat, grouped, violations)
    if violations and raise_on_violation:
        raise RetryCheckError(report)
    return report


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
