"""Scenario files: YAML and JSON load into the same model the Python builders make, and
every mistake is reported with the file, the line, the dotted path and a "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparring import (
    FakerText,
    Fault,
    RateLimits,
    Rule,
    Scenario,
    ScenarioError,
    Timing,
    Usage,
    Wire,
    error,
    message,
    parse_scenario,
    reply,
    rule,
    tool_call,
)
from sparring.scenario.loader import load_file

RICH_YAML = r"""
name: rich
description: Everything at once.
fallback: default
replies:
  - error: 503
    message: busy
  - faker: 11
    split: word
rules:
  - name: limited
    match:
      model: gpt-4o
      message: weather
      headers: {x-team: blue}
      tools: true
    replies:
      - error: rate_limit
        retry_after_ms: 250
        retry_after: 1.5
        rate_limits: {limit_requests: 100, remaining_requests: 0}
        times: 2
      - text: "Hello, world!"
        split: char
        timing:
          first_chunk: 0.1
          gap: 0.02
          jitter: 0.005
          seed: 3
        headers:
          x-request-id: req-1
        repeat: true
  - match: {message_regex: '^hi\b', retry_count: 1}
    replies:
      - tool_calls:
          - name: get_weather
            arguments: {city: Paris, unit: celsius}
            id: call_abc
            split: 4
        usage: {prompt_tokens: 10, completion_tokens: 5}
      - choices:
          - text: first
          - faker: 7
          - faker: {seed: 8, sentences: 2}
            split: token
      - chunks: ["He", "llo"]
        wire: {write_size: [1, 3], line_ending: crlf}
        fault: {kind: reset, after_chunk: 2}
        times: 3
"""

RICH_JSON = r"""{
  "name": "rich",
  "description": "Everything at once.",
  "fallback": "default",
  "replies": [
    {"error": 503, "message": "busy"},
    {"faker": 11, "split": "word"}
  ],
  "rules": [
    {
      "name": "limited",
      "match": {"model": "gpt-4o", "message": "weather", "headers": {"x-team": "blue"}, "tools": true},
      "replies": [
        {"error": "rate_limit", "retry_after_ms": 250, "retry_after": 1.5,
         "rate_limits": {"limit_requests": 100, "remaining_requests": 0}, "times": 2},
        {"text": "Hello, world!", "split": "char",
         "timing": {"first_chunk": 0.1, "gap": 0.02, "jitter": 0.005, "seed": 3},
         "headers": {"x-request-id": "req-1"}, "repeat": true}
      ]
    },
    {
      "match": {"message_regex": "^hi\\b", "retry_count": 1},
      "replies": [
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"},
                         "id": "call_abc", "split": 4}],
         "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
        {"choices": [{"text": "first"}, {"faker": 7}, {"faker": {"seed": 8, "sentences": 2}, "split": "token"}]},
        {"chunks": ["He", "llo"], "wire": {"write_size": [1, 3], "line_ending": "crlf"},
         "fault": {"kind": "reset", "after_chunk": 2}, "times": 3}
      ]
    }
  ]
}
"""


def rich_expected(source: str) -> Scenario:
    """The rich example, written with the Python builders."""
    return Scenario(
        rules=(
            Rule(replies=(error(503, message="busy"), reply(faker=11, split="word"))),
            rule(
                error(
                    "rate_limit",
                    retry_after_ms=250,
                    retry_after=1.5,
                    rate_limits=RateLimits(limit_requests=100, remaining_requests=0),
                    times=2,
                ),
                reply(
                    "Hello, world!",
                    split="char",
                    timing=Timing(first_chunk=0.1, gap=0.02, jitter=0.005, seed=3),
                    headers={"x-request-id": "req-1"},
                    repeat=True,
                ),
                name="limited",
                model="gpt-4o",
                message="weather",
                headers={"x-team": "blue"},
                tools=True,
            ),
            rule(
                reply(
                    tool_calls=[tool_call("get_weather", {"city": "Paris", "unit": "celsius"}, id="call_abc", split=4)],
                    usage=Usage(prompt_tokens=10, completion_tokens=5),
                ),
                reply(
                    choices=[
                        message("first"),
                        message(faker=7),
                        message(faker=FakerText(seed=8, sentences=2), split="token"),
                    ]
                ),
                reply(
                    chunks=["He", "llo"],
                    wire=Wire(write_size=(1, 3), line_ending="crlf"),
                    fault=Fault("reset", after_chunk=2),
                    times=3,
                ),
                message_regex=r"^hi\b",
                retry_count=1,
            ),
        ),
        fallback="default",
        name="rich",
        description="Everything at once.",
        source=source,
    )


@pytest.mark.parametrize(("filename", "text"), [("rich.yaml", RICH_YAML), ("rich.json", RICH_JSON)])
def test_file_equals_builders(tmp_path: Path, filename: str, text: str) -> None:
    """A rich YAML or JSON file loads into exactly the model the builders make for the same content."""
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    loaded = load_file(path)
    assert loaded == rich_expected(str(path))
    # spot checks that would catch a builder and the loader sharing the same mistake
    assert loaded.rules[2].replies[0].content.messages[0].tool_calls[0].arguments == '{"city":"Paris","unit":"celsius"}'
    assert loaded.rules[2].replies[2].wire.write_size == (1, 3)
    assert loaded.rules[1].replies[0].preset == "rate_limit"


def test_yaml_and_json_agree() -> None:
    """The same content in YAML and JSON is the same scenario."""
    assert parse_scenario(RICH_YAML, source="x") == parse_scenario(RICH_JSON, source="x")


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    """A file without `name:` is named after its file; `parse_scenario` takes the name it is given."""
    path = tmp_path / "my-scenario.yml"
    path.write_text("replies:\n  - text: hi\n", encoding="utf-8")
    assert load_file(path).name == "my-scenario"
    assert parse_scenario("replies: [{text: hi}]", name="given").name == "given"
    assert parse_scenario("name: inner\nreplies: [{text: hi}]", name="given").name == "inner"


def test_faker_seed_as_int_and_as_mapping() -> None:
    """`faker: 7` and `faker: {seed: 7}` are the same text spec; `sentences` is read from the mapping."""
    as_int = parse_scenario("replies: [{faker: 7}]")
    as_map = parse_scenario("replies: [{faker: {seed: 7}}]")
    assert as_int.rules == as_map.rules
    assert as_int.rules[0].replies[0].content.messages[0].text == FakerText(seed=7, sentences=3)
    longer = parse_scenario("replies: [{faker: {seed: 7, sentences: 5}}]")
    assert longer.rules[0].replies[0].content.messages[0].text == FakerText(seed=7, sentences=5)


# -- mistakes: (file name, text, expected substrings, expected line) ------------------------------

DID = "(did you mean "

MISTAKES = [
    pytest.param(
        "s.yaml",
        "rules:\n  - replies:\n      - text: a\n      - text: b\n        timing:\n          gap: -0.5\n",
        ["rules[0].replies[1].timing.gap: must be a number >= 0, got -0.5"],
        6,
        id="negative-gap-in-rule",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - txt: hi\n",
        ["replies[0].txt: unknown key 'txt' in a reply", DID + "'text'?)"],
        2,
        id="reply-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "name: x\nrepiles:\n  - text: hi\n",
        ["repiles: unknown key 'repiles'", DID + "'replies'?)"],
        2,
        id="top-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "rules:\n  - matc: {model: x}\n    replies: [{text: a}]\n",
        ["rules[0].matc: unknown key 'matc' in a rule", DID + "'match'?)"],
        2,
        id="rule-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "rules:\n  - match:\n      modle: gpt-4o\n    replies:\n      - text: a\n",
        ["rules[0].match.modle: unknown key 'modle' in match", DID + "'model'?)"],
        3,
        id="match-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    timing:\n      first_chunk: 0.1\n      gapp: 0.2\n",
        ["replies[0].timing.gapp: unknown key 'gapp'", DID + "'gap'?)"],
        5,
        id="timing-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - error: rate_limit\n    retry_afte_ms: 5\n",
        ["replies[0].retry_afte_ms: unknown key 'retry_afte_ms' in an error reply", DID + "'retry_after_ms'?)"],
        3,
        id="error-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    fault:\n      kind: stall\n      duraton: 1\n",
        ["replies[0].fault.duraton: unknown key 'duraton' in fault", DID + "'duration'?)"],
        5,
        id="fault-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - choices:\n      - text: a\n      - txet: b\n",
        ["replies[0].choices[1].txet: unknown key 'txet' in a choice", DID + "'text'?)"],
        4,
        id="choice-key-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: hi\n    split: wrod\n",
        ["replies[0].split:", "'wrod'", DID + "'word'?)"],
        3,
        id="split-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: ok\n  - error: rate_limt\n",
        ["replies[1].error: unknown error preset 'rate_limt'", DID + "'rate_limit'?)"],
        3,
        id="preset-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    fault: rest\n",
        ["replies[0].fault.kind: unknown fault 'rest'", DID + "'reset'?)"],
        3,
        id="fault-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    wire:\n      line_ending: crl\n",
        ["replies[0].wire.line_ending: unknown line ending 'crl'", DID + "'crlf'?)"],
        4,
        id="line-ending-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    timing:\n      distribution: unifrom\n",
        ["replies[0].timing.distribution: unknown distribution 'unifrom'", DID + "'uniform'?)"],
        4,
        id="distribution-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "rules:\n  - match:\n      endpoint: chta\n    replies: [{text: a}]\n",
        ["rules[0].match.endpoint: unknown endpoint 'chta'", DID + "'chat'?)"],
        3,
        id="endpoint-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    finish_reason: stopp\n",
        ["replies[0].finish_reason: unknown finish reason 'stopp'", DID + "'stop'?)"],
        3,
        id="finish-reason-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "fallback: defualt\nreplies: [{text: a}]\n",
        [": fallback: must be 'miss' or 'default', got 'defualt'", DID + "'default'?)"],
        1,
        id="fallback-value-typo",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - error: server_error\n    status: 200\n",
        ["replies[0].status: an error status must be an integer from 400 to 599, got 200"],
        3,
        id="status-200",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n  - error: 399\n",
        ["replies[1]", "from 400 to 599, got 399"],
        3,
        id="bare-status-399",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    times: 0\n",
        ["replies[0].times: must be an integer >= 1, got 0"],
        3,
        id="times-0",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n  - text: b\n    refusal: Not today.\n",
        ["replies[1].refusal: a refusal cannot be combined with text"],
        4,
        id="refusal-with-text",
    ),
    pytest.param(
        "s.yaml",
        "rules:\n  - match:\n      message_regex: '(open'\n    replies: [{text: a}]\n",
        ["rules[0].match.message_regex: is not a valid regular expression"],
        3,
        id="invalid-regex",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - tool_calls:\n      - name: f\n        arguments: '{bad'\n",
        ["replies[0].tool_calls[0].arguments: is not valid JSON"],
        4,
        id="tool-call-bad-json",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - tool_calls:\n      - arguments: {}\n",
        ["replies[0].tool_calls[0]: a tool call needs a `name`"],
        3,
        id="tool-call-no-name",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: 5\n",
        ["replies[0].text: must be a string, got 5"],
        2,
        id="text-not-a-string",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - chunks: [a, 1]\n",
        ["replies[0].chunks: every chunk must be a string"],
        2,
        id="chunk-not-a-string",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n  - faker:\n      seed: x\n",
        ["replies[1].faker.seed: must be an integer, got 'x'"],
        4,
        id="faker-seed-not-int",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    usage:\n      prompt_tokens: -1\n",
        ["replies[0].usage.prompt_tokens: must be an integer >= 0"],
        4,
        id="usage-negative",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    wire:\n      write_size: [1, 0]\n",
        ["replies[0].wire.write_size: must be an integer >= 1, got 0"],
        4,
        id="write-size-zero",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    timing: 5\n",
        ["replies[0].timing: timing must be a mapping, got int 5"],
        3,
        id="timing-not-mapping",
    ),
    pytest.param(
        "s.yaml",
        "name: x\nrules:\n  - match: {model: x}\n",
        ["rules[0]: a rule needs `replies`"],
        3,
        id="rule-without-replies",
    ),
    pytest.param("s.yaml", "name: x\nreplies: []\n", ["replies: needs at least one reply"], 2, id="no-replies"),
    pytest.param(
        "s.yaml",
        "name: x\ndescription: nothing\n",
        ["a scenario needs `replies` or `rules`"],
        1,
        id="neither-replies-nor-rules",
    ),
    pytest.param(
        "s.yaml",
        "replies:\n  - text: a\n    split: word\n    text: b\n",
        ["replies[0].text: key 'text' is given twice"],
        4,
        id="duplicate-key",
    ),
    pytest.param(
        "s.yaml",
        "name: one\nreplies: [{text: a}]\nname: two\n",
        ["name: key 'name' is given twice"],
        3,
        id="duplicate-top-key",
    ),
    pytest.param(
        "s.json",
        '{\n  "replies": [\n    {"text": "a"},\n    {"txt": "b"}\n  ]\n}\n',
        ["replies[1].txt: unknown key 'txt'", DID + "'text'?)"],
        4,
        id="json-key-typo",
    ),
    pytest.param(
        "s.json",
        '{\n  "replies": [\n    {"text": "a",\n     "timing": {\n       "gap": -2\n     }}\n  ]\n}\n',
        ["replies[0].timing.gap: must be a number >= 0, got -2"],
        5,
        id="json-negative-gap",
    ),
    pytest.param(
        "s.json",
        '{\n  "replies": [\n    {"text": "a",\n     "text": "b"}\n  ]\n}\n',
        ["replies[0].text: key 'text' is given twice"],
        4,
        id="json-duplicate-key",
    ),
    pytest.param(
        "s.json",
        '{\n  "rules": [\n    {"match": {"endpoint": "chat"},\n     "replies": [{"error": "overloded"}]}\n  ]\n}\n',
        ["rules[0].replies[0].error: unknown error preset 'overloded'", DID + "'overloaded'?)"],
        4,
        id="json-preset-typo",
    ),
]


@pytest.mark.parametrize(("filename", "text", "expected", "line"), MISTAKES)
def test_mistake_is_located(tmp_path: Path, filename: str, text: str, expected: list[str], line: int) -> None:
    """One mistake: exactly one problem, reported as `file:line: path: message (did you mean ...)`."""
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    problems = info.value.problems
    assert len(problems) == 1, str(info.value)
    problem = problems[0]
    shown = str(problem)
    assert problem.source == str(path)
    assert problem.line == line, shown
    assert shown.startswith(f"{path}:{line}: "), shown
    for piece in expected:
        assert piece in shown, f"{piece!r} not in {shown!r}"
    assert shown in str(info.value)  # the exception's own text carries it too


def _located(error: ScenarioError) -> list[tuple[int | None, str]]:
    return [(p.line, p.path) for p in error.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "replies:\n  - txt: a\n  - text: b\n    split: wrd\n  - text: c\n    timing: {gap: -1}\n",
            [(2, "replies[0].txt"), (4, "replies[1].split"), (6, "replies[2].timing.gap")],
            id="top-level-replies",
        ),
        pytest.param(
            "rules:\n  - replies:\n      - txt: a\n  - replies:\n      - text: b\n        split: wrd\n",
            [(3, "rules[0].replies[0].txt"), (6, "rules[1].replies[0].split")],
            id="across-rules",
        ),
        pytest.param(
            "replies:\n  - times: 0\n  - text: ok\nrules:\n  - replies:\n      - text: fine\n      - error: nope\n",
            [(2, "replies[0].times"), (7, "rules[0].replies[1].error")],
            id="replies-and-rules",
        ),
    ],
)
def test_several_mistakes_are_all_reported_once(text: str, expected: list[tuple[int, str]]) -> None:
    """Every broken reply in a file is reported, each exactly once, in file order."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="many.yaml")
    assert _located(info.value) == expected, str(info.value)
    assert f"({len(expected)} problems)" in str(info.value)


@pytest.mark.parametrize(
    ("filename", "text", "expected", "line"),
    [
        pytest.param("bad.yaml", "replies:\n  - text: a\n\tsplit: word\n", "invalid YAML", 3, id="yaml-tab"),
        pytest.param(
            "bad.yaml", "name: x\nreplies:\n  - text: a\n  bad: [1, 2]\n", "invalid YAML", 4, id="yaml-bad-indent"
        ),
        pytest.param(
            "bad.json",
            '{\n  "replies": [\n    {"text": "a"},\n    {"text": "b",}\n  ]\n}\n',
            "invalid JSON",
            4,
            id="json-trailing-comma",
        ),
        pytest.param(
            "bad.json",
            '{\n  "replies": [\n    {"text": "a"}\n  ]\n  "name": "x"\n}\n',
            "invalid JSON",
            5,
            id="json-no-comma",
        ),
    ],
)
def test_syntax_errors_report_a_line(tmp_path: Path, filename: str, text: str, expected: str, line: int) -> None:
    """Unparseable YAML or JSON is a ScenarioError naming the file and the line of the mistake."""
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    (problem,) = info.value.problems
    assert expected in problem.message
    assert problem.line == line
    assert str(problem).startswith(f"{path}:{line}: {expected}")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    """An empty file says so, and what a scenario needs."""
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    (problem,) = info.value.problems
    assert problem.source == str(path)
    assert "empty" in problem.message
    assert "replies" in problem.message


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- text: a\n- text: b\n", "a list"), ("hello\n", "str 'hello'"), ("42\n", "int 42"), ("[1, 2]", "a list")],
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    """A file whose top level is not a mapping says what it got, on line 1."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="top.yaml")
    (problem,) = info.value.problems
    assert problem.line == 1
    assert f"a scenario must be a mapping, got {kind}" in problem.message


def test_load_file_missing(tmp_path: Path) -> None:
    """A missing file is a ScenarioError naming the file, not an OSError."""
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    (problem,) = info.value.problems
    assert problem.source == str(path)
    assert "cannot read" in problem.message
    assert "No such file" in problem.message


def test_json_escaped_emoji_is_one_character_and_serves(tmp_path: Path) -> None:
    """`json.dumps` writes an emoji as a surrogate pair (`\\ud83c\\udf89`): it must load as the
    emoji, and stream through the SDK, not end in a 500 when the server encodes it."""
    import json

    from openai import OpenAI

    from sparring import FakeServer

    path = tmp_path / "emoji.json"
    path.write_text(json.dumps({"replies": [{"text": "Grüße 🎉", "wire": {"write_size": 1}}]}))
    assert "\\ud83c" in path.read_text()
    with (
        FakeServer(load_file(path)) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Grüße 🎉"


def test_lone_surrogate_is_a_located_error() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario('{"replies": [{"text": "ok"}, {"text": "bad \\ud83c"}]}', source="s.json")
    problem = caught.value.problems[0]
    assert (problem.path, problem.line, problem.source) == ("replies[1].text", 1, "s.json")
    assert "lone surrogate" in problem.message
