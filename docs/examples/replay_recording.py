"""Replaying a recording: the same bytes, in the same reads, at the recorded pace; then the
same recording four times faster, and broken on purpose after its second event."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from openai import OpenAI

from sparring import FakeServer, Fault, Recorded, Scenario, load_scenario

HERE = Path(__file__).parent
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def ask(server: FakeServer) -> str:
    with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        stream = client.chat.completions.create(model="gpt-4.1-nano", messages=QUESTION, stream=True)
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def main() -> None:
    scenario = load_scenario(HERE / "recorded.yaml")
    with FakeServer(scenario) as server:
        assert ask(server) == "Paris is the capital."
        (entry,) = server.journal()
    # Four writes, as the four reads were recorded: two events together, then the third event
    # torn at byte 225 (its rest came with the finish chunk), then [DONE].
    assert [chunk.nbytes for chunk in entry.chunks] == [482, 225, 239, 14]
    assert entry.chunks[0].at >= 0.301  # never before its recorded time
    assert entry.answered_by == "rule 1, reply 1: recording of chat (5 events)"

    # The same recording four times faster, then cut after its second event.
    (recording,) = scenario.rules[0].replies
    assert isinstance(recording, Recorded)
    fast = dataclasses.replace(recording, speed=4)
    broken = dataclasses.replace(recording, fault=Fault("close", after_chunk=2))
    with FakeServer(Scenario.of(fast, broken)) as server:
        assert ask(server) == "Paris is the capital."
        try:
            ask(server)
        except Exception as error:  # the SDK's own error for a body cut short, per version
            print(f"cut after 2 events: {type(error).__name__}")
        fast_entry, broken_entry = server.journal()
    assert fast_entry.chunks[0].at >= 0.301 / 4
    assert (broken_entry.outcome, broken_entry.events_sent) == ("fault", 2)


if __name__ == "__main__":
    main()
