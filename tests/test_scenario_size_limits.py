"""Values too large to play without stopping the server (faker counts, long texts, chunk and
write counts, choices, tool calls, replies): each a located `ScenarioError` when the scenario
is made, from a file or a builder; and the largest reply allowed is still served."""

from __future__ import annotations

import json

import httpx
import pytest

from sparring import FakerText, FakeServer, Scenario, ScenarioError, Wire, reply, rule, tool_call
from sparring.scenario._cost import (
    MAX_CHOICES,
    MAX_CHUNKS,
    MAX_REPLIES,
    MAX_SENTENCES,
    MAX_TEXT,
    MAX_TOOL_CALLS,
    MAX_WRITES,
)
from sparring.scenario.builders import message
from sparring.scenario.loader import parse_scenario

WORDS = " ".join(["word"] * (MAX_CHUNKS + 1))  # MAX_CHUNKS + 1 chunks split by word

# file text -> (the path named, the line, a piece of the message)
FILES: dict[str, tuple[str, str, int, str]] = {
    "faker": (
        "replies:\n  - text: ok\n  - faker: {sentences: 200000}\n",
        "replies[1].faker.sentences",
        3,
        f"must be at most {MAX_SENTENCES:,}",
    ),
    "text": (
        f"replies:\n  - text: {'x' * (MAX_TEXT + 1)}\n",
        "replies[0].text",
        2,
        f"is {MAX_TEXT + 1:,} characters long; the limit is {MAX_TEXT:,}",
    ),
    "split": (
        f"replies:\n  - text: ok\n  - text: {WORDS}\n    split: word\n",
        "replies[1]",
        3,
        f"this reply streams {MAX_CHUNKS + 1:,} chunks; the limit is {MAX_CHUNKS:,}",
    ),
    "writes": (
        "replies:\n  - text: " + " ".join(["w"] * 1000) + "\n    wire: {write_size: 1}\n",
        "replies[0].wire.write_size",
        3,
        f"writes; the limit is {MAX_WRITES:,}",
    ),
    "choices": (
        "replies:\n  - choices: " + json.dumps([{"text": "a"}] * (MAX_CHOICES + 1)) + "\n",
        "replies[0].choices",
        2,
        f"the limit is {MAX_CHOICES}",
    ),
    "tool-calls": (
        "replies:\n  - tool_calls: " + json.dumps([{"name": "f"}] * (MAX_TOOL_CALLS + 1)) + "\n",
        "replies[0].tool_calls",
        2,
        f"the limit is {MAX_TOOL_CALLS}",
    ),
    # counted before any reply is read: plain scalars stand for replies here, and parse faster
    "replies": (
        "name: big\nreplies: [" + ", ".join(["hi"] * (MAX_REPLIES + 1)) + "]\n",
        "replies",
        2,
        f"the scenario has {MAX_REPLIES + 1:,} replies; the limit is {MAX_REPLIES:,}",
    ),
    "replies-over-rules": (
        "rules:\n" + f"  - replies: [{', '.join(['hi'] * (MAX_REPLIES // 2))}]\n" * 2 + "  - replies: [hi]\n",
        "rules",
        1,
        "replies; the limit is",
    ),
}


@pytest.mark.parametrize("name", FILES)
def test_a_huge_value_is_a_located_error(name: str) -> None:
    text, path, line, piece = FILES[name]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="huge.yaml")
    (problem,) = caught.value.problems
    assert (problem.source, problem.path, problem.line) == ("huge.yaml", path, line), problem
    assert piece in problem.message, problem


def test_the_builders_refuse_the_same() -> None:
    with pytest.raises(ScenarioError, match=r"faker\.sentences: must be at most"):
        reply(faker=FakerText(seed=1, sentences=MAX_SENTENCES + 1))
    with pytest.raises(ScenarioError, match="chunks; the limit is"):
        reply(WORDS)
    with pytest.raises(ScenarioError, match=f"chunks: has {MAX_CHUNKS + 1:,} chunks"):
        reply(chunks=["a"] * (MAX_CHUNKS + 1))
    with pytest.raises(ScenarioError, match=r"arguments: is .* characters long"):
        tool_call("f", json.dumps({"a": "x" * MAX_TEXT}))
    with pytest.raises(ScenarioError, match=r"refusal: is .* characters long"):
        reply(refusal="x" * (MAX_TEXT + 1))
    with pytest.raises(ScenarioError, match=r"wire\.write_size: cuts this reply into about"):
        reply("x" * 50_000, split=20, wire=Wire(write_size=(1, 2, 3)))
    with pytest.raises(ScenarioError, match=f"rules: the scenario has {MAX_REPLIES + 1:,} replies"):
        Scenario.of(reply("a", repeat=True), rule(*[reply("b")] * MAX_REPLIES))
    with pytest.raises(ScenarioError, match="choices: has 129 choices"):
        reply(choices=[message("a")] * (MAX_CHOICES + 1))


# Near the largest replies the limits allow: the most chunks, the most writes, the most text.
LARGEST = {
    "chunks": lambda: reply(chunks=["x"] * MAX_CHUNKS),
    "writes": lambda: reply("w " * 30, split="char", wire=Wire(write_size=1)),  # 18,000 writes
    "text": lambda: reply("y" * MAX_TEXT, split=MAX_TEXT // 1000),
    "faker": lambda: reply(faker=FakerText(seed=7, sentences=MAX_SENTENCES)),
}
CASES = [("chunks", False), *((name, stream) for name in ("writes", "text", "faker") for stream in (True, False))]


@pytest.mark.parametrize(("name", "stream"), CASES)
def test_the_largest_replies_allowed_are_served_whole(server: FakeServer, name: str, stream: bool) -> None:
    """Render times are a benchmark's business (bench/render_cost.py); here: each is served. (The
    largest stream, 20,000 chunks, takes seconds to read on a busy machine: served whole only;
    and 1-byte writes take ~0.1 ms each to read: a tenth of the most allowed.)"""
    server.set_scenario(Scenario.of(LARGEST[name]()))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        response = client.post("/chat/completions", json=body)
    assert response.status_code == 200
    (entry,) = server.journal()
    assert entry.outcome == "completed"
    if stream:
        assert response.text.endswith("data: [DONE]\n\n")
    else:
        assert response.json()["choices"][0]["finish_reason"] == "stop"
