"""One property-based example on a fresh state of the test's namespace.

hypothesis runs a test's body many times inside one pytest test, so a function-scoped
`fake_llm` is set up once for all of them. `FakeLLM.example(scenario)` scripts each example
on its own: it resets the namespace's rules and journal (its URL, API key and the clients
pointed at it stay), and on a clean exit checks strictness for that example alone. In the
example hypothesis prints as falsifying, it notes the scenario as YAML, ready to save as a
regression scenario, and the exchange the server saw.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sparring.scenario.dump import NotPortableError, dump_scenario

if TYPE_CHECKING:
    from sparring.plugin.fake_llm import FakeLLM
    from sparring.scenario.model import Scenario

SETTLE = 5.0  # seconds to wait for responses still ending (a cut stream the server has yet to log)


class ExampleError(AssertionError):
    """An example left the server in a state a strict test fails on: unused or missing replies."""


@contextmanager
def scripted_example(fake: FakeLLM, scenario: Scenario, *, strict: bool) -> Iterator[FakeLLM]:
    fake.reset(scenario)
    _note_final(lambda: f"sparring scenario of this example (save it as a regression .yaml):\n{_yaml(scenario)}")
    try:
        yield fake
    except BaseException:
        _note_final(lambda: "sparring exchange of this example:\n" + fake.exchange())
        raise
    if strict:
        settle(fake)
        problems = fake.problems()
        if problems is not None:
            _note_final(lambda: "sparring exchange of this example:\n" + fake.exchange())
            raise ExampleError(problems)


def settle(fake: FakeLLM, timeout: float = SETTLE) -> None:
    """Wait until every request of the example has ended, so its journal entries are final."""
    fake.wait_until(lambda entries: all(e.outcome is not None for e in entries), timeout=timeout)


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
