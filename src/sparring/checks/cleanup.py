"""`check_cleanup`: drive a streaming client out of its stream every way a consumer can
leave, and prove each time that it cleaned up.

    async with httpx.AsyncClient() as http:
        await check_cleanup(lambda: my_client.chat(http, fake_llm.base_url), fake_llm)

For each way out the check scripts the reply it needs (a paced stream, or one the server
cuts), drives a fresh stream from `stream()`, then judges from the outside: the generator's
frame, what the event loop reported, the tasks still running, the fake server's journal (did
the server see the connection close, and when), and the user's `probe`. It fails with a
`CleanupError` naming every way out that leaked, and how.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sparring.checks._streams import stream_factory
from sparring.checks._verdict import close_failed, generator_state, judge
from sparring.checks._watch import Watch
from sparring.checks._ways import WAYS_OUT, Run, StreamFactory, drive
from sparring.errors import SparringError, closest
from sparring.fake_server.journal import Entry
from sparring.fake_server.runner import FakeServer
from sparring.fake_server.store import DEFAULT_NAMESPACE
from sparring.scenario.builders import reply
from sparring.scenario.delivery import Fault, Timing
from sparring.scenario.model import Answer, Reply, Rule, Scenario


class Scriptable(Protocol):
    """What the check needs of a test's fake server: `fake_llm` (the plugin's `FakeLLM`) is
    one. The checks stay below the plugin: they know this shape, not the fixture."""

    @property
    def scenario(self) -> Scenario: ...

    @property
    def journal(self) -> list[Entry]: ...

    def add(self, *items: Rule | Reply) -> object: ...


__all__ = ["WAYS_OUT", "CleanupError", "CleanupReport", "WayResult", "check_cleanup"]

# The scripted stream: long enough that every early exit leaves it mid-way, short enough
# that a client which never closes is seen reaching the end soon.
_CHUNKS = tuple(f"word{i} " for i in range(12))
# Ways that leave after the first event get a longer stream: chunks go out at fixed times from
# the stream's start, so a consumer slowed by a busy machine must still leave well before the
# end (1.5 s), or a client that never closes could not be told from one that did.
_LONG_CHUNKS = tuple(f"word{i} " for i in range(30))
_LEAVE_EARLY = ("break", "cancel", "consumer_error", "abandon")
_GAP = 0.05
_POLL = 0.01


@dataclass(frozen=True)
class WayResult:
    """How one way out went: what the consumer got, the request the server saw, what leaked."""

    way: str
    problems: tuple[str, ...]
    events: int
    request: Entry | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            ending = f"request #{self.request.index + 1} {self.request.outcome}" if self.request else "no request"
            return f"{self.way}: ok ({self.events} event{'' if self.events == 1 else 's'}; {ending})"
        return f"{self.way}: " + "; ".join(self.problems)


@dataclass(frozen=True)
class CleanupReport:
    """Every way out checked, in order."""

    results: tuple[WayResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def leaks(self) -> tuple[WayResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def __getitem__(self, way: str) -> WayResult:
        for result in self.results:
            if result.way == way:
                return result
        raise KeyError(f"way out {way!r} was not checked; checked: {', '.join(r.way for r in self.results)}")

    def __str__(self) -> str:
        head = f"cleanup ok on all {len(self.results)} ways out" if self.ok else self._headline()
        return "\n".join([head + ":", *(f"- {r}" for r in self.results)])

    def _headline(self) -> str:
        total = len(self.results)
        return f"cleanup leaked on {len(self.leaks)} of {total} way{'' if total == 1 else 's'} out"

    def message(self) -> str:
        """What `CleanupError` says: the ways out that leaked, and how."""
        return "\n".join([self._headline() + ":", *(f"- {r}" for r in self.leaks)])


class CleanupError(SparringError, AssertionError):
    """A client did not clean up on some way out of its stream; `report` has every way."""

    def __init__(self, report: CleanupReport) -> None:
        super().__init__(report.message())
        self.report = report


class UnsupportedEventLoop(SparringError, RuntimeError):
    """`check_cleanup` was awaited outside asyncio (under trio, say)."""


class _Fake:
    """The fake server as the check uses it: script one reply, read the journal."""

    def __init__(self, fake: Scriptable | FakeServer, namespace: str | None) -> None:
        self._fake = fake
        self._namespace = namespace or DEFAULT_NAMESPACE
        if namespace is not None and not isinstance(fake, FakeServer):
            raise TypeError("namespace= applies to a FakeServer; a FakeLLM scripts its own namespace")

    def script(self, answer: Answer) -> int:
        """Add `answer` as a rule of its own; the rule's index."""
        if isinstance(self._fake, FakeServer):
            store = self._fake.store
            index = len(store.space(self._namespace).scenario.rules)
            store.extend(Scenario.of(answer), self._namespace)
            return index
        index = len(self._fake.scenario.rules)
        self._fake.add(answer)
        return index

    def journal(self) -> list[Entry]:
        if isinstance(self._fake, FakeServer):
            return self._fake.journal(self._namespace)
        return self._fake.journal


def _answer(way: str, gap: float) -> Answer:
    fault = Fault("reset", after_chunk=3) if way == "server_fault" else None
    # optional: a way that fails before its request must not add "never used" at teardown
    chunks = _LONG_CHUNKS if way in _LEAVE_EARLY else _CHUNKS
    return reply(chunks=chunks, timing=Timing(gap=gap), fault=fault, optional=True)


async def check_cleanup(
    stream: StreamFactory,
    fake: Scriptable | FakeServer,
    *,
    ways: Sequence[str] = WAYS_OUT,
    probe: Callable[[str], Awaitable[None] | None] | None = None,
    bound: float = 2.0,
    namespace: str | None = None,
    strict: bool = True,
    raise_on_leak: bool = True,
) -> CleanupReport:
    """Drive `stream()` (a fresh stream from your client, pointed at `fake`) out of its
    stream every way in `ways`, and check it cleaned up within `bound` seconds each time.

    `probe(way)`, sync or async, checks your own cleanup side effects after each way; an
    AssertionError in it is a leak of that way. With `strict` (the default), async generators
    the client leaves unclosed (an httpx line iterator, the SDK's inner stream) are held back
    until the verdict, so a connection that only closes because the event loop finalized
    such an orphan counts as a leak. Raises `CleanupError` on any leak unless
    `raise_on_leak=False`; returns the `CleanupReport` otherwise.

    Script nothing else on `fake` meanwhile: each way's request must take the reply the
    check scripts for it. Don't run two checks at once on one event loop.
    """
    __tracebackhide__ = True  # pytest: the failure is the message, not this frame
    chosen = _validate(stream, ways, bound)
    target = _Fake(fake, namespace)
    with Watch(_asyncio_loop(), strict=strict) as watch:
        results = [await _take(way, stream, target, watch, probe, bound) for way in chosen]
    report = CleanupReport(tuple(results))
    if raise_on_leak and not report.ok:
        raise CleanupError(report)
    return report


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        running = "trio" if "trio" in sys.modules else "an event loop other than asyncio's"
        raise UnsupportedEventLoop(
            f"check_cleanup runs under asyncio only, and this test runs under {running}: it watches the client "
            "through asyncio's async-generator hooks, exception handler and tasks, which other event loops do not "
            "have. Run this test under asyncio: with anyio's pytest plugin, give it "
            "@pytest.mark.parametrize('anyio_backend', ['asyncio']); with pytest-asyncio, @pytest.mark.asyncio. "
            "collect and check_retries work under trio too."
        ) from None


def _validate(stream: object, ways: Sequence[str], bound: float) -> list[str]:
    stream_factory(stream, "check_cleanup's stream")
    if isinstance(ways, str):
        ways = [ways]
    for way in ways:
        if way not in WAYS_OUT:
            hint = closest(way, WAYS_OUT) if isinstance(way, str) else None
            raise ValueError(
                f"unknown way out {way!r}; ways: {', '.join(WAYS_OUT)}" + (f" (did you mean {hint!r}?)" if hint else "")
            )
    if not ways:
        raise ValueError(f"give at least one way out; ways: {', '.join(WAYS_OUT)}")
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or bound <= 0:
        raise ValueError(f"bound must be a number of seconds > 0, got {bound!r}")
    return list(dict.fromkeys(ways))


async def _take(
    way: str,
    make: StreamFactory,
    fake: _Fake,
    watch: Watch,
    probe: Callable[[str], Awaitable[None] | None] | None,
    bound: float,
    gap: float = _GAP,
) -> WayResult:
    rule = fake.script(_answer(way, gap))
    first_index = len(fake.journal())
    watch.begin()
    run = Run(first=asyncio.get_running_loop().create_future())
    await drive(way, make, watch, run, limit=len(_LONG_CHUNKS) * gap + bound + 1.0, bound=bound)
    left = run.left if run.left is not None else time.monotonic()
    entry = await _settle(fake, first_index, watch, run, left + bound)
    if gap == _GAP and _ended_before_leaving(way, entry, left):
        # A machine so busy that the consumer left only after the whole stream had gone out:
        # nothing tells a client that closes from one that never does. Once more, 4x slower.
        await watch.release(bound)
        return await _take(way, make, fake, watch, probe, bound, gap * 4)
    problems = judge(way, run, watch, entry, rule, left, bound)
    if probe is not None:
        problems.extend(await _probe(probe, way))
    await watch.release(bound)
    return WayResult(way, tuple(problems), run.events, entry)


def _ended_before_leaving(way: str, entry: Entry | None, left: float) -> bool:
    return (
        way in _LEAVE_EARLY
        and entry is not None
        and entry.outcome == "completed"
        and entry.arrived + (entry.ended or 0.0) < left
    )


async def _settle(fake: _Fake, index: int, watch: Watch, run: Run, deadline: float) -> Entry | None:
    """Poll until the request has ended, the generator is finished and the way's tasks are
    done (twice in a row, so the loop's last reports are in), or until `deadline`."""
    calm = 0
    while True:
        journal = fake.journal()
        entry = journal[index] if len(journal) > index else None
        settled = (
            entry is not None
            and entry.outcome is not None
            and (generator_state(run, watch) != "suspended" or close_failed(run, watch))
            and not watch.new_tasks()
        )
        calm = calm + 1 if settled else 0
        if calm >= 2 or time.monotonic() >= deadline:
            return entry
        await asyncio.sleep(_POLL)


async def _probe(probe: Callable[[str], Awaitable[None] | None], way: str) -> list[str]:
    try:
        result = probe(way)
        if inspect.isawaitable(result):
            await result
    except AssertionError as exc:
        text = str(exc).strip() or "AssertionError"
        return ["probe failed: " + text.replace("\n", "\n    ")]  # pytest's explanation, indented
    return []
