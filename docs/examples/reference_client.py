"""The reference client, `sparring.client.LLMClient`, against the fake server: it waits out a
rate limit, streams an answer, assembles a tool call, and never retries once it has yielded."""

from __future__ import annotations

import asyncio

from sparring import FakeServer, Fault, Scenario, error, reply, tool_call
from sparring.client import EventType, LLMClient, StreamEvent

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


# --8<-- [start:ask]
async def ask(base_url: str) -> list[StreamEvent]:
    async with LLMClient(base_url=base_url, api_key="sk-test", model="gpt-4o") as client:
        return [event async for event in client.chat_completion(QUESTION)]


# --8<-- [end:ask]


def main() -> None:
    # --8<-- [start:retry]
    scenario = Scenario.of(error("rate_limit", retry_after_ms=50), reply("Paris."))
    with FakeServer(scenario) as server:
        events = asyncio.run(ask(server.base_url))
        journal = server.journal()
    assert [e.type for e in events] == [EventType.TEXT_DELTA, EventType.MESSAGE_COMPLETE]
    assert events[0].text_delta is not None
    assert events[0].text_delta.content == "Paris."
    done = events[-1]
    assert (done.text, done.finish_reason) == ("Paris.", "stop")
    assert done.usage is not None
    assert [(e.status, e.retry_count) for e in journal] == [(429, 0), (200, 1)]
    # --8<-- [end:retry]

    # --8<-- [start:cut]
    cut = reply(chunks=["Paris ", "is ", "the ", "capital."], fault=Fault("reset", after_chunk=3))
    with FakeServer(Scenario.of(cut, reply("never sent", optional=True))) as server:
        events = asyncio.run(ask(server.base_url))
        journal = server.journal()
    assert [e.type for e in events] == [EventType.TEXT_DELTA, EventType.TEXT_DELTA, EventType.ERROR]
    assert events[-1].retryable is True  # a broken connection; but "Paris is " was already yielded
    assert len(journal) == 1  # so no retry
    # --8<-- [end:cut]

    # --8<-- [start:tools]
    weather = reply(tool_calls=[tool_call("get_weather", {"city": "Paris"}, id="call_1")])
    with FakeServer(Scenario.of(weather)) as server:
        events = asyncio.run(ask(server.base_url))
    kinds = [e.type for e in events]
    assert kinds[0] is EventType.TOOL_CALL_DELTA  # one per fragment of the arguments
    assert kinds[-2:] == [EventType.TOOL_CALL_COMPLETE, EventType.MESSAGE_COMPLETE]
    call = events[-2].tool_call
    assert call is not None
    assert (call.id, call.name, call.arguments) == ("call_1", "get_weather", {"city": "Paris"})
    assert events[-1].finish_reason == "tool_calls"
    # --8<-- [end:tools]


if __name__ == "__main__":
    main()
