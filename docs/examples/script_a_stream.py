"""`weather-stream.yaml`, the same stream in Python, and what a client reads from each reply."""

from __future__ import annotations

import time
from pathlib import Path

import openai
from openai import OpenAI

from sparring import FakeServer, Fault, Scenario, Timing, load_scenario, reply, rule

# A broken stream: openai 3.x raises APIConnectionError (APITimeoutError, its subclass, for a
# timeout); openai 2.x lets the exception of httpx, its HTTP library, through.
BROKEN_STREAM: tuple[type[Exception], ...] = (openai.APIConnectionError,)
if openai.__version__.startswith("2."):
    import httpx  # installed with openai 2.x

    BROKEN_STREAM += (httpx.TransportError,)

QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


# --8<-- [start:python]
def build() -> Scenario:
    return Scenario.of(
        rule(
            reply("Sunny, 24 degrees.", split="token", timing=Timing(first_chunk=0.3, gap=0.02)),
            reply("Sunny, 24 degrees.", split="token", fault=Fault("reset", after_chunk=3)),
            message="weather",
        ),
        name="weather-stream",
    )


# --8<-- [end:python]


def main() -> None:
    # --8<-- [start:same]
    from_file = load_scenario(Path(__file__).with_name("weather-stream.yaml"))
    assert from_file.rules == build().rules
    # --8<-- [end:same]

    # --8<-- [start:play]
    with FakeServer(from_file) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        start = time.monotonic()
        pieces = []
        for chunk in client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
        assert pieces == ["Sunny", ",", " 24", " degr", "ees", "."]  # split: token
        assert time.monotonic() - start >= 0.3 + 6 * 0.02  # first_chunk, then a gap before each piece

        cut = []
        try:
            for chunk in client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True):
                if chunk.choices and chunk.choices[0].delta.content:
                    cut.append(chunk.choices[0].delta.content)
        except BROKEN_STREAM:  # APIConnectionError; under openai 2.x, httpx.TransportError too
            pass
        assert cut == ["Sunny", ","]  # events 2 and 3; the role chunk is event 1
        assert [entry.outcome for entry in server.journal()] == ["completed", "fault"]
    # --8<-- [end:play]


if __name__ == "__main__":
    main()
