"""Speed: every scripted wait of a reply divided by one factor, applied once, when the reply
is chosen.

The factor is the server's `speed` (`sparring serve --speed`, `FakeServer(speed=...)`) times
the scenario's (`speed:` at the top of a file, `Scenario(speed=...)`). The reply that answers
a request is copied with its waits divided (`scaled`), and everything downstream (playback,
faults, replay, the dialects' headers) plays the copy as it plays any reply: no code that
waits knows about speed.

What is divided: `timing` (headers_delay, first_chunk, gap, jitter, keepalive: the seeded
draws stay the same, so a log-normal gap is divided too), a stall's or hang's `duration`, a
recording's times (its own `speed` is multiplied), and the advice a reply gives the client on
how long to wait: an error's `retry_after` and `retry_after_ms`, `rate_limits` resets, and the
1 s a rate-limit preset advises when none is scripted. Headers written out by hand (`headers:`)
and a `retry_after` given as text go out as written.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, TypeVar

from sparring.scenario.delivery import Fault, RateLimits, Timing
from sparring.scenario.model import Answer, ErrorReply, Recorded

R = TypeVar("R", bound=Answer | ErrorReply | Recorded)
T = TypeVar("T")
_RATE_LIMITED = 429  # the status both APIs' `rate_limit` preset answers with


def scaled(reply: R, factor: float) -> R:
    """`reply` with every scripted wait divided by `factor` (itself when `factor` is 1)."""
    if factor == 1:
        return reply
    changes: dict[str, Any] = {"rate_limits": _limits(reply.rate_limits, factor)}
    if isinstance(reply, Recorded):
        changes["speed"] = reply.speed * factor
        changes["timing"] = None if reply.timing is None else _timing(reply.timing, factor)
    else:
        changes["timing"] = _timing(reply.timing, factor)
    if not isinstance(reply, ErrorReply):
        changes["fault"] = _fault(reply.fault, factor)
        return _with(reply, changes)
    after, after_ms = reply.retry_after, reply.retry_after_ms
    if after is None and after_ms is None and _rate_limit(reply):
        after = 1  # what the dialects advise a rate limit by default, divided below
    if isinstance(after, (int, float)):
        changes["retry_after"] = after / factor
    if after_ms is not None:
        changes["retry_after_ms"] = after_ms / factor
    return _with(reply, changes)


def _with(reply: T, changes: dict[str, Any]) -> T:
    """A copy of a frozen reply with `changes`, not checked again: the values are smaller
    versions of checked ones, and checking an answer's content again costs as much as
    rendering it (`_cost.check_answer`)."""
    made = copy.copy(reply)
    for name, value in changes.items():
        object.__setattr__(made, name, value)
    return made


def _timing(timing: Timing, factor: float) -> Timing:
    if timing == Timing(seed=timing.seed, distribution=timing.distribution, sigma=timing.sigma):
        return timing  # no waits: nothing to divide
    return dataclasses.replace(
        timing,
        headers_delay=timing.headers_delay / factor,
        first_chunk=timing.first_chunk / factor,
        gap=timing.gap / factor,
        jitter=timing.jitter / factor,
        keepalive=None if timing.keepalive is None else timing.keepalive / factor,
    )


def _fault(fault: Fault | None, factor: float) -> Fault | None:
    if fault is None or fault.duration is None:
        return fault
    return dataclasses.replace(fault, duration=fault.duration / factor)


def _limits(limits: RateLimits | None, factor: float) -> RateLimits | None:
    if limits is None:
        return None
    resets = {
        name: value / factor
        for name in ("reset_requests", "reset_tokens")
        if (value := getattr(limits, name)) is not None
    }
    return dataclasses.replace(limits, **resets)


def _rate_limit(reply: ErrorReply) -> bool:
    return reply.preset == "rate_limit" or (reply.preset is None and reply.status == _RATE_LIMITED)
