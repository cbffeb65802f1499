"""`break` leaves the generator paused, not closed; `contextlib.aclosing` closes it at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


async def stream(log: list[str]) -> AsyncIterator[str]:
    try:
        yield "Hel"
        yield "lo"
    finally:
        log.append("closed")


# --8<-- [start:example]
async def leave_early() -> None:
    log: list[str] = []
    events = stream(log)
    async for _ in events:
        break
    assert log == []  # still paused at its first yield: nothing closed it

    async with contextlib.aclosing(stream(log)) as events:
        async for _ in events:
            break
    assert log == ["closed"]  # aclosing called aclose() on the way out


# --8<-- [end:example]


def main() -> None:
    asyncio.run(leave_early())


if __name__ == "__main__":
    main()
