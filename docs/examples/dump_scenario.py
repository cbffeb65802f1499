"""A scenario built in Python, written out as a scenario file that loads back to an equal one."""

from __future__ import annotations

import dataclasses

from sparring import Fault, Scenario, Timing, dump_scenario, error, parse_scenario, reply, rule


def main() -> None:
    built = Scenario.of(
        rule(error("rate_limit", retry_after_ms=200), reply("Hello!", timing=Timing(gap=0.02)), model="gpt-4o"),
        reply(chunks=["Hel", "lo"], fault=Fault("reset", after_chunk=1)),
    )
    text = dump_scenario(built, fmt="yaml")
    print(text)
    loaded = parse_scenario(text)
    assert dataclasses.replace(loaded, source=None) == built  # only where it was read from differs


if __name__ == "__main__":
    main()
