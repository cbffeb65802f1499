"""Regular expressions in `match` cannot freeze the server: together they get a time budget
per request (`REGEX_BUDGET`); past it the request gets a 500 in the API's shape naming the
rule and the pattern, the journal a `scenario_error`, and every other request is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from sparring import FakeServer, Scenario, ScenarioError, reply, rule
from sparring.cli import main
from sparring.scenario.loader import parse_scenario
from sparring.scenario.match import MAX_PATTERN, REGEX_BUDGET, Match

DOCS = Path(__file__).resolve().parents[1] / "docs" / "scenario-files.md"
# Exponential backtracking: (a|aa)+ splits a run of n a's in fib(n) ways before the `b` fails
# them all. With `re`, 40 a's take minutes; `regex` gives up at the budget.
CATASTROPHIC = r"^(a|aa)+$"
SLOW_TEXT = "a" * 40 + "b"


def _chat(server: FakeServer, text: str, **extra: Any) -> Any:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}], **extra)


@pytest.mark.parametrize("stream", [False, True])
def test_a_catastrophic_message_regex_is_a_scenario_error(server: FakeServer, stream: bool) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("never", repeat=True), message_regex=CATASTROPHIC),
            rule(reply("served", repeat=True)),
        )
    )
    with pytest.raises(openai.InternalServerError) as caught:
        _chat(server, SLOW_TEXT, stream=stream)
    error = caught.value
    assert error.response.headers["x-should-retry"] == "false"
    assert error.code == "sparring_scenario_error"
    assert isinstance(error.body, dict)
    message = error.body["message"]
    assert f"rule 1 match.message_regex {CATASTROPHIC!r}" in message, message
    assert f"{REGEX_BUDGET:g} s" in message
    assert f"```text\n{message}\n```" in DOCS.read_text(encoding="utf-8"), "the docs show another message"
    # the server goes on: a message the pattern decides at once falls through to rule 2
    answer = _chat(server, "hello")
    assert answer.choices[0].message.content == "served"
    first, second = server.journal()
    assert (first.outcome, first.status) == ("scenario_error", 500)
    assert first.detail == message
    assert first.answered_by == "nothing: rule 1 failed"
    assert (second.outcome, second.answered_by) == ("completed", "rule 2, reply 1: text 'served'")


def test_the_budget_is_shared_by_every_rule_of_a_request(server: FakeServer) -> None:
    """Many slow rules cost one budget, not one each: the second slow rule is never searched
    past what the first left, and the error names the rule that was running out of time."""
    rules = [rule(reply(f"rule {i}"), message_regex=rf"^(a|aa)+{i}$") for i in range(50)]
    server.set_scenario(Scenario.of(*rules))
    with pytest.raises(openai.InternalServerError) as caught:
        _chat(server, SLOW_TEXT)
    assert "match.message_regex '^(a|aa)+0$'" in str(caught.value.message)
    assert [e.outcome for e in server.journal()] == ["scenario_error"]


def test_system_and_tool_result_regexes_have_the_budget_too(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("sys"), system_regex=CATASTROPHIC),
            rule(reply("tool"), tool_result_regex=CATASTROPHIC),
        )
    )
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        sys_prompt = [{"role": "system", "content": SLOW_TEXT}, {"role": "user", "content": "hi"}]
        first = client.post("/chat/completions", json={"model": "gpt-4o", "messages": sys_prompt})
        tool_turn = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": SLOW_TEXT},
        ]
        second = client.post("/chat/completions", json={"model": "gpt-4o", "messages": tool_turn})
    assert first.status_code == second.status_code == 500
    assert "rule 1 match.system_regex" in first.json()["error"]["message"]
    assert "rule 2 match.tool_result_regex" in second.json()["error"]["message"]


def test_the_anthropic_api_gets_its_own_error_shape(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(rule(reply("never"), message_regex=CATASTROPHIC)))
    with (
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as client,
        pytest.raises(anthropic.InternalServerError) as caught,
    ):
        client.messages.create(
            model="claude-sparring-1", max_tokens=50, messages=[{"role": "user", "content": SLOW_TEXT}]
        )
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert "match.message_regex" in body["error"]["message"]


@pytest.mark.sparring(strict=False)
def test_strict_teardown_names_the_rule(fake_llm: Any) -> None:
    fake_llm.add(rule(reply("never", optional=True), message_regex=CATASTROPHIC))
    with pytest.raises(openai.InternalServerError):
        fake_llm.openai(max_retries=0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": SLOW_TEXT}]
        )
    problems = fake_llm.problems()
    assert problems is not None
    assert problems.startswith("sparring: 1 request met a rule that could not be matched.\n"), problems
    assert "Rules that could not be matched (the client got a 500):" in problems
    assert f"rule 1 match.message_regex {CATASTROPHIC!r}" in problems


def test_a_pattern_longer_than_the_limit_is_a_located_error() -> None:
    text = f"rules:\n  - match:\n      message_regex: {'a' * (MAX_PATTERN + 1)}\n    replies: [{{text: hi}}]\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="long.yaml")
    (problem,) = caught.value.problems
    assert (problem.source, problem.line, problem.path) == ("long.yaml", 3, "rules[0].match.message_regex")
    assert f"the limit is {MAX_PATTERN:,}" in problem.message
    with pytest.raises(ScenarioError, match="the limit is"):
        Match(system_regex="b" * (MAX_PATTERN + 1))


@pytest.mark.parametrize("pattern", ["(unclosed", "a{2,1}", "*x", "[z-a]"])
def test_validate_catches_a_bad_pattern(tmp_path: Any, capsys: pytest.CaptureFixture[str], pattern: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"rules:\n  - match: {{tool_result_regex: {pattern!r}}}\n    replies: [{{text: hi}}]\n")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2: rules[0].match.tool_result_regex: is not a valid regular expression" in out, out


BLOW_UPS = ["((a{1000}){1000}){1000}", "(a{300}){300}", "x{10001}", "[0-9]{1,200}-[a-z]{0,100}"]


@pytest.mark.parametrize("pattern", BLOW_UPS)
def test_counted_repeats_that_would_blow_up_compiling_are_refused(pattern: str) -> None:
    """`regex` unrolls counted repeats: the first pattern would take every byte of memory."""
    with pytest.raises(ScenarioError, match=r"multiplied together come to more than 10,000, the limit") as caught:
        parse_scenario(f"rules:\n  - match: {{message_regex: '{pattern}'}}\n    replies: [{{text: hi}}]\n")
    assert caught.value.problems[0].line == 2


def test_real_patterns_are_within_the_limits() -> None:
    for pattern in (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", r"(?i)^(hi|hello)\b", r"[a-f0-9]{32}", r"\p{L}{2,64}", r"\{x\}"):
        assert Match(message_regex=pattern).message_regex == pattern
