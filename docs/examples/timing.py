"""Timing: a delay before the headers, before the first chunk, and between chunks.

A request without `stream: true` gets the whole answer at once, after as long as the stream
would have taken.
"""

from __future__ import annotations

import time

from openai import OpenAI

from sparring import FakeServer, Scenario, Timing, reply

QUESTION = [{"role": "user", "content": "Count to three."}]


def main() -> None:
    timing = Timing(headers_delay=0.1, first_chunk=0.2, gap=0.05)
    scenario = Scenario.of(reply("One two three.", timing=timing, times=2))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        start = time.monotonic()
        with client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True) as stream:
            headers_at = time.monotonic() - start  # create() returns once the headers are in
            arrivals = [time.monotonic() - start for _chunk in stream]

        start = time.monotonic()
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        whole_at = time.monotonic() - start

    # Chunks: role, "One", " two", " three.", then the finish chunk, each paced; [DONE] is not a chunk.
    assert len(arrivals) == 5
    assert headers_at >= 0.1
    assert arrivals[0] >= 0.1 + 0.2  # the role chunk, first_chunk after the headers
    assert arrivals[-1] >= 0.1 + 0.2 + 4 * 0.05  # four gaps later
    assert whole_at >= 0.1 + 0.2 + 4 * 0.05  # the same wait, then one JSON body


if __name__ == "__main__":
    main()
