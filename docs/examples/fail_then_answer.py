"""Fail twice, then answer: `fail_then_answer.yaml` with the builders, played through the SDK."""

from __future__ import annotations

from pathlib import Path

from openai import OpenAI

from sparring import FakeServer, Scenario, error, load_scenario, reply


def build() -> Scenario:
    return Scenario.of(
        error("unavailable", retry_after_ms=50),
        reply(fault="reset"),
        reply("Third time lucky."),
        reply("Only if the client asks a fourth time.", optional=True),
        name="fail-then-answer",
    )


def main() -> None:
    assert build().rules == load_scenario(Path(__file__).with_name("fail_then_answer.yaml")).rules

    with FakeServer(build()) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        journal = server.journal()

    assert answer.choices[0].message.content == "Third time lucky."
    # One request per attempt; the SDK numbers them in x-stainless-retry-count.
    assert [(entry.retry_count, entry.status, entry.outcome) for entry in journal] == [
        (0, 503, "completed"),
        (1, None, "fault"),  # the reset: no status was ever sent
        (2, 200, "completed"),
    ]
    assert journal[1].arrived - journal[0].arrived >= 0.05


if __name__ == "__main__":
    main()
