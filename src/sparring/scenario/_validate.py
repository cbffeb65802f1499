"""Small checks shared by the model's dataclasses; each failure names the field's path.

Numbers must be finite and inside ranges a real scenario never leaves: past them the
server would overflow a float, wait for ever, or allocate without bound on every request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sparring.errors import ScenarioError, closest

__all__ = [
    "check_header_value",
    "check_headers",
    "check_speed",
    "check_uses",
    "closest",
    "count",
    "fail",
    "non_negative",
    "positive_int",
]

MAX_WAIT = 86_400.0  # one day: timing and stall/hang durations; no test waits longer
MAX_HEADER_SECONDS = 366 * 86_400.0  # a year: retry-after and rate-limit resets only go in headers
MAX_SPEED = 1e6  # a day of scripted waits in a tenth of a second; beyond, speed means nothing
MAX_COUNT = 2**53  # counts and seeds; beyond this a float loses them and no limit means anything


def fail(path: str, message: str) -> ScenarioError:
    return ScenarioError.single(message, path=path)


def non_negative(path: str, value: float, maximum: float = MAX_WAIT) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise fail(path, f"must be a number >= 0, got {value!r}")
    if not value <= maximum:  # also inf
        raise fail(path, f"must be a finite number of at most {maximum:g}, got {value!r}")


def check_speed(path: str, value: float) -> None:
    """A speed: how many times faster than scripted every wait goes by."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_SPEED:
        raise fail(
            path, f"must be a number above 0 and at most {MAX_SPEED:,.0f} (100: waits 100 times shorter), got {value!r}"
        )


def positive_int(path: str, value: int, maximum: int = MAX_COUNT) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(path, f"must be an integer >= 1, got {value!r}")
    if value > maximum:
        raise fail(path, f"must be at most {maximum:,}, got {value!r}")


def count(path: str, value: int) -> None:
    """An integer >= 0 that fits a JSON number exactly."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(path, f"must be an integer >= 0, got {value!r}")
    if value > MAX_COUNT:
        raise fail(path, f"must be at most {MAX_COUNT:,}, got {value!r}")


# What HTTP servers refuse to put in a header (aiohttp raises on them): control characters
# other than tab. CR and LF would also split the response.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def check_header_value(path: str, value: str) -> None:
    found = _CONTROL.search(value)
    if found is not None:
        what = "a line break" if found.group() in "\r\n" else f"a control character ({found.group()!r})"
        raise fail(path, f"a header value cannot hold {what}")


def check_headers(path: str, headers: object) -> None:
    """Header names and values as HTTP sends them: text without control characters (which
    would split the response or make the server refuse to send it)."""
    if not isinstance(headers, Mapping):
        raise fail(path, f"must be a mapping of header names to values, got {headers!r}")
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(c in name for c in " :\t") or _CONTROL.search(name):
            raise fail(path, f"{name!r} is not a header name")
        if not isinstance(value, str):
            raise fail(f"{path}.{name}", f"must be a string, got {type(value).__name__} {value!r}")
        check_header_value(f"{path}.{name}", value)


def check_uses(times: int, repeat: bool, optional: bool) -> None:
    """`times` uses, or any number with `repeat`; `optional` ones may go unused in a strict test."""
    positive_int("times", times)
    for name, value in (("repeat", repeat), ("optional", optional)):
        if not isinstance(value, bool):
            raise fail(name, f"must be true or false, got {value!r}")
