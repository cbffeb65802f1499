"""`aclose()` throws GeneratorExit in at the paused `yield`: `finally` runs, and may await, but
must not yield."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


# --8<-- [start:example]
async def stream(log: list[str]) -> AsyncIterator[str]:
    try:
        yield "Hel"
        yield "lo"
    except GeneratorExit:
        log.append("GeneratorExit at the yield")
        raise
    finally:
        await asyncio.sleep(0)  # closing a connection can await
        log.append("closed")


async def yields_while_closing() -> AsyncIterator[str]:
    try:
        yield "Hel"
    finally:
        yield "[end]"  # BUG: a yield in finally


async def close_early() -> None:
    log: list[str] = []
    events = stream(log)
    assert await anext(events) == "Hel"  # paused at the first yield
    await events.aclose()
    assert log == ["GeneratorExit at the yield", "closed"]
    assert [e async for e in events] == []  # closed for good

    broken = yields_while_closing()
    await anext(broken)
    problem = "none"
    try:
        await broken.aclose()
    except RuntimeError as exc:
        problem = str(exc)
    assert problem == "async generator ignored GeneratorExit"


# --8<-- [end:example]


def main() -> None:
    asyncio.run(close_early())


if __name__ == "__main__":
    main()
