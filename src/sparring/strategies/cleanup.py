"""The cleanup invariant: on its way out of each example, the client closed what it opened.

`sparring.check_cleanup` drives a stream out every way a consumer can leave, on replies it
scripts itself: a test of its own. In a property-based test the example's scenario decides how
the stream ends (whole, cut, stalled until the client gives up), and this checks, after the
consumer left, what that check judges from the outside in the same words: the stream's
generator finished (its `finally` ran), and the server saw every connection of the example
close within `bound` seconds (`sparring.checks._verdict`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from sparring.checks._verdict import _server_problem
from sparring.checks._watch import describe_generator
from sparring.plugin.examples import ended
from sparring.strategies.invariants import _fail

if TYPE_CHECKING:
    from sparring.plugin.fake_llm import FakeLLM

BOUND = 2.0  # seconds the client has to close a connection after its consumer left: check_cleanup's


async def check_cleanup_ran(fake: FakeLLM, stream: object = None, *, bound: float = BOUND) -> None:
    """The client cleaned up on its way out of the example: within `bound` seconds after its
    consumer left, the server saw every request of the example end (no connection left open:
    a read the client gave up on and left running, a response it never closed), and `stream`,
    the async generator the consumer read, if given, has finished (its `finally` ran).

    Await it as soon as the consumer is done, inside `async with fake_llm.example(...)`: the
    block's end waits for the example's requests too, and would give a leak that long to
    close. Under `@pytest.mark.sparring_virtual_time`, the wait costs no wall time."""
    __tracebackhide__ = True
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or bound <= 0:
        raise ValueError(f"bound must be a number of seconds > 0, got {bound!r}")
    journal = await fake.wait_for(ended, timeout=bound)
    # A way out that leaves the stream mid-way ("break"): the server must see the connection close.
    open_ = [e for e in journal if e.outcome is None]  # each answered by a rule: one still reading its body is none
    found = (_server_problem("break", e, -1 if e.rule is None else e.rule, 0.0, bound) for e in open_)
    problems = [p for p in found if p is not None]
    if inspect.isasyncgen(stream) and stream.ag_frame is not None:
        problems.append(
            f"the generator {describe_generator(stream)} was still suspended after its consumer left: its "
            "`finally` has not run (close it: `async with contextlib.aclosing(stream)`)"
        )
    if problems:
        lines = "\n".join(f"- {p}" for p in problems)
        _fail(fake, f"the client did not clean up on its way out of the example:\n{lines}")
