"""Where a fault strikes: after chunk k, after byte n, or halfway; read byte for byte with aiohttp."""

from __future__ import annotations

import asyncio

import aiohttp

from sparring import FakeServer, Fault, Scenario, reply

TEXT = "one two three four"  # 7 events: role, 4 words, finish, [DONE]
REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Count."}], "stream": True}


async def read_body(url: str) -> tuple[bytes, str | None]:
    """Every body byte that arrived, and the name of the error that ended the read, if any."""
    received = b""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=2)) as http,
            http.post(f"{url}/chat/completions", json=REQUEST) as response,
        ):
            async for piece in response.content.iter_any():
                received += piece
    except aiohttp.ClientError as exc:
        return received, type(exc).__name__
    return received, None


def read(server: FakeServer) -> tuple[bytes, str | None]:
    return asyncio.run(read_body(server.base_url))


def main() -> None:
    scenario = Scenario.of(
        reply(TEXT, fault=Fault("close", after_chunk=2)),
        reply(TEXT, fault=Fault("truncate", after_chunk=2)),
        reply(TEXT, fault=Fault("close", after_byte=100)),
        reply(TEXT, fault=Fault("close")),
    )
    with FakeServer(scenario) as server:
        # `close` after chunk 2: the role chunk and "one", whole; then a close without the
        # chunked terminator, which aiohttp reports.
        received, error = read(server)
        assert error == "ClientPayloadError"
        *events, rest = received.split(b"\n\n")
        assert (len(events), rest) == (2, b"")

        # `truncate` after chunk 2: the same two events, and half of the third.
        received, error = read(server)
        assert error == "ClientPayloadError"
        *events, torn = received.split(b"\n\n")
        assert len(events) == 2
        assert torn.startswith(b"data: {")

        # `after_byte` counts body bytes: exactly 100 arrive, inside the role chunk.
        received, error = read(server)
        assert (len(received), error) == (100, "ClientPayloadError")

        # No position: halfway through the events, rounded down. 7 // 2 = 3.
        received, error = read(server)
        assert received.count(b"\n\n") == 3

        journal = server.journal()

    assert [entry.fault for entry in journal] == [
        "close after chunk 2",
        "truncate after chunk 2",
        "close after byte 100",
        "close halfway",
    ]
    assert [entry.outcome for entry in journal] == ["fault"] * 4
    assert [entry.events_sent for entry in journal] == [2, 2, 0, 3]
    assert journal[2].bytes_sent == 100


if __name__ == "__main__":
    main()
