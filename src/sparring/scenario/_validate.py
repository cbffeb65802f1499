"""Small checks shared by the model's dataclasses; each failure names the field's path."""

from __future__ import annotations

import difflib

from sparring.errors import ScenarioError


def closest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The choice a typo most likely meant, if any is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def fail(path: str, message: str) -> ScenarioError:
    return ScenarioError.single(message, path=path)


def non_negative(path: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise fail(path, f"must be a number >= 0, got {value!r}")


def positive_int(path: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(path, f"must be an integer >= 1, got {value!r}")
