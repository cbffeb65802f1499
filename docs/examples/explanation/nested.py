"""A generator that loops over another: closing the outer one closes the inner one only when
the outer holds it in `contextlib.aclosing`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


# --8<-- [start:example]
async def chunks(log: list[str]) -> AsyncIterator[str]:
    """The inner generator: it owns the connection."""
    try:
        yield "Hel"
        yield "lo"
    finally:
        log.append("connection closed")


async def events(log: list[str]) -> AsyncIterator[str]:
    try:
        async for chunk in chunks(log):
            yield chunk.upper()
    finally:
        log.append("events closed")


async def events_aclosing(log: list[str]) -> AsyncIterator[str]:
    try:
        async with contextlib.aclosing(chunks(log)) as inner:
            async for chunk in inner:
                yield chunk.upper()
    finally:
        log.append("events closed")


async def close_the_outer_one() -> None:
    log: list[str] = []
    outer = events(log)
    await anext(outer)
    await outer.aclose()
    assert log == ["events closed"]  # the inner generator is still paused
    for _ in range(3):
        await asyncio.sleep(0)
    assert log == ["events closed", "connection closed"]  # closed later, by the loop's finalizer

    log.clear()
    outer = events_aclosing(log)
    await anext(outer)
    await outer.aclose()
    assert log == ["connection closed", "events closed"]  # at once, inner first


# --8<-- [end:example]


def main() -> None:
    asyncio.run(close_the_outer_one())


if __name__ == "__main__":
    main()
