"""Faults on a whole (non-streamed) answer: the JSON body is cut, stalled or corrupted at a byte."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from openai import OpenAI

from sparring import FakeServer, Fault, Scenario, reply

QUESTION = [{"role": "user", "content": "Hello?"}]


async def read_whole(base_url: str) -> bytes:
    """A raw client (here aiohttp) asking for a whole answer."""
    body = {"model": "gpt-4o", "messages": QUESTION}
    async with aiohttp.ClientSession() as http, http.post(f"{base_url}/chat/completions", json=body) as response:
        return await response.read()


def main() -> None:
    # A cut body is read inside the request, so the SDK sees a connection error and retries it.
    scenario = Scenario.of(reply("Hello!", fault=Fault("close", after_byte=20)), reply("Hello again!"))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1) as client:
        answer = client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        journal = server.journal()
    assert answer.choices[0].message.content == "Hello again!"
    assert [(entry.outcome, entry.fault) for entry in journal] == [
        ("fault", "close after byte 20"),
        ("completed", None),
    ]
    assert journal[0].bytes_sent == 20

    # The body says how long it is (Content-Length), so a raw client knows it is short.
    scenario = Scenario.of(reply("Hello!", fault=Fault("truncate")))
    with FakeServer(scenario) as server:
        try:
            asyncio.run(read_whole(server.base_url))
        except aiohttp.ClientPayloadError as exc:
            short = exc
        else:
            raise AssertionError("expected a short body")
        (entry,) = server.journal()
    assert "Not enough data to satisfy content length header" in str(short)
    assert entry.fault == f"truncate after byte {entry.bytes_sent}"  # no position: halfway through the body

    # `malformed_chunk`: a complete response whose body is the first half of the JSON. Not retried.
    scenario = Scenario.of(reply("Hello!", fault="malformed_chunk"), reply("never sent"))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client:
        try:
            client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        except json.JSONDecodeError:
            pass
        else:
            raise AssertionError("expected half a JSON body")
        (entry,) = server.journal()
    assert (entry.outcome, entry.fault) == ("completed", "malformed_chunk: the JSON body cut in half")

    # `error_event` and `no_done` belong to streams: a whole answer is sent as if there were no fault.
    scenario = Scenario.of(reply("Hello!", fault="error_event"), reply("Hello!", fault="no_done"))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        for _ in range(2):
            assert (
                client.chat.completions.create(model="gpt-4o", messages=QUESTION).choices[0].message.content == "Hello!"
            )
        assert [(entry.outcome, entry.fault) for entry in server.journal()] == [("completed", None)] * 2

    # A fault before the headers hits a whole answer as it hits a stream: no response at all.
    scenario = Scenario.of(reply("Hello!", fault="empty_response"), reply("Hello at last!"))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=QUESTION).choices[0].message.content == (
            "Hello at last!"
        )
        assert [entry.status for entry in server.journal()] == [None, 200]


if __name__ == "__main__":
    main()
