"""Torn frames: the bytes go out in pieces of the scripted sizes, and the client still gets the text."""

from __future__ import annotations

import asyncio

import aiohttp
from openai import OpenAI

from sparring import FakeServer, Scenario, Wire, reply

TEXT = "Grüße aus Köln 🎉"  # ü, ß and ö are 2 bytes in UTF-8, 🎉 is 4
MESSAGES = [{"role": "user", "content": "Hi"}]
REQUEST = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}


async def raw_body(base_url: str) -> bytes:
    """The body as the server sent it, with any HTTP client (here aiohttp)."""
    async with aiohttp.ClientSession() as http, http.post(f"{base_url}/chat/completions", json=REQUEST) as response:
        return await response.read()


def main() -> None:
    one_byte = Wire(write_size=1, line_ending="crlf")
    with FakeServer(Scenario.of(reply(TEXT, wire=one_byte, times=2))) as server:
        # The SDK reassembles every character and every CRLF.
        with OpenAI(base_url=server.base_url, api_key="sk-test") as client:
            stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == TEXT

        # The raw body: CRLF line endings, and one write per byte in the journal.
        body = asyncio.run(raw_body(server.base_url))
        entry = server.journal()[1]
    assert body.endswith(b"data: [DONE]\r\n\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert len(entry.chunks) == len(body)
    assert {chunk.nbytes for chunk in entry.chunks} == {1}

    # A list of sizes is cycled. A write never holds bytes of two groups of events, so with all
    # the events in one group, the sizes repeat exactly: 1, 7, 3, 1, 7, 3, ...
    cycled = Wire(write_size=(1, 7, 3), events_per_write=100)
    with FakeServer(Scenario.of(reply(TEXT, wire=cycled))) as server:
        asyncio.run(raw_body(server.base_url))
        (entry,) = server.journal()
    sizes = [chunk.nbytes for chunk in entry.chunks]
    assert sizes[:6] == [1, 7, 3, 1, 7, 3]
    assert sizes[:-1] == [(1, 7, 3)[i % 3] for i in range(len(sizes) - 1)]  # only the last is shorter

    # `events_per_write` joins events: 8 events (role, 5 words, finish, [DONE]) in writes of 3.
    joined = Wire(events_per_write=3)
    with FakeServer(Scenario.of(reply("a b c d e", wire=joined))) as server:
        asyncio.run(raw_body(server.base_url))
        (entry,) = server.journal()
    assert len(entry.chunks) == 3


if __name__ == "__main__":
    main()
