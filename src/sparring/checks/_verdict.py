"""The verdict on one way out: what leaked, each in a sentence that says how.

Reads what the way left behind: the `Run` (what the consumer saw), the `Watch` (generator,
event loop reports, tasks) and the journal entry of the way's request (what the server saw).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sparring.checks._watch import Watch, describe_generator, describe_task
from sparring.checks._ways import Run
from sparring.fake_server.journal import Entry

_EXPECTED = {"complete": "completed", "server_fault": "fault"}  # the rest: client_disconnected
_IGNORED_EXIT = "async generator ignored GeneratorExit"
_YIELD_IN_CLOSE = "a `yield` in `finally` (RuntimeError: async generator ignored GeneratorExit)"


def close_failed(run: Run, watch: Watch) -> bool:
    """Closing the generator already failed: it will stay suspended, no use waiting."""
    return run.close_error is not None or any(c.get("exception") is not None for c in watch.reports or ())


def generator_state(run: Run, watch: Watch) -> str:
    if not run.generator:
        return "n/a"
    agen: Any = watch.finalized if watch.finalized is not None else (run.ref() if run.ref is not None else None)
    # Freed without passing through the finalizer hook means it had finished (or was closed).
    return "finished" if agen is None or agen.ag_frame is None else "suspended"


def judge(way: str, run: Run, watch: Watch, entry: Entry | None, rule: int, left: float, bound: float) -> list[str]:
    problems: list[str] = []
    if run.stuck:
        problems.append(run.stuck)
    if run.error is not None and run.left is None:
        problems.append(f"the stream failed before its first event: {run.error!r}")
    elif way == "complete" and run.error is not None:
        problems.append(f"the stream raised {run.error!r} instead of running to its end")
    problems.extend(_generator_problems(way, run, watch, bound))
    server = _server_problem(way, entry, rule, left, bound)
    if server is not None and watch.held:
        orphans = list(dict.fromkeys(describe_generator(a) for a in watch.held))
        more = f" and {len(orphans) - 3} more" if len(orphans) > 3 else ""
        server += f" — it left {', '.join(orphans[:3])}{more} unclosed, and nothing else closed the connection"
    if server is not None:
        problems.append(server)
    running = watch.new_tasks()
    if running:
        names = ", ".join(describe_task(t) for t in running)
        problems.append(f"{len(running)} task(s) it started still ran {bound:g} s after the consumer left: {names}")
    return problems


def _generator_problems(way: str, run: Run, watch: Watch, bound: float) -> list[str]:
    problems: list[str] = []
    yielded = False
    if run.close_error is not None:
        yielded = _IGNORED_EXIT in str(run.close_error)
        problems.append(
            f"the generator yielded during aclose(): {_YIELD_IN_CLOSE}"
            if yielded
            else f"aclose() raised {run.close_error!r}{_held_across_yield(run.close_error)}"
        )
    for context in watch.reports or ():
        exc = context.get("exception")
        if exc is not None and _IGNORED_EXIT in str(exc):
            yielded = True
            problems.append(f"the event loop's finalizer could not close the generator: {_YIELD_IN_CLOSE}")
        else:
            task = context.get("task")
            about = f" [{describe_task(task)}]" if isinstance(task, asyncio.Task) else ""
            error = f" ({exc!r})" if exc else ""
            problems.append(f"the event loop reported: {context.get('message')}{about}{error}")
    if way == "cancel" and run.cancel_sent:
        if run.after_cancel:
            problems.append(
                f"the stream yielded {run.after_cancel} event(s) after its consumer was cancelled: "
                "a `yield` in `finally` or in `except CancelledError`"
            )
        if run.cancelled is False and run.error is not None:
            problems.append(f"the client turned the cancellation into {run.error!r} instead of letting it through")
        elif run.cancelled is False:
            problems.append(
                "the client swallowed the cancellation: the cancelled consumer finished normally "
                "(clean up, then re-raise CancelledError)"
            )
    if generator_state(run, watch) == "suspended" and not yielded and not run.stuck:
        if way in ("consumer_error", "abandon") and watch.finalized is None:
            problems.append(
                f"nothing finalized the generator within {bound:g} s of the consumer dropping it: something still "
                "references it (the client keeping it? a reference cycle?), so its `finally` has not run"
            )
        else:
            problems.append(f"the generator was still suspended {bound:g} s after the consumer left")
    return problems


def _held_across_yield(exc: BaseException) -> str:
    """Why a close raised GeneratorExit, alone or in an exception group, instead of returning."""
    inner = getattr(exc, "exceptions", None)
    found = isinstance(exc, GeneratorExit) or (
        isinstance(inner, (list, tuple)) and any(isinstance(e, GeneratorExit) for e in inner)
    )
    return (
        ": a task group or cancel scope held open across a `yield` raises the close's GeneratorExit back out"
        if found
        else ""
    )


def _server_problem(way: str, entry: Entry | None, rule: int, left: float, bound: float) -> str | None:
    if entry is None:
        return "no request reached the fake server"
    name = f"request #{entry.index + 1}"
    if entry.rule != rule:
        return (
            f"{name} was answered by {entry.answered_by or 'nothing scripted'}, not by the reply the check scripted "
            "for this way: leave no other replies pending on the fake server during check_cleanup"
        )
    expected = _EXPECTED.get(way, "client_disconnected")
    if entry.outcome is None:
        return (
            f"the server still had the connection open {bound:g} s after the consumer left "
            f"({name} still streaming, {entry.events_sent} events sent)"
        )
    ended = entry.ended or 0.0
    after = entry.arrived + ended - left
    if entry.outcome == expected:
        if expected == "client_disconnected" and after > bound:
            return f"the server saw the connection close only {after:.2f} s after the consumer left (bound {bound:g} s)"
        return None
    if entry.outcome == "completed":
        return (
            f"the client never closed the connection: the server streamed {name} to its end "
            f"('completed' at +{ended:.2f} s, {after:.2f} s after the consumer left)"
        )
    detail = f", {entry.detail}" if entry.detail else ""
    return f"{name} ended {entry.outcome!r} at +{ended:.2f} s{detail}; expected {expected!r}"
