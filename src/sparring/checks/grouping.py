"""From journal entries to attempts, grouped into the logical calls a client made.

A request continues the call before it when its `x-stainless-retry-count` says so (above 0),
or when it repeats a request that failed (same client, path and body, right after it),
whatever count it sent. The count alone is not enough: a loop around the openai SDK with
`max_retries=0` sends 0 on every attempt, and raw httpx sends none, yet each repetition is a
retry, to be judged like the SDK's own.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sparring.fake_server.journal import Entry

# The headers that tell one client from another in a journal. Credentials are redacted there,
# but each redacted value ends in a digest of the whole one, so two keys still differ.
_CLIENT_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key", "user-agent")


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
    # The index of the failed attempt this one repeats, when that (not a retry count above 0)
    # is what makes it a retry.
    repeats: int | None = None

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
        if self.repeats is not None:
            parts.append(f"repeats #{self.repeats + 1}")
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


def failed(entry: Entry) -> bool:
    """Anything but a whole, successful answer: an error status, no response, a stream that
    broke or that the client left, a request still under way."""
    return not (entry.outcome == "completed" and entry.status is not None and entry.status < 400)


def same_request(entry: Entry, previous: Entry) -> bool:
    """The same client sending the same request again, as a retry does."""
    return (
        (entry.method, entry.path, entry.body) == (previous.method, previous.path, previous.body)
        and all(entry.headers.get(h) == previous.headers.get(h) for h in _CLIENT_HEADERS)
    )  # fmt: skip


def _joins(entry: Entry, previous: Entry) -> str | None:
    """Why `entry` continues the call of `previous` ("count": the client numbered it a retry;
    "repeat": it repeats a failed request), or None: it starts a call."""
    count, before = entry.retry_count, previous.retry_count
    if count is not None and count > 0 and (before is None or count >= before):
        return "count"
    if failed(previous) and same_request(entry, previous):
        return "repeat"
    return None


def _call_starts(call_starts: Iterable[int]) -> frozenset[int]:
    starts = list(call_starts) if not isinstance(call_starts, (str, bytes, int)) else None
    if starts is None or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in starts):
        raise TypeError(
            "call_starts must be journal indices (Entry.index), e.g. [len(fake_llm.journal)] taken before a call; "
            f"got {call_starts!r}"
        )
    return frozenset(starts)


def attempts(entries: Iterable[Entry], *, call_starts: Iterable[int] = ()) -> list[Attempt]:
    """The journal's entries as attempts, each tagged with its call. A request at an index in
    `call_starts` starts a call whatever came before it. Calls are told apart in arrival
    order, so concurrent calls interleave: filter their entries apart first."""
    starts = _call_starts(call_starts)
    result: list[Attempt] = []
    previous: Entry | None = None
    call = 0
    for entry in entries:
        gap: float | None = None
        why = _joins(entry, previous) if previous is not None and entry.index not in starts else None
        if previous is not None:
            if why is None:
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
                repeats=previous.index if previous is not None and why == "repeat" else None,
            )
        )
        previous = entry
    return result


def calls(entries: Iterable[Entry], *, call_starts: Iterable[int] = ()) -> list[list[Attempt]]:
    """The attempts grouped into logical calls, in order."""
    return group(attempts(entries, call_starts=call_starts))


def group(flat: Sequence[Attempt]) -> list[list[Attempt]]:
    grouped: list[list[Attempt]] = []
    for attempt in flat:
        if attempt.call == len(grouped):
            grouped.append([])
        grouped[-1].append(attempt)
    return grouped
