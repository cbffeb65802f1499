"""The scenario library in fixtures/: every file loads by name and by path, and plays through
the real `openai` SDK to what the file says. Expectations are read from the YAML with PyYAML,
not from sparring's model."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from openai import OpenAI

from sparring import FakeServer, ScenarioError, builtin_names, load_scenario
from sparring.scenario.loader import load_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAMES = [
    "generated-answer",
    "plain-stream",
    "rate-limited-then-ok",
    "refusal",
    "slow-first-token",
    "tool-call",
    "two-choices",
]
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def _doc(name: str) -> dict[str, Any]:
    data = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_fixture_files_are_the_expected_ones() -> None:
    """The library holds exactly these files (a new file must get a play-through test here)."""
    assert sorted(p.stem for p in FIXTURES.iterdir() if p.suffix in (".yaml", ".yml", ".json")) == NAMES


def test_builtin_names_lists_the_library() -> None:
    """`builtin_names()` lists every file in fixtures/, sorted, without suffix."""
    assert builtin_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_loads_by_name_and_by_path(name: str) -> None:
    """A library scenario loads by its name and by its path, to the same model with its own name."""
    path = FIXTURES / f"{name}.yaml"
    by_name = load_scenario(name)
    by_path = load_scenario(path)
    by_str_path = load_scenario(str(path))
    assert by_name == by_path == by_str_path == load_file(path)
    doc = _doc(name)
    assert by_name.name == doc["name"] == name
    assert by_name.description == doc["description"]
    assert sum(len(r.replies) for r in by_name.rules) == len(doc["replies"])


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("plain-stram", "plain-stream"), ("tool_call", "tool-call"), ("refusals", "refusal")],
)
def test_unknown_name_suggests_the_close_one(spec: str, suggestion: str) -> None:
    """An unknown name says it is neither a file nor a built-in, lists the built-ins, and suggests one."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(spec)
    (problem,) = info.value.problems
    assert problem.suggestion == suggestion
    assert f"(did you mean {suggestion!r}?)" in str(info.value)
    assert "no such file" in problem.message
    for name in NAMES:
        assert name in problem.message


def test_unknown_name_far_from_everything() -> None:
    """A name close to nothing gets no suggestion, but still the list of built-ins."""
    with pytest.raises(ScenarioError) as info:
        load_scenario("zzzzzzzz")
    (problem,) = info.value.problems
    assert problem.suggestion is None
    assert "plain-stream" in problem.message


# -- playing each fixture through the openai SDK ------------------------------------------------


@dataclass
class Played:
    text: dict[int, str] = field(default_factory=dict)
    refusal: dict[int, str] = field(default_factory=dict)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish: dict[int, str | None] = field(default_factory=dict)
    first_content_after: float | None = None  # seconds from the request to the first content


def play(server: FakeServer, name: str) -> Played:
    """Stream one request through the sync SDK and assemble what came back, per choice."""
    extra: dict[str, Any] = {}
    if name == "two-choices":
        extra["n"] = 2
    if name == "tool-call":
        extra["tools"] = TOOLS
    played = Played()
    with OpenAI(base_url=server.base_url, api_key="sk-library", max_retries=2) as client:
        start = time.monotonic()
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            stream=True,
            **extra,
        )
        with stream:
            for chunk in stream:
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        if played.first_content_after is None:
                            played.first_content_after = time.monotonic() - start
                        played.text[choice.index] = played.text.get(choice.index, "") + delta.content
                    if delta.refusal:
                        played.refusal[choice.index] = played.refusal.get(choice.index, "") + delta.refusal
                    for call in delta.tool_calls or []:
                        got = played.calls.setdefault(call.index, {"name": "", "arguments": ""})
                        if call.function and call.function.name:
                            got["name"] += call.function.name
                        if call.function and call.function.arguments:
                            got["arguments"] += call.function.arguments
                    if choice.finish_reason is not None:
                        played.finish[choice.index] = choice.finish_reason
    return played


def _last_answer(doc: dict[str, Any]) -> dict[str, Any]:
    answers = [r for r in doc["replies"] if "error" not in r]
    assert len(answers) == 1
    return answers[0]


def assert_used_up(server: FakeServer) -> None:
    """After one play every scripted reply is consumed: the next request is sparring's 404 miss."""
    with (
        OpenAI(base_url=server.base_url, api_key="sk-library", max_retries=0) as client,
        pytest.raises(openai.NotFoundError) as info,
    ):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "again"}])
    assert info.value.status_code == 404
    assert "sparring" in str(info.value)
    assert server.journal()[-1].outcome == "unmatched"


def test_plain_stream_fixture(server: FakeServer) -> None:
    """The SDK assembles exactly the file's text, word by word, in one choice that stops normally."""
    server.set_scenario(load_scenario("plain-stream"))
    played = play(server, "plain-stream")
    text = _last_answer(_doc("plain-stream"))["text"]
    assert played.text == {0: text}
    assert played.finish == {0: "stop"}
    assert played.refusal == {}
    assert played.calls == {}
    assert_used_up(server)


def test_slow_first_token_fixture(server: FakeServer) -> None:
    """The file's text arrives, its first content chunk no earlier than ~1 s (the file scripts 1.5 s)."""
    doc = _doc("slow-first-token")
    assert doc["replies"][0]["timing"]["first_chunk"] == 1.5
    server.set_scenario(load_scenario("slow-first-token"))
    played = play(server, "slow-first-token")
    assert played.text == {0: _last_answer(doc)["text"]}
    assert played.first_content_after is not None
    # A lower bound only, well under the scripted 1.5 s, so a slow machine cannot break it.
    assert played.first_content_after >= 1.0
    assert_used_up(server)


def test_rate_limited_then_ok_fixture(server: FakeServer) -> None:
    """Two 429s then the answer: the SDK retries through, and the journal shows three attempts."""
    doc = _doc("rate-limited-then-ok")
    assert doc["replies"][0]["times"] == 2
    server.set_scenario(load_scenario("rate-limited-then-ok"))
    played = play(server, "rate-limited-then-ok")
    assert played.text == {0: _last_answer(doc)["text"]}
    entries = server.journal()
    assert [e.status for e in entries] == [429, 429, 200]
    assert [e.outcome for e in entries] == ["completed", "completed", "completed"]
    assert [e.retry_count for e in entries] == [0, 1, 2]
    # the SDK honoured retry-after-ms (200 ms) between attempts; a generous lower bound
    waits = [b.arrived - a.arrived for a, b in itertools.pairwise(entries)]
    assert all(wait >= 0.15 for wait in waits), waits
    assert_used_up(server)


def test_two_choices_fixture(server: FakeServer) -> None:
    """With n=2 the SDK assembles both of the file's choices, each at its own index."""
    server.set_scenario(load_scenario("two-choices"))
    played = play(server, "two-choices")
    texts = [c["text"] for c in _doc("two-choices")["replies"][0]["choices"]]
    assert played.text == {0: texts[0], 1: texts[1]}
    assert played.finish == {0: "stop", 1: "stop"}
    assert_used_up(server)


def test_refusal_fixture(server: FakeServer) -> None:
    """The refusal arrives in the refusal field, with no content."""
    server.set_scenario(load_scenario("refusal"))
    played = play(server, "refusal")
    assert played.refusal == {0: _doc("refusal")["replies"][0]["refusal"]}
    assert played.text == {}
    assert played.finish == {0: "stop"}
    assert_used_up(server)


def test_tool_call_fixture(server: FakeServer) -> None:
    """The tool call's name and JSON arguments assemble to what the file says, in several fragments."""
    server.set_scenario(load_scenario("tool-call"))
    played = play(server, "tool-call")
    (call,) = _doc("tool-call")["replies"][0]["tool_calls"]
    assert list(played.calls) == [0]
    assert played.calls[0]["name"] == call["name"]
    assert json.loads(played.calls[0]["arguments"]) == call["arguments"]
    assert played.finish == {0: "tool_calls"}
    assert played.text == {}
    entry = server.journal()[0]
    assert len(entry.chunks) > 4  # fragments, not one piece
    assert_used_up(server)


def test_generated_answer_fixture(server: FakeServer) -> None:
    """Generated text: the file's number of sentences, and the same text on every play."""
    sentences = _doc("generated-answer")["replies"][0]["faker"]["sentences"]
    server.set_scenario(load_scenario("generated-answer"))
    first = play(server, "generated-answer")
    server.set_scenario(load_scenario("generated-answer"))
    second = play(server, "generated-answer")
    assert list(first.text) == [0]
    text = first.text[0]
    assert text.endswith(".")
    assert text.count(". ") == sentences - 1, text
    assert second.text == first.text
    assert first.finish == {0: "stop"}
    assert_used_up(server)
