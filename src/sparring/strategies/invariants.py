"""Invariants every streaming client should keep, whatever the server does: small checks to
combine in a property-based test. Each raises `InvariantError` saying what broke and showing
the exchange the server saw.

They read what the client produced (the text it delivered, the error it ended with) and the
fake server's journal (`fake_llm`), judged by the rules of `sparring.check_retries`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sparring.checks import grouping
from sparring.checks.retries import RETRYABLE_4XX

if TYPE_CHECKING:
    from sparring.checks.grouping import Attempt
    from sparring.plugin.fake_llm import FakeLLM

SLACK = 0.05  # seconds a retry may come before the retry-after asked: clocks and scheduling


class InvariantError(AssertionError):
    """A client broke an invariant; the message says which, and shows the exchange."""


def check_stream(fake: FakeLLM | None, expected: str, received: str, error: BaseException | None = None) -> None:
    """The full text arrived exactly once, or the stream ended in an error having delivered
    a prefix of it (what was shown before the failure) and nothing twice."""
    __tracebackhide__ = True
    if error is None and received == expected:
        return
    if error is not None and expected.startswith(received):
        return
    if len(received) > len(expected) or _restarts(expected, received):
        what = "duplicated output: the client delivered more than the text, some of it twice"
    elif error is None:
        what = "the stream ended without an error but did not deliver the whole text"
    else:
        what = "the stream ended in an error after delivering text that is not the start of the answer"
    ending = "no error" if error is None else f"{type(error).__name__}: {error}"
    _fail(fake, f"{what}\n  expected: {expected!r}\n  received: {received!r}\n  ended with: {ending}")


def _restarts(expected: str, received: str) -> bool:
    """Whether `received` is the start of `expected` twice over: a retry shown after a cut."""
    return any(expected.startswith(received[:i]) and expected.startswith(received[i:]) for i in range(1, len(received)))


def check_no_retry_on_fatal(fake: FakeLLM) -> None:
    """No retry after a status that says the request itself is wrong (4xx other than 408,
    409 and 429), or after `x-should-retry: false`."""
    __tracebackhide__ = True
    for before, after in _retries(fake):
        if before.should_retry is False:
            _fail(fake, f"{after.label} retried {before.label}, although the server sent x-should-retry: false")
        status = before.status
        if before.should_retry is None and status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
            _fail(fake, f"{after.label} retried {before.label} ({status}), but {status} is not retryable")


def check_honours_retry_after(fake: FakeLLM, *, slack: float = SLACK) -> None:
    """Each retry waited at least the `retry-after-ms` / `retry-after` the server sent (less
    `slack` seconds)."""
    __tracebackhide__ = True
    for before, after in _retries(fake):
        asked, waited = before.retry_after, after.gap_before or 0.0
        if asked is not None and asked > 0 and waited < asked - slack:
            _fail(
                fake,
                f"{after.label} retried {before.label} after {waited:.3f}s, "
                f"but the server asked for {asked:.3f}s ({before.retry_after_header})",
            )


def check_no_retry_after_output(fake: FakeLLM) -> None:
    """No retry of a response that had already sent output: the consumer may have shown it,
    and the retry's answer would show it again."""
    __tracebackhide__ = True
    for before, after in _retries(fake):
        if before.output_sent:
            _fail(
                fake,
                f"{after.label} retried {before.label}, which had already sent {before.output_sent} "
                "output event(s): the consumer may have shown that text, and the retry repeats it",
            )


def check_stream_invariants(
    fake: FakeLLM, expected: str, received: str, error: BaseException | None = None, *, slack: float = SLACK
) -> None:
    """All of them: `check_stream`, `check_no_retry_on_fatal`, `check_honours_retry_after`."""
    __tracebackhide__ = True
    check_stream(fake, expected, received, error)
    check_no_retry_on_fatal(fake)
    check_honours_retry_after(fake, slack=slack)


def _retries(fake: FakeLLM) -> Iterator[tuple[Attempt, Attempt]]:
    """Each retry, with the attempt it retried, once every request of the example has ended."""
    from sparring.plugin.examples import settle

    settle(fake)
    for call in grouping.calls(fake.journal):
        yield from itertools.pairwise(call)


def _fail(fake: FakeLLM | None, message: str) -> None:
    __tracebackhide__ = True
    exchange = fake.exchange() if fake is not None else "(no fake_llm given: exchange not shown)"
    raise InvariantError(f"{message}\nwhat the server saw:\n{_indent(exchange)}")


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
