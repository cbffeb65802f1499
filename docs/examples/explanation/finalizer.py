"""A dropped async generator is closed by the event loop's finalizer: a few loop turns later,
later still when it is in a reference cycle, and at the latest when `asyncio.run` ends."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator


async def stream(log: list[str]) -> AsyncIterator[str]:
    try:
        yield "Hel"
        yield "lo"
    finally:
        log.append("closed")


async def turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


# --8<-- [start:dropped]
async def drop_it() -> None:
    log: list[str] = []

    async def consume() -> None:
        async for _ in stream(log):
            break  # no aclosing

    await consume()  # its frame is gone, and with it the last reference to the generator
    assert log == []  # the finalizer has only scheduled aclose() as a task
    await turns()
    assert log == ["closed"]


# --8<-- [end:dropped]


# --8<-- [start:cycle]
async def drop_it_in_a_cycle() -> None:
    log: list[str] = []
    holder: dict[str, object] = {}
    holder["self"] = holder  # a reference cycle
    holder["stream"] = events = stream(log)
    await anext(events)
    del holder, events
    await turns()
    assert log == []  # unreachable, but only the cycle collector can tell
    gc.collect()
    await turns()
    assert log == ["closed"]


# --8<-- [end:cycle]


# --8<-- [start:shutdown]
def left_alive() -> None:
    log: list[str] = []
    kept: list[AsyncIterator[str]] = []

    async def start_one() -> None:
        events = stream(log)
        await anext(events)
        kept.append(events)  # still referenced when the loop ends

    asyncio.run(start_one())
    assert log == ["closed"]  # asyncio.run closed it on the way out


# --8<-- [end:shutdown]


def main() -> None:
    asyncio.run(drop_it())
    gc.disable()  # so that the cycle collector runs only when the example says
    try:
        asyncio.run(drop_it_in_a_cycle())
    finally:
        gc.enable()
    left_alive()


if __name__ == "__main__":
    main()
