"""A minute of scripted waits through the openai SDK at speed 1000: the same events and
retries, the waits divided by 1000, and the wall time it took."""

from __future__ import annotations

import time
from pathlib import Path

from openai import OpenAI

from sparring import FakeServer, load_scenario

HERE = Path(__file__).parent


def main() -> None:
    scenario = load_scenario(HERE / "speed.yaml")  # speed: 1000
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        started = time.monotonic()
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "The capital of France?"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        wall = time.monotonic() - started
        first, second, answer = server.journal()
    assert text == "Paris is the capital of France"
    assert [e.status for e in (first, second, answer)] == [429, 429, 200]  # two retries, as at speed 1
    assert first.response_headers["retry-after"] == "0.02"  # the advice, divided too
    print(f"60 s of scripted waits took {wall:.2f} s")  # about 0.1 s; under 20 s on any machine
    assert wall < 20


if __name__ == "__main__":
    main()
