"""An async generator runs only when it is asked for its next value, and its `finally` runs
when it finishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


# --8<-- [start:example]
async def numbers(log: list[str]) -> AsyncIterator[int]:
    log.append("started")
    try:
        for n in range(3):
            await asyncio.sleep(0)  # stands in for waiting on the network
            yield n
    finally:
        log.append("finally")


async def read_all() -> None:
    log: list[str] = []
    stream = numbers(log)
    assert log == []  # calling it runs nothing yet
    got = [n async for n in stream]  # each step runs the body up to the next yield
    assert got == [0, 1, 2]
    assert log == ["started", "finally"]


# --8<-- [end:example]


def main() -> None:
    asyncio.run(read_all())


if __name__ == "__main__":
    main()
