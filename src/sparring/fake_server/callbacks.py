"""Choosing the reply for a request, callbacks included.

A `respond(...)` callback is called here, on the server's loop, with the request. What it
returns becomes the reply; None hands the request on to the next rule (the callback's use is
given back). A callback that raises, or returns something that is not a reply, does not take
the server down: the choice carries the failure, and the server answers it with a 500.
So does a rule whose regular expression runs out of the request's time budget (`broken`).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
import traceback
from dataclasses import dataclass
from types import MappingProxyType

from sparring.fake_server.store import Pick, Store, describe_reply
from sparring.scenario.builders import reply
from sparring.scenario.match import RegexTimeout, regex_budget
from sparring.scenario.model import Answer, Callback, ErrorReply, Recorded, Scenario
from sparring.scenario.request import Request


@dataclass(frozen=True)
class Failure:
    """A callback that raised: which, and a summary of what it raised and where."""

    rule: int
    reply: int
    name: str
    summary: str
    exception: BaseException

    def message(self) -> str:
        where = f"rule {self.rule + 1}, reply {self.reply + 1}"
        return f"sparring: the callback {self.name} ({where}) {self.summary}"

    @property
    def traceback(self) -> BaseException | None:
        """The exception to log with its traceback: not for a wrong return value, whose
        traceback is sparring's own."""
        return None if isinstance(self.exception, BadReturn) else self.exception


@dataclass(frozen=True)
class Choice:
    """What answers a request: a reply (with its journal label), a failed callback, or
    nothing (`reply` and `failure` both None: a miss, or the fallback)."""

    scenario: Scenario
    reply: Answer | ErrorReply | Recorded | None = None
    pick: Pick | None = None
    label: str | None = None
    failure: Failure | None = None
    declined: tuple[int, ...] = ()  # rules whose callback handed the request on
    broken: RegexTimeout | None = None  # a rule's match could not be decided in time


async def choose(store: Store, namespace: str, request: Request) -> Choice:
    declined: list[int] = []
    while True:
        try:
            with regex_budget():
                pick, scenario = store.pick(namespace, request, declined=frozenset(declined))
        except RegexTimeout as exc:
            return Choice(store.space(namespace).scenario, declined=tuple(declined), broken=exc)
        if pick is None:
            return Choice(scenario, declined=tuple(declined))
        label = f"rule {pick.rule + 1}, reply {pick.reply + 1}: {describe_reply(pick.answer)}"
        if not isinstance(pick.answer, Callback):
            return Choice(scenario, pick.answer, pick, label)
        callback = pick.answer
        try:
            made = await call(callback, request)
        except asyncio.CancelledError:
            raise  # the client went away: the middleware records it
        except BaseException as exc:  # the user's code (pytest.fail() included): reported, never fatal
            failure = Failure(pick.rule, pick.reply, callback.name, summarize(exc), exc)
            return Choice(scenario, pick=pick, label=label, failure=failure)
        if made is not None:
            return Choice(scenario, made, pick, f"{label} -> {describe_reply(made)}")
        store.give_back(namespace, pick)
        declined.append(pick.rule)


async def call(callback: Callback, request: Request) -> Answer | ErrorReply | None:
    """Run the callback on its own copy of the request body; await it if it is async."""
    own = dataclasses.replace(request, body=MappingProxyType(copy.deepcopy(dict(request.body))))
    result: object = callback.function(own)
    if inspect.isawaitable(result):
        result = await result
    return as_reply(result)


class BadReturn(TypeError):
    """A callback returned something that is not a reply."""


def as_reply(result: object) -> Answer | ErrorReply | None:
    if result is None or isinstance(result, (Answer, ErrorReply)):
        return result
    if isinstance(result, str):
        return reply(result)
    raise BadReturn(
        f"returned {type(result).__name__} {_short(repr(result))}; return reply(...), error(...),"
        " a string, or None (let the next rule answer)"
    )


def summarize(exc: BaseException) -> str:
    """`raised ValueError: bad city (at test_agent.py:12 in answer)`: the exception and its
    innermost frame."""
    if isinstance(exc, BadReturn):
        return str(exc)
    text = "raised " + " ".join(line.strip() for line in traceback.format_exception_only(type(exc), exc))
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return text


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
