"""Time to first token: script the delays, then check what your code measures against them."""

from __future__ import annotations

import time

from openai import OpenAI

from sparring import FakeServer, Scenario, Timing, reply


def first_token_latency(client: OpenAI) -> float:
    """The code under test: seconds from the request to the first piece of text."""
    started = time.monotonic()
    with client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello?"}], stream=True
    ) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                return time.monotonic() - started
    raise AssertionError("no text arrived")


def main() -> None:
    timing = Timing(headers_delay=0.1, first_chunk=0.3, gap=0.05)
    with (
        FakeServer(Scenario.of(reply("Hello there.", timing=timing))) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test") as client,
    ):
        measured = first_token_latency(client)
        (entry,) = server.journal()

    # The role chunk goes out after headers_delay + first_chunk; the first text one gap later.
    scripted = 0.1 + 0.3 + 0.05
    # The journal times each write from the request's arrival: chunk 0 is the role chunk,
    # chunk 1 the first text. The client measures from before the request left, so its figure
    # is never below the server's.
    assert entry.chunks[1].at >= scripted
    assert measured >= entry.chunks[1].at


if __name__ == "__main__":
    main()
