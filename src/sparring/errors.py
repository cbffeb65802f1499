"""The exceptions sparring raises.

SparringError
├── ScenarioError        a scenario (file or builder call) says something invalid
└── ServerError          the fake server could not start or was used after close
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice a typo most likely meant, if any is close: the "did you mean" of every error."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


class SparringError(Exception):
    """Base class of every exception sparring raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a scenario: where it is and what is wrong."""

    message: str
    path: str = ""
    source: str = ""
    line: int | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.source or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return text


class ScenarioError(SparringError, ValueError):
    """A scenario is invalid. Carries every problem found, each located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        head = "invalid scenario" if len(lines) == 1 else f"invalid scenario ({len(lines)} problems)"
        super().__init__(head + ":\n  " + "\n  ".join(lines))

    @classmethod
    def single(cls, message: str, *, path: str = "", suggestion: str | None = None) -> ScenarioError:
        return cls([Problem(message, path=path, suggestion=suggestion)])


class ServerError(SparringError, RuntimeError):
    """The fake server could not start, or was used after it was closed."""
