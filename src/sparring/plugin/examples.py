"""One property-based example on a fresh state of the test's namespace.

hypothesis runs a test's body many times inside one pytest test, so a function-scoped
`fake_llm` is set up once for all of them. `FakeLLM.example(scenario)` scripts each example
on its own: it resets the namespace's rules and journal (its URL, API key and the clients
pointed at it stay), and on a clean exit checks strictness for that example alone. In the
example hypothesis prints as falsifying, it notes the scenario as YAML, ready to save as a
regression scenario, and the exchange the server saw.

`with` in a sync test, `async with` in an async one. The async form waits on the event loop
for every request of the example to end (`fake_llm.wait_for`), so under virtual time, where
the server runs on the test's loop and nothing may block it, the journal is final when the
block ends: the invariants that read it are called after the block.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from sparring.fake_server.journal import Entry
from sparring.scenario.dump import NotPortableError, dump_scenario

if TYPE_CHECKING:
    from sparring.plugin.fake_llm import FakeLLM
    from sparring.scenario.model import Scenario

SETTLE = 5.0  # seconds to wait for responses still ending (a cut stream the server has yet to log)
INSIDE = (
    "this invariant reads the example's final journal, and inside `async with fake_llm.example(...)` "
    "requests may still be ending: call it after the block, which waits for every request to end"
)

VIRTUAL = (
    "under @pytest.mark.sparring_virtual_time the server runs on the test's event loop, which waiting "
    "for the example's requests to end in a `with` block would block: use `async with fake_llm.example(...)`"
)


class ExampleError(AssertionError):
    """An example left the server in a state a strict test fails on: unused or missing replies;
    or an invariant was called where the journal cannot be final yet."""


class ScriptedExample:
    """What `fake_llm.example(...)` returns: `with` it (sync) or `async with` it (async)."""

    def __init__(self, fake: FakeLLM, scenario: Scenario, *, strict: bool) -> None:
        self._fake, self._scenario, self._strict = fake, scenario, strict

    def _begin(self) -> FakeLLM:
        self._fake.reset(self._scenario)
        scenario = self._scenario
        _note_final(lambda: f"sparring scenario of this example (save it as a regression .yaml):\n{_yaml(scenario)}")
        return self._fake

    def _failed(self) -> None:
        fake = self._fake
        _note_final(lambda: "sparring exchange of this example:\n" + fake.exchange())

    def _judge(self) -> None:
        problems = self._fake.problems()
        if problems is not None:
            self._failed()
            raise ExampleError(problems)

    def __enter__(self) -> FakeLLM:
        if self._fake._on_test_loop:
            raise ExampleError(VIRTUAL)
        return self._begin()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None:
            self._failed()
            return
        if self._strict:
            settle(self._fake)
            self._judge()

    async def __aenter__(self) -> FakeLLM:
        self._fake._async_example = True
        return self._begin()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._fake._async_example = False
        if exc is not None:
            self._failed()
            return
        await self._fake.wait_for(ended, timeout=SETTLE)
        if self._strict:
            self._judge()


def ended(entries: list[Entry]) -> bool:
    """Whether every request has ended: the journal is final."""
    return all(e.outcome is not None for e in entries)


def settle(fake: FakeLLM, timeout: float = SETTLE) -> None:
    """Wait until every request of the example has ended, so its journal entries are final."""
    __tracebackhide__ = True
    if fake._async_example:
        raise ExampleError(INSIDE)
    if not ended(fake.journal):  # after an `async with` example it has (nothing to wait for, nor to block)
        fake.wait_until(ended, timeout=timeout)


def _yaml(scenario: Scenario) -> str:
    try:
        return dump_scenario(scenario, fmt="yaml")
    except NotPortableError as exc:  # a callback: Python code, no file can hold it
        return f"(not writable as a file: {exc})"


def _note_final(text: Callable[[], str]) -> None:
    """`hypothesis.note` the text, only in the example hypothesis reports (the final replay of
    the shrunk one): the others' notes are never shown, so they are not worth the dump."""
    if "hypothesis" not in sys.modules:  # not under hypothesis at all: nothing to note to
        return
    from hypothesis import note
    from hypothesis.control import current_build_context, currently_in_test_context

    if not currently_in_test_context() or not current_build_context().is_final:
        return
    note(text())
