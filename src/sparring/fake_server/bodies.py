"""Request bodies: parsed within a nesting limit, journaled within a size limit.

A body nested deeper than `MAX_DEPTH` is refused (a 400 in the API's shape): real requests,
JSON-schema tools included, stay far below it, and Python code that walks a body (copies,
the journal's serialization) would hit the recursion limit on one a few hundred deep. Past
about a thousand levels `json.loads` itself raises `RecursionError`, which is caught here
(cheaper than scanning the bytes first: it gives up at that depth, whatever the body's size).

A body larger than `BODY_KEPT` bytes is still answered in full, but journaled as a summary:

    {"truncated": true, "size": 81920, "sha256": "9f86d0...", "model": "gpt-4o", "stream": true}

`size` is the body's length in bytes and `sha256` the hex digest of those bytes (equal
bodies, e.g. a retry, have equal summaries); `model` and `stream` are kept when the body
has them, so reports still say what was asked. A refused body is journaled the same way,
with a `reason`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_DEPTH = 100  # nesting levels a request body may have
BODY_KEPT = 64 * 1024  # bytes of body the journal keeps whole


class TooDeep(ValueError):
    """The body nests deeper than `MAX_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(
            f"The request body is nested more than {MAX_DEPTH} levels deep; sparring accepts at most "
            f"{MAX_DEPTH} levels of objects and arrays."
        )


def parse(raw: bytes) -> Any:
    """The body as JSON; `ValueError` if it is not JSON, `TooDeep` if it nests too deep."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise TooDeep from None
    if depth(body, stop=MAX_DEPTH) > MAX_DEPTH:
        raise TooDeep
    return body


def depth(value: Any, stop: int | None = None) -> int:
    """Levels of nested objects and arrays (a scalar is 0, `{}` is 1), found level by level
    without recursion; once past `stop` levels, `stop + 1`."""
    level = 0
    layer = [value] if isinstance(value, (dict, list)) else []
    while layer and (stop is None or level <= stop):
        level += 1
        layer = [
            child
            for item in layer
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
    return level


def journaled(raw: bytes, body: Any) -> Any:
    """What the journal keeps of a parsed body: the body itself, or a summary if it is large."""
    if len(raw) <= BODY_KEPT:
        return body
    return summary(raw, body)


def summary(raw: bytes, body: Any = None, reason: str | None = None) -> dict[str, Any]:
    """A body's size and digest, with its `model` and `stream` when it has them."""
    kept: dict[str, Any] = {"truncated": True, "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    if reason is not None:
        kept["reason"] = reason
    if isinstance(body, dict):
        for name in ("model", "stream"):
            value = body.get(name)
            if isinstance(value, (str, bool, int, float)) and len(str(value)) <= 200:
                kept[name] = value
    return kept
