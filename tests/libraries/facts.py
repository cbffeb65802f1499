"""Measure each fact of the contract for one client, as the cell the table shows.

Each function starts a fake server of its own (a fresh port, so nothing a library caches per
base URL outlives it), scripts the case, drives the client over a real socket and reads the
journal. The cell is a word or two that holds on every run; the numbers behind it (waits,
counts) are in the journal, and the tests assert on them where a cell rests on them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sparring import (
    CleanupReport,
    Entry,
    FakeServer,
    Fault,
    Reply,
    Scenario,
    check_cleanup,
    check_retries,
    error,
    reply,
)
from sparring.checks.retries import attempts
from tests.libraries.clients import TEXT, Client, owning
from tests.libraries.contract import NOT_A_STREAM, ONE_ANSWER

# The wait the 429 asks for: short, so the leg stays fast, and far below the shortest backoff
# of any client here (the openai SDK's first is 0.5 s less up to 25 %: 0.375 s).
ASKED = 0.04
# A retry this much later than asked is the client's own backoff, not the header honoured:
# well above scheduling noise on a loaded machine, well below 0.375 s - 0.04 s.
OWN_BACKOFF_AFTER = 0.25
SLACK = 0.01  # timer resolution
# Seconds the check allows for cleanup after the consumer leaves, and for the answer to end on
# the `complete` way: more than its default 2, for CI machines under coverage and load. A leak
# found here is a connection the server streams to the end, which takes 0.6 s whatever this is.
BOUND = 5.0
CUT_AFTER = 2  # chunks: the role chunk and the first word (Chat Completions)


@dataclass(frozen=True)
class Run:
    """What one client made of one case: the text pieces it yielded, or what it raised."""

    pieces: list[str]
    error: BaseException | None
    journal: list[Entry]

    @property
    def text(self) -> str:
        return "".join(self.pieces)


async def drive(client: Client, replies: Sequence[Reply]) -> Run:
    """Play exactly `replies` to the client, on a server of its own."""
    with FakeServer(Scenario.of(*replies)) as server:
        async with owning():
            return await _drive(client, client.url(server.base_url), server)


async def _drive(client: Client, url: str, server: FakeServer) -> Run:
    pieces: list[str] = []
    failure: BaseException | None = None
    try:
        if client.stream is not None:
            async for piece in client.stream(url):
                pieces.append(piece)
        else:
            assert client.sync is not None
            sync = client.sync
            pieces = await asyncio.to_thread(lambda: list(sync(url)))
    except Exception as exc:
        failure = exc
    return Run(pieces, failure, server.journal())


def steps(client: Client) -> list[Reply]:
    """The replies the client's requests take before the answer (the first step of a tool loop)."""
    return [step() for step in client.before]


def exception_name(exc: BaseException) -> str:
    """`module.Class`, the module as users import it: private submodules left out."""
    parts = type(exc).__module__.split(".")
    private = next((i for i, part in enumerate(parts) if part.startswith("_")), len(parts))
    return ".".join([*parts[:private], type(exc).__qualname__])


def outcome(client: Client, run: Run) -> str:
    if run.error is not None:
        return exception_name(run.error)
    return "whole" if run.text == client.expected else f"got {run.text!r}"


async def clean(client: Client) -> tuple[str, Run]:
    run = await drive(client, [*steps(client), client.answer()])
    return outcome(client, run), run


def rate_limited(header: str) -> Reply:
    if header == "retry-after-ms":
        return error("rate_limit", retry_after_ms=ASKED * 1000)
    return error("rate_limit", retry_after=ASKED)


async def rate_limit(client: Client, header: str) -> tuple[str, str, Run]:
    """A 429 asking for ASKED s in `header`, then the answer: the outcome, and how it waited.
    The 429 answers the client's first request, whatever step that is."""
    run = await drive(client, [rate_limited(header), *steps(client), client.answer()])
    return f"{outcome(client, run)} ×{len(run.journal)}", wait(run.journal), run


def wait(journal: list[Entry]) -> str:
    """How the retry after the 429 waited, in words."""
    seen = attempts(journal)
    if len(seen) < 2 or seen[1].gap_before is None:
        return "no retry"
    gap = seen[1].gap_before
    if gap < ASKED - SLACK:
        return "too soon"
    return "honoured" if gap < ASKED + OWN_BACKOFF_AFTER else "own backoff"


def retries_verdict(journal: list[Entry]) -> str:
    report = check_retries(journal, raise_on_violation=False)
    return "passes" if report.ok else f"fails ({len(report.violations)})"


async def cut(client: Client) -> tuple[str, Run]:
    """The connection reset after chunk 2 of the answer, on every attempt."""
    fault = Fault("reset", after_chunk=CUT_AFTER)
    run = await drive(client, [*steps(client), client.answer(fault=fault, repeat=True)])
    return f"{outcome(client, run)} ×{len(run.journal)}", run


async def cleanup(client: Client) -> tuple[str, CleanupReport]:
    assert client.stream is not None
    stream = client.stream
    # A run first, with a text answer like the check's own: a library imports and builds much
    # on first use, and that is not what the check's bounds are about.
    await drive(client, [*steps(client), reply(TEXT)])
    with FakeServer() as server:
        url = client.url(server.base_url)
        async with owning():
            report = await check_cleanup(lambda: stream(url), server, bound=BOUND, raise_on_leak=False)
    cell = "ok" if report.ok else "leaks: " + ", ".join(r.way for r in report.leaks)
    return cell, report


_NUMBERS = re.compile(r"0x[0-9a-f]+|\d+(\.\d+)?")
_LEFT = re.compile(r"it left .*? unclosed")


def masked(text: str, *, names: bool = True) -> str:
    """The check's output with what differs from run to run masked: times, addresses, and
    unless `names`, which generators it names as left unclosed (the garbage collector's order
    decides which of a chain it finds first, on the ways that drop the stream)."""
    text = _NUMBERS.sub("N", text)
    return text if names else _LEFT.sub("it left … unclosed", text)


async def measure(client: Client, column: str) -> tuple[str, CleanupReport | None]:
    """The cell of `column` for `client`, measured now; and the cleanup report behind it."""
    if column == "clean stream":
        return (await clean(client))[0], None
    if column in ("429, retry-after-ms: 40", "429, retry-after: 0.04", "check_retries"):
        header = "retry-after" if column == "429, retry-after: 0.04" else "retry-after-ms"
        answered, waited, run = await rate_limit(client, header)
        if column == "check_retries":
            return retries_verdict(run.journal), None
        return f"{answered}, {waited}", None
    if column == "reset after chunk 2":
        return (await cut(client))[0], None
    if column == "check_cleanup":
        if client.stream is None:
            return NOT_A_STREAM, None
        if client.one_answer:
            return ONE_ANSWER, None
        return await cleanup(client)
    raise ValueError(f"no such column: {column!r}")
