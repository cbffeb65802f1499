"""Small checks shared by the model's dataclasses; each failure names the field's path."""

from __future__ import annotations

from sparring.errors import ScenarioError, closest

__all__ = ["closest", "fail", "non_negative", "positive_int"]


def fail(path: str, message: str) -> ScenarioError:
    return ScenarioError.single(message, path=path)


def non_negative(path: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise fail(path, f"must be a number >= 0, got {value!r}")


def positive_int(path: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(path, f"must be an integer >= 1, got {value!r}")
