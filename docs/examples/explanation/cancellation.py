"""Cancelling a consumer while the generator waits inside raises CancelledError at that await:
`finally` runs, and the cancellation must go on to the consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


# --8<-- [start:example]
async def stream(log: list[str]) -> AsyncIterator[str]:
    try:
        yield "Hel"
        await asyncio.sleep(10)  # waiting for the next chunk
        yield "lo"
    finally:
        log.append("closed")


async def swallows(log: list[str]) -> AsyncIterator[str]:
    try:
        yield "Hel"
        await asyncio.sleep(10)
        yield "lo"
    except asyncio.CancelledError:
        return  # BUG: the cancellation ends here
    finally:
        log.append("closed")


async def consume(events: AsyncIterator[str], got: list[str]) -> None:
    async for event in events:
        got.append(event)


async def cancel_the_consumer() -> None:
    for make, cancelled in ((stream, True), (swallows, False)):
        log: list[str] = []
        got: list[str] = []
        task = asyncio.create_task(consume(make(log), got))
        await asyncio.sleep(0.01)  # the consumer has "Hel"; the generator waits in sleep(10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert got == ["Hel"]
        assert log == ["closed"]  # finally ran in both
        assert task.cancelled() is cancelled  # but only one consumer learned it was cancelled


# --8<-- [end:example]


def main() -> None:
    asyncio.run(cancel_the_consumer())


if __name__ == "__main__":
    main()
