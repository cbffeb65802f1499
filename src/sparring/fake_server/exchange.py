"""One API request and its response: everything the path needs, made once at arrival.

The middleware (`app.py`) builds an `Exchange` when a request arrives and hands it to each
step in turn: the route's dialect parses the body, a rule answers, playback sends. The
exchange owns the request's journal entry: every step records what it learnt through the
typed methods here, and `finish` is the one place the entry is ended. `ending` says which
outcome an exception means, so every step that can be cut short ends the same way.

Each exchange has its own random generator, seeded from the server's at arrival: the ids and
padding of a response are drawn from it as its events are rendered, so concurrent streams
cannot interleave their draws, and a seeded server sends the same bytes for the same
requests in the same order of arrival.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from sparring.fake_server.context import ServerState, api_key_of, api_path, namespace_of
from sparring.fake_server.dialects import NO_PARAMS
from sparring.fake_server.dialects.base import Dialect, Frame, Route
from sparring.fake_server.journal import Entry, Journal, Outcome
from sparring.fake_server.store import Namespace


@dataclass
class Exchange:
    request: web.Request
    state: ServerState
    path: str  # without a `/ns/NAME` prefix: what the journal records and rules match on
    namespace: str  # where the request was sent
    space: Namespace  # where it is journaled and answered (the default one if `namespace` ended)
    journal: Journal
    entry: Entry
    api_key: str | None
    rng: random.Random
    dialect: Dialect | None  # the route's API; None on a route that is not an API's
    retry_count: int | None = None
    # What the route pattern's `{name}` parts matched; empty on a fixed route.
    params: Mapping[str, str] = field(default_factory=lambda: NO_PARAMS)

    @classmethod
    def arrive(
        cls, request: web.Request, state: ServerState, dialect: Dialect | None, params: Mapping[str, str] = NO_PARAMS
    ) -> Exchange:
        """Open the journal entry of a request that just arrived. A request to a namespace
        whose test has ended is journaled in the default one: it shows in the running test."""
        api_key = api_key_of(request)
        namespace = namespace_of(request, api_key)
        space = state.store.space(state.store.default if state.store.ended(namespace) else namespace)
        path = api_path(request)
        entry = space.journal.open(request.method, path, request.headers)
        rng = random.Random(state.rng.getrandbits(64))
        return cls(request, state, path, namespace, space, space.journal, entry, api_key, rng, dialect, params=params)

    def route(self) -> Route:
        """Where the request went, besides its body: for the dialect's `refuse` and `parse_at`."""
        return Route(self.params, self.request.query)

    @property
    def ended_namespace(self) -> bool:
        return self.space.name != self.namespace

    def elapsed_ms(self) -> int:
        return max(1, int((self.journal.clock.monotonic() - self.entry.arrived) * 1000))

    # -- what the server learnt, recorded as it learnt it --------------------------------

    def body(self, value: object) -> None:
        self.journal.record_body(self.entry, value)

    def parsed(self, *, stream: bool, retry_count: int | None) -> None:
        self.retry_count = retry_count
        self.journal.record_request(self.entry, stream=stream, retry_count=retry_count)

    def asked(self, description: str | None) -> None:
        """The request in one line (`Request.describe`): what reports and teardown show."""
        self.journal.record_asked(self.entry, description)

    def answered(self, label: str | None, rule: int | None = None, reply: int | None = None) -> None:
        self.journal.record_answer(self.entry, label, rule, reply)

    def headers_sent(self, headers: Mapping[str, str], status: int | None = None) -> None:
        self.journal.record_headers(self.entry, headers, status)

    def frames(self, frames: Iterable[Frame], extra_per_line: int = 0) -> None:
        """Events about to be written: their sizes on the wire (`extra_per_line` bytes added to
        each line's ending), and which carry output."""
        sizes: list[int] = []
        content: list[bool] = []
        for f in frames:
            sizes.append(len(f.data) + f.data.count(b"\n") * extra_per_line if extra_per_line else len(f.data))
            content.append(f.content)
        self.journal.record_events(self.entry, sizes, content)

    def wrote(self, nbytes: int, kind: str = "event") -> None:
        self.journal.chunk(self.entry, nbytes, kind)

    def fault(self, description: str) -> None:
        self.journal.record_fault(self.entry, description)

    def note(self, detail: str) -> None:
        self.journal.record_note(self.entry, detail)

    # -- how it ended: decided here, once ------------------------------------------------

    def finish(self, outcome: Outcome, detail: str | None = None, status: int | None = None) -> None:
        """End the entry. The first ending wins: a disconnect after an error stays an error."""
        self.journal.end(self.entry, outcome, detail, status)

    def ending(self, error: BaseException, *, stalled: bool = False) -> Outcome:
        """What being cut short by `error` means: the server shutting down (or the test's
        namespace being dropped) cancels the handler, and so does a client that goes away;
        while a fault holds the response back, a client giving up is a stall it noticed."""
        if isinstance(error, asyncio.CancelledError) and (
            self.state.closing or self.state.store.closing(self.entry.namespace)
        ):
            return "server_closed"
        if isinstance(error, asyncio.CancelledError) and stalled:
            return "stalled"
        return "client_disconnected"

    def cut_short(self, error: BaseException, where: str, *, stalled: bool = False) -> None:
        """Finish an exchange that `error` (a cancellation or a connection error) cut short."""
        self.finish(self.ending(error, stalled=stalled), where)
