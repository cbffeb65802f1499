"""The scenario model on its own: its checks, `Scenario.of` and `+`, and the builders.

A builder call and a hand-built dataclass must be the same object, and every invalid value
must fail at construction with a `ScenarioError` that names the field's path.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sparring import (
    Answer,
    Content,
    ErrorReply,
    FakerText,
    Fault,
    Match,
    Message,
    Rule,
    Scenario,
    ScenarioError,
    Split,
    Timing,
    ToolCall,
    Usage,
    Wire,
    error,
    message,
    reply,
    rule,
    tool_call,
)


def _problem(make: Callable[[], object]) -> tuple[str, str, str | None]:
    with pytest.raises(ScenarioError) as info:
        make()
    assert len(info.value.problems) == 1, info.value
    problem = info.value.problems[0]
    return problem.path, problem.message, problem.suggestion


# (what is built, expected path, expected words in the message, expected suggestion or None to skip)
MODEL_MISTAKES = [
    pytest.param(lambda: Timing(gap=-1), "timing.gap", [">= 0", "-1"], None, id="negative-gap"),
    pytest.param(lambda: Timing(first_chunk=-0.5), "timing.first_chunk", [">= 0"], None, id="negative-first-chunk"),
    pytest.param(lambda: Timing(headers_delay=-2), "timing.headers_delay", [">= 0"], None, id="negative-headers-delay"),
    pytest.param(lambda: Split("wrod"), "split", ["'wrod'", "word", "char", "token"], "word", id="split-mode-typo"),
    pytest.param(lambda: reply("hi", split="chr"), "split", ["'chr'"], "char", id="split-typo-via-builder"),
    pytest.param(lambda: Split("size", size=0), "split", [">= 1"], None, id="split-size-zero"),
    pytest.param(
        lambda: Message(text="hello", refusal="No."), "refusal", ["cannot be combined"], None, id="refusal-and-text"
    ),
    pytest.param(
        lambda: Message(refusal="No.", tool_calls=(ToolCall("f"),)),
        "refusal",
        ["cannot be combined"],
        None,
        id="refusal-and-tool-calls",
    ),
    pytest.param(
        lambda: Message(text="hi", finish_reason="done"),
        "finish_reason",
        ["'done'", "stop", "length", "tool_calls", "content_filter"],
        None,
        id="unknown-finish-reason",
    ),
    pytest.param(
        lambda: ErrorReply(preset="rate_limt"), "error", ["'rate_limt'", "server_error"], "rate_limit", id="preset-typo"
    ),
    pytest.param(lambda: error("overloded"), "error", ["'overloded'"], "overloaded", id="preset-typo-via-builder"),
    pytest.param(lambda: ErrorReply(), "error", ["preset", "status"], None, id="error-without-preset-or-status"),
    pytest.param(lambda: ErrorReply(status=399), "status", ["400 to 599", "399"], None, id="status-399"),
    pytest.param(lambda: ErrorReply(status=600), "status", ["400 to 599", "600"], None, id="status-600"),
    pytest.param(lambda: error(200), "status", ["400 to 599", "200"], None, id="status-200-via-builder"),
    pytest.param(lambda: error("rate_limit", status=302), "status", ["400 to 599"], None, id="preset-with-bad-status"),
    pytest.param(lambda: Answer(times=0), "times", [">= 1", "0"], None, id="answer-times-0"),
    pytest.param(lambda: ErrorReply(status=500, times=-1), "times", [">= 1"], None, id="error-times-negative"),
    pytest.param(lambda: reply("hi", times=0), "times", [">= 1"], None, id="times-0-via-builder"),
    pytest.param(lambda: Rule(replies=()), "replies", ["at least one reply"], None, id="empty-rule"),
    pytest.param(lambda: rule(model="gpt-4o"), "replies", ["at least one reply"], None, id="empty-rule-via-builder"),
    pytest.param(
        lambda: Match(message_regex="(unclosed"),
        "match.message_regex",
        ["regular expression"],
        None,
        id="invalid-regex",
    ),
    pytest.param(lambda: ToolCall("f", "{bad json"), "arguments", ["not valid JSON"], None, id="tool-call-bad-json"),
    pytest.param(lambda: tool_call("f", "[1,"), "arguments", ["not valid JSON"], None, id="tool-call-bad-json-builder"),
    pytest.param(lambda: ToolCall(""), "name", ["non-empty name"], None, id="tool-call-empty-name"),
    pytest.param(lambda: Message(text=5), "text", ["must be a string", "5"], None, id="text-int"),  # type: ignore[arg-type]
    pytest.param(lambda: Message(text=["a"]), "text", ["must be a string"], None, id="text-list"),  # type: ignore[arg-type]
    pytest.param(lambda: Usage(prompt_tokens=-1), "usage.prompt_tokens", [">= 0"], None, id="usage-negative"),
    pytest.param(lambda: FakerText(seed="x"), "faker.seed", ["integer"], None, id="faker-seed-str"),  # type: ignore[arg-type]
    pytest.param(lambda: Fault("rest"), "fault.kind", ["'rest'"], "reset", id="fault-typo"),
    pytest.param(lambda: Wire(line_ending="crl"), "wire.line_ending", ["'crl'"], "crlf", id="line-ending-typo"),  # type: ignore[arg-type]
    pytest.param(lambda: Scenario(fallback="defualt"), "fallback", ["'defualt'"], None, id="fallback-typo"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("make", "path", "words", "suggestion"), MODEL_MISTAKES)
def test_model_rejects_invalid_values(
    make: Callable[[], object], path: str, words: list[str], suggestion: str | None
) -> None:
    """Each invalid value fails at construction with its path, a message naming the problem,
    and (for typos) the close valid value."""
    got_path, got_message, got_suggestion = _problem(make)
    assert got_path == path
    for word in words:
        assert word in got_message, f"{word!r} not in {got_message!r}"
    if suggestion is not None:
        assert got_suggestion == suggestion


def test_scenario_error_is_a_value_error_with_readable_text() -> None:
    """`ScenarioError` is catchable as ValueError and its text carries path, message and suggestion."""
    with pytest.raises(ValueError, match="rate_limt") as info:
        ErrorReply(preset="rate_limt")
    text = str(info.value)
    assert "<scenario>: error: unknown error preset 'rate_limt'" in text
    assert text.endswith("(did you mean 'rate_limit'?)")


# -- Scenario.of and + -------------------------------------------------------------------------

A = Answer(content=Content(messages=(Message(text="a"),)))
B = Answer(content=Content(messages=(Message(text="b"),)))
C = Answer(content=Content(messages=(Message(text="c"),)))
E = ErrorReply(preset="rate_limit")
MODEL_RULE = Rule(replies=(C,), match=Match(model="gpt-4o"))


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param((A,), (Rule(replies=(A,)),), id="one-reply"),
        pytest.param((E, A, B), (Rule(replies=(E, A, B)),), id="one-run"),
        pytest.param((MODEL_RULE,), (MODEL_RULE,), id="one-rule"),
        pytest.param(
            (A, B, MODEL_RULE, E),
            (Rule(replies=(A, B)), MODEL_RULE, Rule(replies=(E,))),
            id="run-rule-run",
        ),
        pytest.param(
            (MODEL_RULE, A, MODEL_RULE),
            (MODEL_RULE, Rule(replies=(A,)), MODEL_RULE),
            id="rule-run-rule",
        ),
        pytest.param((), (), id="nothing"),
    ],
)
def test_scenario_of_groups_bare_replies(items: tuple[object, ...], expected: tuple[Rule, ...]) -> None:
    """Runs of bare replies become match-anything rules in place; rules stay where they are."""
    scenario = Scenario.of(*items)  # type: ignore[arg-type]
    assert scenario.rules == expected
    assert scenario.fallback == "miss"
    for got in scenario.rules:
        if got is not MODEL_RULE:
            assert got.match == Match()


def test_scenario_of_passes_fallback_and_name() -> None:
    """`fallback` and `name` are set on the scenario `of` builds."""
    scenario = Scenario.of(A, fallback="default", name="mine")
    assert scenario == Scenario(rules=(Rule(replies=(A,)),), fallback="default", name="mine")


@pytest.mark.parametrize(
    ("left", "right", "fallback"),
    [
        ("miss", "miss", "miss"),
        ("default", "miss", "default"),
        ("miss", "default", "default"),
        ("default", "default", "default"),
    ],
)
def test_scenario_add_concatenates_rules(left: str, right: str, fallback: str) -> None:
    """`a + b` has a's rules then b's, keeps a's name and source, and generates answers if either does."""
    first = Scenario(rules=(Rule(replies=(A,)),), fallback=left, name="first", source="first.yaml")  # type: ignore[arg-type]
    second = Scenario(rules=(MODEL_RULE, Rule(replies=(B,))), fallback=right, name="second")  # type: ignore[arg-type]
    combined = first + second
    assert combined.rules == (Rule(replies=(A,)), MODEL_RULE, Rule(replies=(B,)))
    assert combined.fallback == fallback
    assert combined.name == "first"
    assert combined.source == "first.yaml"
    # the operands are unchanged (frozen data)
    assert first.rules == (Rule(replies=(A,)),)
    assert second.rules == (MODEL_RULE, Rule(replies=(B,)))


def test_empty_scenario_is_the_identity_of_add() -> None:
    """`Scenario() + s` has exactly s's rules (how the CLI combines several files)."""
    s = Scenario(rules=(MODEL_RULE,))
    assert (Scenario() + s).rules == s.rules
    assert (s + Scenario()).rules == s.rules


# -- builders equal hand-built dataclasses -------------------------------------------------------


def _answer(*messages: Message, **fields: object) -> Answer:
    return Answer(content=Content(messages=messages), **fields)  # type: ignore[arg-type]


BUILDER_CASES = [
    pytest.param(lambda: reply("Hi"), _answer(Message(text="Hi")), id="text"),
    pytest.param(lambda: reply(), _answer(Message()), id="empty"),
    pytest.param(
        lambda: reply("Hi there", split="char"), _answer(Message(text="Hi there", split=Split("char"))), id="char"
    ),
    pytest.param(
        lambda: reply("Hi there", split=3), _answer(Message(text="Hi there", split=Split("size", size=3))), id="size"
    ),
    pytest.param(
        lambda: reply(chunks=["Hel", "lo"]),
        _answer(Message(text="Hello", split=Split("list", pieces=("Hel", "lo")))),
        id="chunks",
    ),
    pytest.param(lambda: reply(faker=7), _answer(Message(text=FakerText(seed=7))), id="faker-seed"),
    pytest.param(
        lambda: reply(faker=FakerText(seed=7, sentences=2)),
        _answer(Message(text=FakerText(seed=7, sentences=2))),
        id="faker-spec",
    ),
    pytest.param(
        lambda: reply(refusal="No.", finish_reason="content_filter"),
        _answer(Message(refusal="No.", finish_reason="content_filter")),
        id="refusal",
    ),
    pytest.param(
        lambda: reply(tool_calls=[tool_call("get_weather", {"city": "Paris", "days": 2}, id="call_1")]),
        _answer(
            Message(
                tool_calls=(ToolCall("get_weather", '{"city":"Paris","days":2}', id="call_1", split=Split("token")),)
            )
        ),
        id="tool-call-mapping-arguments",
    ),
    pytest.param(
        lambda: reply(tool_calls=[tool_call("f", '{"a": 1}', split="char")]),
        _answer(Message(tool_calls=(ToolCall("f", '{"a": 1}', split=Split("char")),))),
        id="tool-call-string-arguments",
    ),
    pytest.param(
        lambda: reply(choices=[message("one"), message("two", split="token")]),
        _answer(Message(text="one"), Message(text="two", split=Split("token"))),
        id="choices",
    ),
    pytest.param(
        lambda: reply("x", usage={"prompt_tokens": 3}, model="gpt-x"),
        Answer(content=Content(messages=(Message(text="x"),), usage=Usage(prompt_tokens=3), model="gpt-x")),
        id="usage-and-model",
    ),
    pytest.param(
        lambda: reply("x", fault="reset", timing=Timing(gap=0.5), wire=Wire(write_size=1), headers={"x-a": "1"}),
        _answer(
            Message(text="x"),
            fault=Fault("reset"),
            timing=Timing(gap=0.5),
            wire=Wire(write_size=1),
            headers={"x-a": "1"},
        ),
        id="delivery",
    ),
    pytest.param(lambda: reply("x", times=3), _answer(Message(text="x"), times=3), id="times"),
    pytest.param(lambda: reply("x", repeat=True), _answer(Message(text="x"), repeat=True), id="repeat"),
    pytest.param(
        lambda: error("rate_limit", retry_after_ms=50, times=2),
        ErrorReply(preset="rate_limit", retry_after_ms=50, times=2),
        id="error-preset",
    ),
    pytest.param(
        lambda: error(418, message="teapot", headers={"x-b": "2"}, should_retry=True),
        ErrorReply(status=418, message="teapot", headers={"x-b": "2"}, should_retry=True),
        id="error-status",
    ),
    pytest.param(
        lambda: rule(reply("x"), model="gpt-4o", headers={"x-h": "v"}, tools=True, name="r"),
        Rule(
            replies=(_answer(Message(text="x")),),
            match=Match(model="gpt-4o", headers={"x-h": "v"}, tools=True),
            name="r",
        ),
        id="rule",
    ),
]


@pytest.mark.parametrize(("build", "expected"), BUILDER_CASES)
def test_builders_equal_hand_built_dataclasses(build: Callable[[], object], expected: object) -> None:
    """Each builder call produces exactly the dataclasses one would write by hand."""
    assert build() == expected


def test_error_status_versus_preset_with_status() -> None:
    """`error(503)` is a bare status with no preset; `error("rate_limit", status=503)` keeps the
    preset and overrides its status."""
    bare = error(503)
    preset = error("rate_limit", status=503)
    assert (bare.preset, bare.status) == (None, 503)
    assert (preset.preset, preset.status) == ("rate_limit", 503)
    assert bare != preset
    assert error("rate_limit").status is None  # the dialect supplies the preset's status


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: message("a", chunks=["a"]), id="text-and-chunks"),
        pytest.param(lambda: message("a", faker=1), id="text-and-faker"),
        pytest.param(lambda: reply("a", choices=[message("b")]), id="text-and-choices"),
    ],
)
def test_builders_reject_conflicting_content(build: Callable[[], object]) -> None:
    """Giving two sources of content for one message is an error, not a silent choice."""
    with pytest.raises(ScenarioError, match="give"):
        build()
