"""Scenarios and journals, one of each per namespace, and which reply answers a request.

Replies are consumed here, not in the (frozen, shareable) scenario: each namespace keeps how
many uses each reply has left.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparring.fake_server import memory
from sparring.fake_server.clock import REAL, Clock
from sparring.fake_server.journal import JOURNAL_LIMIT, Entry, Journal
from sparring.fake_server.security import header_names
from sparring.scenario.match import RegexTimeout
from sparring.scenario.model import Callback, ErrorReply, Fallback, Recorded, Reply, Scenario
from sparring.scenario.request import Request

if TYPE_CHECKING:
    from sparring.fake_server.upstream import Passthrough

DEFAULT_NAMESPACE = "default"
ENDED_KEPT = 10_000  # how many dropped namespaces a store remembers, to explain late requests
ENDED = "nothing: sent to an ended namespace"  # the journal's `answered_by` for such a request


@dataclass(frozen=True)
class Pick:
    rule: int
    reply: int
    answer: Reply


def describe_reply(reply: Reply) -> str:
    if isinstance(reply, Callback):
        return f"callback {reply.name}"
    if isinstance(reply, ErrorReply):
        what = f"error {reply.preset or reply.status}"
        return what if reply.preset is None or reply.status is None else f"{what} (status {reply.status})"
    if isinstance(reply, Recorded):
        what = f"{len(reply.events)} events" if reply.streamed else "a whole body"
        return f"recording of {reply.api} ({what})"
    first = reply.content.messages[0]
    if first.tool_calls:
        return "tool calls " + ", ".join(c.name for c in first.tool_calls)
    if first.refusal is not None:
        return f"refusal {_short(first.refusal)}"
    if isinstance(first.text, str):
        return f"text {_short(first.text)}"
    return "generated text" if first.text is not None else "empty answer"


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class Namespace:
    """One test's (or one client's) scenario, what is left of it, and its journal."""

    def __init__(
        self,
        name: str,
        on_end: Callable[[Entry], None] | None,
        redact: frozenset[str] = frozenset(),
        *,
        journal_limit: int = JOURNAL_LIMIT,
    ) -> None:
        self.name = name
        self.journal = Journal(name, on_end, redact, limit=journal_limit)
        self.touched = time.monotonic()  # the last time it was scripted or read
        self.scenario = Scenario()
        self.left: dict[tuple[int, int], int | None] = {}
        self.loop = False
        # What the namespace started with, and what a reset returns it to (a scenario put
        # later brings its own fallback, which must not outlive the reset).
        self.start_fallback: Fallback = "miss"
        self.start_loop = False
        self.tasks: set[asyncio.Task[object]] = set()  # handlers under way, cancelled on drop
        self.closing = False
        # Requests sent upstream instead of answered (all of them, or misses): `upstream.py`.
        self.passthrough: Passthrough | None = None

    def idle(self, now: float) -> float:
        """Seconds since it was last scripted, read, or sent a request (or one ended)."""
        return now - max(self.touched, self.journal.changed_at)

    def describe(self, now: float) -> dict[str, object]:
        """What `GET /_sparring/namespaces` lists about it."""
        idle = self.idle(now)
        return {
            "name": self.name,
            "entries": len(self.journal),
            "dropped": self.journal.dropped,
            "under_way": len(self.tasks),
            "idle": round(idle, 3),
            "last_activity": round(time.time() - idle, 3),
        }

    def load(self, scenario: Scenario, *, loop: bool = False) -> None:
        """Script this namespace. With `loop`, a scenario whose replies are all used starts over."""
        self.scenario = scenario
        self.loop = loop
        self.left = {
            (r, i): None if reply.repeat else reply.times
            for r, rule in enumerate(scenario.rules)
            for i, reply in enumerate(rule.replies)
        }

    def extend(self, scenario: Scenario) -> None:
        """Append rules, keeping what earlier ones have used."""
        first = len(self.scenario.rules)
        self.scenario = self.scenario + scenario
        for r, rule in enumerate(scenario.rules, start=first):
            for i, reply in enumerate(rule.replies):
                self.left[(r, i)] = None if reply.repeat else reply.times

    def pick(self, req: Request, *, declined: frozenset[int] = frozenset()) -> Pick | None:
        """The reply that answers `req`, its use spent; rules in `declined` are skipped."""
        found = self._pick(req, declined)
        if found is None and self.loop and self.left and not any(self.left.values()):
            self.load(self.scenario, loop=True)
            found = self._pick(req, declined)
        return found

    def give_back(self, pick: Pick) -> None:
        """A callback declined its request: its use is not spent."""
        left = self.left.get((pick.rule, pick.reply))
        if left is not None:
            self.left[(pick.rule, pick.reply)] = left + 1

    def _pick(self, req: Request, declined: frozenset[int]) -> Pick | None:
        for r, rule in enumerate(self.scenario.rules):
            if r in declined:
                continue
            try:
                held = rule.match.holds(req)
            except RegexTimeout as exc:
                exc.rule = r  # the match knows its pattern, not its place
                raise
            if not held:
                continue
            for i, reply in enumerate(rule.replies):
                left = self.left[(r, i)]
                if left is None or left > 0:
                    if left is not None:
                        self.left[(r, i)] = left - 1
                    return Pick(r, i, reply)
        return None

    async def cancel(self) -> int:
        """Cancel the handlers under way (a stall, a hang) and wait for them; how many there were.
        Runs on the server's loop, after the namespace is dropped."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    def summary(self) -> list[dict[str, object]]:
        """Every scripted reply with its uses left, unused ones first."""
        items: list[dict[str, object]] = []
        for r, rule in enumerate(self.scenario.rules):
            for i, reply in enumerate(rule.replies):
                left = self.left[(r, i)]
                items.append(
                    {
                        "rule": r + 1,
                        "reply": i + 1,
                        "match": rule.match.describe(),
                        "reply_text": describe_reply(reply),
                        "left": "unlimited" if left is None else left,
                        "times": "unlimited" if reply.repeat else reply.times,
                    }
                )
        return sorted(items, key=lambda item: item["left"] == 0)

    def unused(self) -> list[str]:
        """Scripted uses never requested, described; `repeat` and `optional` replies excepted."""
        found = []
        for r, rule in enumerate(self.scenario.rules):
            for i, reply in enumerate(rule.replies):
                left = self.left[(r, i)]
                if left and not reply.optional:
                    uses = "never used" if left == reply.times else f"{left} of {reply.times} uses left"
                    found.append(
                        f"rule {r + 1} [{rule.match.describe()}] reply {i + 1}: {describe_reply(reply)}, {uses}"
                    )
        return found


class Store:
    """All namespaces of one server. Thread-safe: tests script and read while the loop serves."""

    def __init__(
        self,
        on_end: Callable[[Entry], None] | None = None,
        *,
        fallback: Fallback = "miss",
        loop: bool = False,
        redact: Iterable[str] = (),
        journal_limit: int = JOURNAL_LIMIT,
        namespace_idle: float = 0.0,
    ) -> None:
        """`redact`: header names journaled redacted, on top of the known credential headers.
        `fallback` and `loop` are what namespaces start with, and what scenarios put
        through the control API get (`sparring serve` passes its own). `journal_limit`:
        entries each namespace's journal keeps. `namespace_idle`: seconds after which an idle
        namespace is dropped (0: never; the server's sweep does it, see `expire`)."""
        if journal_limit < 1:
            raise ValueError(f"the journal limit must be at least 1, got {journal_limit}")
        if not namespace_idle >= 0:  # catches NaN too
            raise ValueError(f"the namespace idle time must be 0 (never) or more seconds, got {namespace_idle}")
        self.fallback: Fallback = fallback
        self.loop = loop
        self.journal_limit = journal_limit
        self.namespace_idle = namespace_idle
        self._lock = threading.RLock()
        self._spaces: dict[str, Namespace] = {}
        self._keys: dict[str, str] = {}
        self._ended: dict[str, None] = {}  # dropped namespaces, oldest first
        self._on_end = on_end
        self.redact = header_names(redact)
        self.default = DEFAULT_NAMESPACE
        self.clock: Clock = REAL  # what new namespaces' journals read (clock.py)

    def use_clock(self, clock: Clock) -> None:
        """Journal on `clock` from now on, in the namespaces there are and those to come."""
        with self._lock:
            self.clock = clock
            for space in self._spaces.values():
                space.journal.clock = clock

    def route(self, api_key: str, namespace: str) -> None:
        """Requests carrying `api_key` go to `namespace` (unless a header says otherwise)."""
        with self._lock:
            self._keys[api_key] = namespace

    def namespace_for(self, explicit: str | None, api_key: str | None) -> str:
        """An explicit namespace, else the one the API key is routed to, else the default."""
        if explicit:
            return explicit
        with self._lock:
            return self._keys.get(api_key or "", self.default)

    def closing(self, namespace: str) -> bool:
        """Whether a namespace is being (or has been) dropped."""
        with self._lock:
            space = self._spaces.get(namespace)
            return space is None or space.closing

    def drop(self, namespace: str, *, remember: bool = True) -> Namespace | None:
        """Forget a namespace and its key routes; the caller cancels its tasks. Remembered
        (unless not `remember`), a request sent to it later is answered as sent too late."""
        with self._lock:
            self._keys = {k: v for k, v in self._keys.items() if v != namespace}
            if self.default == namespace:
                self.default = DEFAULT_NAMESPACE
            space = self._spaces.pop(namespace, None)
            if space is not None:
                space.closing = True
                memory.let_go(len(space.journal))  # for the trimmer: see memory.py
            if space is not None and remember:
                self._ended[namespace] = None
                if len(self._ended) > ENDED_KEPT:
                    del self._ended[next(iter(self._ended))]
            return space

    def ended(self, namespace: str) -> bool:
        """Whether a namespace was dropped and not scripted again since: a request sent to it
        comes from a client made for a test that is over."""
        with self._lock:
            return namespace in self._ended

    def create(self, namespace: str, *, fallback: Fallback = "miss", api_keys: Sequence[str] = ()) -> Namespace | None:
        """Start `namespace` afresh (empty, not looping) with `api_keys` routed to it; the
        namespace it replaces, if any, for the caller to cancel."""
        with self._lock:
            old = self.drop(namespace)
            space = self.space(namespace)
            space.start_fallback, space.start_loop = fallback, False
            space.load(Scenario(fallback=fallback), loop=False)
            for key in api_keys:
                self._keys[key] = namespace
            return old

    def space(self, name: str = DEFAULT_NAMESPACE) -> Namespace:
        with self._lock:
            if name not in self._spaces:
                self._ended.pop(name, None)
                space = self._spaces[name] = Namespace(
                    name, self._on_end, self.redact, journal_limit=self.journal_limit
                )
                space.journal.clock = self.clock
                space.start_fallback, space.start_loop = self.fallback, self.loop
                space.load(Scenario(fallback=self.fallback), loop=self.loop)
            space = self._spaces[name]
            space.touched = time.monotonic()
            return space

    def namespaces(self) -> list[dict[str, object]]:
        """Every namespace, described, by name."""
        now = time.monotonic()
        with self._lock:
            return [self._spaces[name].describe(now) for name in sorted(self._spaces)]

    def expire(self) -> list[Namespace]:
        """Drop the namespaces idle for longer than `namespace_idle` seconds, except the
        default ones and those with requests under way; the caller cancels nothing (they
        have no tasks). Forgotten, not remembered as ended: a client that comes back later
        gets the namespace afresh."""
        if not self.namespace_idle:
            return []
        now = time.monotonic()
        with self._lock:
            idle = [
                name
                for name, space in self._spaces.items()
                if name not in (DEFAULT_NAMESPACE, self.default)
                and not space.tasks
                and space.idle(now) > self.namespace_idle
            ]
            return [space for name in idle if (space := self.drop(name, remember=False)) is not None]

    def set_scenario(self, scenario: Scenario, namespace: str = DEFAULT_NAMESPACE, *, loop: bool | None = None) -> None:
        with self._lock:
            self.space(namespace).load(scenario, loop=self.loop if loop is None else loop)

    def extend(self, scenario: Scenario, namespace: str = DEFAULT_NAMESPACE) -> int:
        """Append the rules of `scenario`; the index of the first one."""
        with self._lock:
            space = self.space(namespace)
            first = len(space.scenario.rules)
            space.extend(scenario)
            return first

    def drop_with_state(self, namespace: str) -> tuple[Namespace | None, list[Entry], list[str]]:
        """`drop`, and what the namespace held at that moment: its journal and unused replies."""
        with self._lock:
            space = self.drop(namespace)
            if space is None:
                return None, [], []
            return space, space.journal.copies(), space.unused()

    def unused(self, namespace: str = DEFAULT_NAMESPACE) -> list[str]:
        with self._lock:
            return self.space(namespace).unused()

    def reset(self, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Forget the rules and the journal; the fallback and looping go back to what the
        namespace started with."""
        with self._lock:
            space = self.space(namespace)
            space.load(Scenario(fallback=space.start_fallback), loop=space.start_loop)
            space.journal.clear()

    def pick(
        self, namespace: str, req: Request, *, declined: frozenset[int] = frozenset()
    ) -> tuple[Pick | None, Scenario]:
        with self._lock:
            space = self.space(namespace)
            return space.pick(req, declined=declined), space.scenario

    def give_back(self, namespace: str, pick: Pick) -> None:
        with self._lock:
            self.space(namespace).give_back(pick)

    def summary(self, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, object]]:
        with self._lock:
            return self.space(namespace).summary()
