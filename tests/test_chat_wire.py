"""Chat Completions on the wire, read byte for byte with the raw client in tests/sse.py.

Pins the framing and chunk shapes of wire-format.md §1.3-§1.7 and the checklist in §8.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from sparring import Answer, FakeServer, Scenario, message, reply, tool_call
from tests.sse import RawResponse, post

ARGS_PARIS = '{"city": "Paris", "unit": "celsius"}'
ARGS_TOKYO = '{"city":"東京","days":[1,2,3]}'


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], **extra}


async def ask(server: FakeServer, answer: Answer, **extra: Any) -> RawResponse:
    server.set_scenario(Scenario.of(answer))
    return await post(f"{server.base_url}/chat/completions", body(**extra))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Expect:
    """What one choice should say, written out by hand."""

    finish: str
    text: str | None = None
    refusal: str | None = None
    calls: list[tuple[str | None, str, str]] = field(default_factory=list)  # (id, name, arguments)


CASES = [
    pytest.param(reply("Hello there, world!"), 1, {0: Expect("stop", text="Hello there, world!")}, id="text"),
    pytest.param(
        reply(tool_calls=[tool_call("get_weather", ARGS_PARIS, id="call_paris")]),
        1,
        {0: Expect("tool_calls", calls=[("call_paris", "get_weather", ARGS_PARIS)])},
        id="tool-call",
    ),
    pytest.param(
        reply(
            tool_calls=[
                tool_call("get_weather", ARGS_PARIS, id="call_a", split="char"),
                tool_call("get_time", ARGS_TOKYO, split=4),
            ]
        ),
        1,
        {0: Expect("tool_calls", calls=[("call_a", "get_weather", ARGS_PARIS), (None, "get_time", ARGS_TOKYO)])},
        id="parallel-tool-calls",
    ),
    pytest.param(
        reply("Checking now.", tool_calls=[tool_call("get_weather", ARGS_PARIS, id="call_t")]),
        1,
        {0: Expect("tool_calls", text="Checking now.", calls=[("call_t", "get_weather", ARGS_PARIS)])},
        id="text-then-tool-call",
    ),
    pytest.param(
        reply(refusal="I can't help with that."),
        1,
        {0: Expect("stop", refusal="I can't help with that.")},
        id="refusal",
    ),
    pytest.param(
        reply(choices=[message("One two three four five."), message("Six", finish_reason="length")]),
        2,
        {0: Expect("stop", text="One two three four five."), 1: Expect("length", text="Six")},
        id="two-choices",
    ),
]
OPTIONS = [
    pytest.param(None, id="no-options"),
    pytest.param({"include_usage": True}, id="usage"),
    pytest.param({"include_obfuscation": False}, id="no-obfuscation"),
    pytest.param({"include_usage": True, "include_obfuscation": False}, id="usage-no-obfuscation"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize(("answer", "n", "expected"), CASES)
async def test_stream_framing_and_chunks(
    server: FakeServer, answer: Answer, n: int, expected: dict[int, Expect], options: dict[str, bool] | None
) -> None:
    """Every streamed answer, byte for byte: SSE framing, chunk envelope, per-choice deltas,
    tool-call fragments, finish and usage chunks (§1.3-§1.6, §8)."""
    extra: dict[str, Any] = {"stream": True, "n": n}
    if options is not None:
        extra["stream_options"] = options
    raw = await ask(server, answer, **extra)
    assert raw.status == 200
    include_usage = bool(options and options.get("include_usage"))
    obfuscation = not (options and options.get("include_obfuscation") is False)

    # Framing (§1.3): `data: <compact JSON>\n\n` only, `[DONE]` last, nothing after it.
    assert raw.body.endswith(b"}\n\ndata: [DONE]\n\n")
    assert all(line == b"" or line.startswith(b"data: ") for line in raw.body.split(b"\n")), "event:/id: lines"
    events = raw.events()  # strict: LF only, data lines only, a blank line after every event
    assert events[-1] == "[DONE]"
    assert events.count("[DONE]") == 1
    chunks = [json.loads(e) for e in events[:-1]]
    assert [compact(c) for c in chunks] == events[:-1], "JSON must be compact (no spaces after : and ,)"

    # The envelope (§1.4): same id, created and model everywhere.
    head = chunks[0]
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]+", head["id"])
    assert isinstance(head["created"], int)
    assert head["model"] == "gpt-4o"
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"], chunk["model"]) == (head["id"], head["created"], head["model"])
        assert ("obfuscation" in chunk) is obfuscation
        if obfuscation:
            assert isinstance(chunk["obfuscation"], str)
            assert chunk["obfuscation"]
        assert ("usage" in chunk) is include_usage

    # Usage (§1.5): one last chunk with `choices: []`, after every finish chunk; `null` elsewhere.
    if include_usage:
        *answer_chunks, last = chunks
        assert last["choices"] == []
        usage = last["usage"]
        assert usage["prompt_tokens"] > 0
        assert usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert all(c["usage"] is None for c in answer_chunks)
    else:
        answer_chunks = chunks

    # One choice per chunk, index 0 first (§1.5), every key of a choice entry present.
    entries = []
    for chunk in answer_chunks:
        assert len(chunk["choices"]) == 1, "each chunk carries exactly one choice"
        entry = chunk["choices"][0]
        assert set(entry) == {"index", "delta", "logprobs", "finish_reason"}
        assert isinstance(entry["delta"], dict)
        entries.append(entry)
    assert entries[0]["index"] == 0
    assert {e["index"] for e in entries} == set(expected)

    for index, want in expected.items():
        mine = [e for e in entries if e["index"] == index]
        deltas = [e["delta"] for e in mine]
        # Role in the first chunk only; the finish chunk last, alone, with an empty delta.
        assert deltas[0].get("role") == "assistant"
        assert all("role" not in d for d in deltas[1:]), "the SDK would build 'assistantassistant'"
        assert [e["finish_reason"] for e in mine] == [None] * (len(mine) - 1) + [want.finish]
        assert deltas[-1] == {}
        # First chunk's shape (§1.5): text -> content "", tool call or refusal -> content null.
        if want.refusal is not None:
            assert (deltas[0]["content"], deltas[0]["refusal"]) == (None, "")
        elif want.text is not None:
            assert (deltas[0]["content"], deltas[0]["refusal"]) == ("", None)
        else:
            assert deltas[0]["content"] is None
        assert "".join(d.get("content") or "" for d in deltas) == (want.text or "")
        assert "".join(d.get("refusal") or "" for d in deltas) == (want.refusal or "")
        check_tool_fragments([t for d in deltas for t in d.get("tool_calls", [])], want.calls)


def check_tool_fragments(fragments: list[dict[str, Any]], calls: list[tuple[str | None, str, str]]) -> None:
    """§1.6: id, type and name in a call's first fragment only; the arguments concatenate to
    the scripted JSON; parallel calls one after the other, indexes 0, 1, …"""
    order = [f["index"] for f in fragments]
    assert order == sorted(order)
    assert sorted(set(order)) == list(range(len(calls)))
    for index, (call_id, name, arguments) in enumerate(calls):
        first, *rest = [f for f in fragments if f["index"] == index]
        assert first["type"] == "function"
        assert first["function"]["name"] == name
        assert first["function"]["arguments"] == ""
        if call_id is None:
            assert re.fullmatch(r"call_[A-Za-z0-9]+", first["id"])
        else:
            assert first["id"] == call_id
        for fragment in rest:
            assert set(fragment) == {"index", "function"}, "id/type repeated: the SDK would concatenate them"
            assert set(fragment["function"]) == {"arguments"}, "name repeated: the SDK would concatenate it"
        assert first["function"]["arguments"] + "".join(f["function"]["arguments"] for f in rest) == arguments
        assert len(rest) > 1, "the arguments should arrive in several fragments"


@pytest.mark.asyncio
async def test_two_choices_interleave(server: FakeServer) -> None:
    """`n=2`: the choices' chunks interleave (index 1 starts before index 0 finishes)."""
    raw = await ask(server, reply(choices=[message("a b c d"), message("e f g h")]), stream=True, n=2)
    indexes = [c["choices"][0]["index"] for c in raw.chunks()]
    assert indexes[:2] == [0, 1]
    assert indexes.index(1) < len(indexes) - 1 - indexes[::-1].index(0)


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", [True, False])
async def test_response_headers(server: FakeServer, stream: bool) -> None:
    """Content type per mode, `x-request-id` as `req_` + 32 hex, `openai-version`, and no
    compression even when the client offers gzip (§1.2, §7)."""
    server.set_scenario(Scenario.of(reply("Hello there", times=2)))
    url = f"{server.base_url}/chat/completions"
    offer = {"Accept-Encoding": "gzip, deflate", "Accept": "application/json"}
    first = await post(url, body(stream=stream), headers=offer)
    second = await post(url, body(stream=stream), headers=offer)
    headers = {k.lower(): v for k, v in first.headers.items()}
    if stream:
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert first.events()[-1] == "[DONE]"
    else:
        assert headers["content-type"].split(";")[0] == "application/json"
        assert json.loads(first.body)["object"] == "chat.completion"
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["x-request-id"] != {k.lower(): v for k, v in second.headers.items()}["x-request-id"]
    assert headers["openai-version"] == "2020-10-01"
    assert "content-encoding" not in headers


PIECES = ["Ça va? ", "naïve café ", "👋🏽", " 日本語", "ß"]


@pytest.mark.asyncio
async def test_non_ascii_text_arrives_intact(server: FakeServer) -> None:
    """Accents, CJK and multi-code-point emoji go out as raw UTF-8, each chunk exactly as scripted."""
    raw = await ask(server, reply(chunks=PIECES), stream=True)
    assert "👋🏽".encode() in raw.body
    assert "日本語".encode() in raw.body
    contents = [c["choices"][0]["delta"].get("content") for c in raw.chunks()]
    assert contents[1:-1] == PIECES
    assert contents[0] == ""


@pytest.mark.asyncio
async def test_non_ascii_text_whole(server: FakeServer) -> None:
    """The same text in a non-streamed answer."""
    raw = await ask(server, reply("".join(PIECES)), stream=False)
    assert json.loads(raw.body.decode("utf-8"))["choices"][0]["message"]["content"] == "".join(PIECES)


WHOLE = [
    pytest.param(
        reply("Plain answer."),
        {"role": "assistant", "content": "Plain answer.", "refusal": None, "annotations": []},
        "stop",
        id="text",
    ),
    pytest.param(
        reply(tool_calls=[tool_call("get_weather", ARGS_PARIS, id="call_w")]),
        {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "annotations": [],
            "tool_calls": [
                {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": ARGS_PARIS}}
            ],
        },
        "tool_calls",
        id="tool-call-only",
    ),
    pytest.param(
        reply("Let me look.", tool_calls=[tool_call("get_weather", ARGS_PARIS, id="call_w")]),
        {
            "role": "assistant",
            "content": "Let me look.",
            "refusal": None,
            "annotations": [],
            "tool_calls": [
                {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": ARGS_PARIS}}
            ],
        },
        "tool_calls",
        id="text-and-tool-call",
    ),
    pytest.param(
        reply(refusal="No."),
        {"role": "assistant", "content": None, "refusal": "No.", "annotations": []},
        "stop",
        id="refusal",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("answer", "expected_message", "finish"), WHOLE)
async def test_whole_completion_body(
    server: FakeServer, answer: Answer, expected_message: dict[str, Any], finish: str
) -> None:
    """A non-streamed answer is one `chat.completion` object (§1.7): `annotations: []`,
    tool-call arguments as a JSON string, `content: null` for a tool-call-only answer."""
    raw = await ask(server, answer, stream=False)
    assert raw.status == 200
    completion = json.loads(raw.body)
    assert completion["object"] == "chat.completion"
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]+", completion["id"])
    assert completion["model"] == "gpt-4o"
    assert isinstance(completion["created"], int)
    [choice] = completion["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == finish
    assert choice["logprobs"] is None
    assert {k: v for k, v in choice["message"].items() if v is not None or k in expected_message} == expected_message
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "obfuscation" not in completion
