"""Files and builders say the same things: `anatomy.yaml`, written with the Python builders."""

from __future__ import annotations

from pathlib import Path

from sparring import Scenario, error, load_scenario, reply, rule, tool_call


def build() -> Scenario:
    return Scenario.of(
        rule(
            reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})]),
            name="weather",
            message="weather",
            tools=True,
        ),
        rule(
            error("rate_limit", retry_after_ms=100),
            reply("Hello! Ask me about the weather.", repeat=True),
            name="everything else",
        ),
        fallback="miss",
        name="weather-bot",
    )


def main() -> None:
    from_file = load_scenario(Path(__file__).with_name("anatomy.yaml"))
    from_python = build()
    assert from_python.rules == from_file.rules
    assert (from_python.name, from_python.fallback) == (from_file.name, from_file.fallback)


if __name__ == "__main__":
    main()
