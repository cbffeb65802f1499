"""`dump_scenario`: the model back to scenario-file text, which loads to an equal model.

This is how scenarios scripted in Python reach an external server, so every part of the
vocabulary must survive: load → dump → load (the library) and build → dump → load (builders).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from sparring.scenario.builders import error, message, reply, rule, tool_call
from sparring.scenario.delivery import Fault, RateLimits, Timing, Wire
from sparring.scenario.dump import NotPortableError, dump_scenario, scenario_data
from sparring.scenario.library import builtin_names, load_scenario
from sparring.scenario.loader import parse_scenario
from sparring.scenario.model import Answer, Content, FakerText, Message, Rule, Scenario, Split, Usage

FORMATS = ("json", "yaml")


def round_trip(scenario: Scenario, fmt: str) -> Scenario:
    """Load what `dump_scenario` wrote; the source is the only field a file does not carry."""
    text = dump_scenario(scenario, fmt=fmt)  # type: ignore[arg-type]
    return dataclasses.replace(parse_scenario(text, source="<dumped>"), source=scenario.source)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", builtin_names())
def test_every_library_scenario_survives_load_dump_load(name: str, fmt: str) -> None:
    loaded = load_scenario(name)
    assert round_trip(loaded, fmt) == loaded


BUILT = Scenario.of(
    reply("Hello, world!", split="char", model="gpt-4o-mini", usage={"prompt_tokens": 3, "completion_tokens": 4}),
    reply(chunks=["Hel", "lo", " ✓"], timing=Timing(first_chunk=0.2, gap=0.01, jitter=0.005, seed=7)),
    reply(faker=FakerText(seed=42, sentences=5), split=7, times=2),
    reply(faker=3, split="token", repeat=True),
    reply(
        "cut",
        fault=Fault("reset", after_chunk=2),
        wire=Wire(write_size=[1, 7, 3], events_per_write=2, line_ending="crlf"),
        headers={"x-extra": "1"},
        optional=True,
    ),
    reply("stalled", fault=Fault("stall", after_byte=40, duration=0.5)),
    reply("in band", fault=Fault("error_event", after_chunk=1, error="overloaded", message="busy")),
    reply("garbage", fault=Fault("garbage", after_chunk=1, size=16, seed=3)),
    reply("hang", fault="hang"),
    reply("no done", fault="no_done", timing=Timing(keepalive=0.1, distribution="lognormal", sigma=0.3, gap=0.02)),
    reply(
        tool_calls=[
            tool_call("get_weather", {"city": "Paris", "unit": "°C"}, id="call_1"),
            tool_call("lookup", '{"q": "x"}', split=4),
        ],
        finish_reason="tool_calls",
    ),
    reply(refusal="I can't help with that."),
    reply(choices=[message("first"), message(faker=9), message(tool_calls=[tool_call("f")], split="char")]),
    reply("limits", rate_limits=RateLimits(limit_requests=60, remaining_requests=0, reset_requests=1.5)),
    reply("empty limits", rate_limits=RateLimits()),
    rule(
        error("rate_limit", retry_after_ms=50, retry_after=1, times=2),
        error("rate_limit", retry_after=3, retry_after_format="date", should_retry=True),
        error(503, message="down", type="server_error", code="x", param="p", headers={"x-h": "v"}),
        error("server_error", status=502, body={"error": {"message": "custom"}}, timing=Timing(headers_delay=0.1)),
        error("bad_request", body="plain text body", rate_limits=RateLimits(limit_tokens=10)),
        name="errors",
        model="gpt-4o",
        message="retry me",
        headers={"x-team": "a"},
        tools=False,
        stream=True,
        retry_count=1,
    ),
    rule(reply("regex"), endpoint="responses", message_regex=r"^hi\b", path="/v1/responses"),
    rule(
        reply("conversation"),
        body={"temperature": 0, "response_format": {"type": "json_object"}, "tools.0.function.name": "get"},
        system="helpful",
        system_regex="^You",
        message_count=3,
        last_role="tool",
        tool_call_id="call_1",
        tool_name="get",
        tool_result="42",
        tool_result_regex="4.",
    ),
    fallback="default",
    name="built",
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_builder_made_scenarios_survive_dump_load(fmt: str) -> None:
    assert round_trip(BUILT, fmt) == BUILT


def test_a_described_scenario_keeps_its_name_and_description() -> None:
    scenario = dataclasses.replace(Scenario.of(reply("x")), name="n", description="what it is for")
    assert round_trip(scenario, "yaml") == scenario


def test_json_is_what_the_loader_reads_and_says_only_what_differs_from_defaults() -> None:
    data = json.loads(dump_scenario(Scenario.of(reply("Hi"))))
    assert data == {"fallback": "miss", "rules": [{"replies": [{"text": "Hi"}]}]}
    assert scenario_data(Scenario.of(error("rate_limit")))["rules"][0]["replies"] == [{"error": "rate_limit"}]


def test_a_callable_in_a_reply_gets_an_error_naming_where_and_why() -> None:
    def answer_from_request(request: object) -> object:
        return request

    scenario = Scenario(rules=(Rule(replies=(reply("ok"), answer_from_request)),))  # type: ignore[arg-type]
    with pytest.raises(NotPortableError) as caught:
        dump_scenario(scenario)
    message = str(caught.value)
    assert "rule 1, reply 2" in message
    assert "answer_from_request" in message
    assert "external sparring server" in message


def test_text_that_is_not_its_chunks_cannot_be_written() -> None:
    odd = Answer(content=Content(messages=(Message(text="abc", split=Split("list", pieces=("x",))),)))
    with pytest.raises(NotPortableError, match="not the join of its chunks"):
        dump_scenario(Scenario.of(odd))


def test_usage_and_model_travel() -> None:
    scenario = Scenario.of(reply("x", usage=Usage(completion_tokens=9), model="m"))
    assert round_trip(scenario, "json") == scenario
