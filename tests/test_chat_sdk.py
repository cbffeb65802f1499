"""The official `openai` SDK (sync and async) against the fake server, over real sockets.

What the SDK makes of the fake's answers: text, tool calls, choices, refusals, usage, errors
and their exception classes, retries, and which scripted reply answers which request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from sparring import FakeServer, Scenario, Usage, error, message, reply, rule, tool_call

KEY = "sk-test-0123456789abcdefSECRET"
USER = [{"role": "user", "content": "Say hello"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
            # openai 2.x's stream helper only parses the arguments of strict tools
            "strict": True,
        },
    }
    for name in ("get_weather", "get_time")
]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def chat(kind: str, server: FakeServer, *, max_retries: int = 0, **params: Any) -> Any:
    """One `chat.completions.create` call: the completion, or the list of streamed chunks."""
    params = {"model": "gpt-4o", "messages": USER, **params}
    if kind == "async":
        return asyncio.run(_chat_async(server, max_retries, params))
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=max_retries) as client:
        result = client.chat.completions.create(**params)
        if not params.get("stream"):
            return result
        with result:
            return list(result)


async def _chat_async(server: FakeServer, max_retries: int, params: dict[str, Any]) -> Any:
    async with AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=max_retries) as client:
        result = await client.chat.completions.create(**params)
        if not params.get("stream"):
            return result
        async with result:
            return [chunk async for chunk in result]


def final_completion(kind: str, server: FakeServer, **params: Any) -> tuple[Any, list[Any]]:
    """`chat.completions.stream(...)`: the helper's final completion and the chunks it saw."""
    params = {"model": "gpt-4o", "messages": USER, **params}

    async def run_async() -> tuple[Any, list[Any]]:
        async with (
            AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client,
            client.chat.completions.stream(**params) as stream,
        ):
            chunks = [event.chunk async for event in stream if event.type == "chunk"]
            return await stream.get_final_completion(), chunks

    if kind == "async":
        return asyncio.run(run_async())
    with (
        OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client,
        client.chat.completions.stream(**params) as stream,
    ):
        chunks = [event.chunk for event in stream if event.type == "chunk"]
        return stream.get_final_completion(), chunks


def text_of(result: Any, index: int = 0) -> str | None:
    if isinstance(result, list):
        return "".join(
            c.delta.content or "" for chunk in result for c in chunk.choices if c.index == index and c.delta.content
        )
    return result.choices[index].message.content


def finish_of(result: Any, index: int = 0) -> str | None:
    if isinstance(result, list):
        reasons = [c.finish_reason for chunk in result for c in chunk.choices if c.index == index and c.finish_reason]
        assert len(reasons) == 1, f"choice {index} finished {len(reasons)} times"
        return reasons[0]
    return result.choices[index].finish_reason


# -- content ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_text_reaches_the_sdk(server: FakeServer, kind: str, stream: bool) -> None:
    """Scripted text comes back whole, streamed or not, with finish reason `stop`."""
    server.set_scenario(Scenario.of(reply("Hello world, how are you?")))
    result = chat(kind, server, stream=stream)
    assert text_of(result) == "Hello world, how are you?"
    assert finish_of(result) == "stop"
    if stream:
        assert len(result) > 3, "word split: one chunk per word, plus role and finish chunks"
        assert {c.id for c in result} == {result[0].id}
        assert result[0].choices[0].delta.role == "assistant"


@pytest.mark.parametrize("split", ["token", "char", 3])
def test_stream_helper_tool_call_arguments_exact(server: FakeServer, kind: str, split: str | int) -> None:
    """`.stream()` + `get_final_completion()` rebuild a tool call: id, name and arguments exactly."""
    arguments = '{"city": "São Paulo", "days": [1, 2], "note": "say \\"hi\\""}'
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("get_weather", arguments, id="call_w1", split=split)])))
    final, _ = final_completion(kind, server, tools=TOOLS)
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_w1", "function", "get_weather")
    assert call.function.arguments == arguments
    assert json.loads(call.function.arguments) == {"city": "São Paulo", "days": [1, 2], "note": 'say "hi"'}


def test_parallel_tool_calls(server: FakeServer, kind: str) -> None:
    """Two calls stream as indexes 0 then 1, and both come back whole."""
    calls = [
        tool_call("get_weather", {"city": "Paris"}, id="call_a"),
        tool_call("get_time", {"city": "Tokyo"}, id="call_b"),
    ]
    server.set_scenario(Scenario.of(reply(tool_calls=calls)))
    final, chunks = final_completion(kind, server, tools=TOOLS)
    got = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in final.choices[0].message.tool_calls]
    assert got == [("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_time", {"city": "Tokyo"})]
    indexes = [t.index for chunk in chunks for c in chunk.choices for t in c.delta.tool_calls or []]
    assert indexes[0] == 0
    assert sorted(set(indexes)) == [0, 1]
    assert indexes == sorted(indexes), "the real API sends one call after the other"


@pytest.mark.parametrize("stream", [True, False])
def test_text_then_tool_call(server: FakeServer, stream: bool) -> None:
    """A message with text and a tool call: the SDK sees both, finish reason `tool_calls`."""
    server.set_scenario(Scenario.of(reply("Let me check.", tool_calls=[tool_call("get_weather", {"city": "Oslo"})])))
    if stream:
        final, _ = final_completion("sync", server, tools=TOOLS)
    else:
        final = chat("sync", server, tools=TOOLS)
    msg = final.choices[0].message
    assert msg.content == "Let me check."
    assert [(c.function.name, c.function.arguments) for c in msg.tool_calls] == [("get_weather", '{"city":"Oslo"}')]
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("stream", [True, False])
def test_two_choices(server: FakeServer, kind: str, stream: bool) -> None:
    """`n=2` with two scripted choices: each index gets its own text and finish reason."""
    choices = [message("First answer here."), message("Second, cut short", finish_reason="length")]
    server.set_scenario(Scenario.of(reply(choices=choices)))
    result = chat(kind, server, n=2, stream=stream)
    assert [text_of(result, 0), text_of(result, 1)] == ["First answer here.", "Second, cut short"]
    assert [finish_of(result, 0), finish_of(result, 1)] == ["stop", "length"]


def test_stream_helper_two_choices(server: FakeServer) -> None:
    """The stream helper accepts interleaved choices (it indexes `choices[index]`)."""
    server.set_scenario(Scenario.of(reply(choices=[message("Alpha beta."), message("Gamma delta.")])))
    final, _ = final_completion("sync", server, n=2)
    assert [c.message.content for c in final.choices] == ["Alpha beta.", "Gamma delta."]


@pytest.mark.parametrize("stream", [True, False])
def test_refusal(server: FakeServer, stream: bool) -> None:
    """A refusal arrives in `refusal`, with no content."""
    server.set_scenario(Scenario.of(reply(refusal="I can't help with that request.")))
    if stream:
        final, _ = final_completion("sync", server)
    else:
        final = chat("sync", server)
    assert final.choices[0].message.refusal == "I can't help with that request."
    assert final.choices[0].message.content is None


@pytest.mark.parametrize(
    ("usage", "prompt", "completion"),
    [
        pytest.param(None, None, None, id="derived"),
        pytest.param(Usage(prompt_tokens=17, completion_tokens=5), 17, 5, id="explicit"),
        pytest.param(Usage(prompt_tokens=9), 9, None, id="prompt-only"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_usage(
    server: FakeServer, stream: bool, usage: Usage | None, prompt: int | None, completion: int | None
) -> None:
    """Usage comes on a last chunk with `choices == []` (include_usage) or on the whole
    completion; counts are derived (> 0) unless given, and the total is their sum."""
    server.set_scenario(Scenario.of(reply("Three little words and more", usage=usage)))
    options = {"stream_options": {"include_usage": True}} if stream else {}
    result = chat("sync", server, stream=stream, **options)
    if stream:
        last = result[-1]
        assert last.choices == []
        assert all(chunk.usage is None for chunk in result[:-1])
        got = last.usage
    else:
        got = result.usage
    assert got.prompt_tokens > 0
    assert got.completion_tokens > 0
    if prompt is not None:
        assert got.prompt_tokens == prompt
    if completion is not None:
        assert got.completion_tokens == completion
    assert got.total_tokens == got.prompt_tokens + got.completion_tokens


def test_no_usage_chunk_without_include_usage(server: FakeServer) -> None:
    """Without `include_usage`, every chunk has a choice and no usage."""
    server.set_scenario(Scenario.of(reply("Hi there")))
    chunks = chat("sync", server, stream=True)
    assert all(len(chunk.choices) == 1 and chunk.usage is None for chunk in chunks)


@pytest.mark.parametrize("stream", [True, False])
def test_finish_reason_length(server: FakeServer, stream: bool) -> None:
    """A scripted `length` finish reaches the SDK."""
    server.set_scenario(Scenario.of(reply("Once upon a", finish_reason="length")))
    result = chat("sync", server, stream=stream, max_tokens=3)
    assert text_of(result) == "Once upon a"
    assert finish_of(result) == "length"


def test_faker_text_is_deterministic(server: FakeServer) -> None:
    """The same faker seed gives the same text on every request; another seed, another text."""
    server.set_scenario(Scenario.of(rule(reply(faker=42, repeat=True), model="a"), reply(faker=43, repeat=True)))
    first = text_of(chat("sync", server, model="a", stream=True))
    second = text_of(chat("sync", server, model="a"))
    other = text_of(chat("sync", server, model="b", stream=True))
    assert first
    assert len(first.split()) > 5, "three sentences of generated text"
    assert first == second
    assert other != first


# -- errors and retries -------------------------------------------------------------------------


def test_sdk_retries_scripted_429(server: FakeServer, kind: str) -> None:
    """Two 429s with `retry-after-ms: 50`, then a reply: the SDK succeeds on its third attempt,
    and the journal shows attempts 0, 1, 2."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after_ms=50, times=2), reply("Finally through")))
    result = chat(kind, server, max_retries=2, stream=True)
    assert text_of(result) == "Finally through"
    entries = server.journal()
    assert [e.headers.get("x-stainless-retry-count") for e in entries] == ["0", "1", "2"]
    assert [e.retry_count for e in entries] == [0, 1, 2]
    assert [e.status for e in entries] == [429, 429, 200]


def test_should_retry_false_stops_retries(server: FakeServer, kind: str) -> None:
    """A 500 carrying `x-should-retry: false` is not retried, even with retries on."""
    server.set_scenario(Scenario.of(error("server_error", should_retry=False), reply("a retry would get this")))
    with pytest.raises(openai.InternalServerError) as caught:
        chat(kind, server, max_retries=2)
    assert caught.value.status_code == 500
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(server.journal()) == 1


@pytest.mark.parametrize(
    ("preset", "exc_class", "status", "code"),
    [
        ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("server_error", openai.InternalServerError, 500, None),
        ("unauthorized", openai.AuthenticationError, 401, "invalid_api_key"),
        ("not_found", openai.NotFoundError, 404, "model_not_found"),
        ("context_length_exceeded", openai.BadRequestError, 400, "context_length_exceeded"),
    ],
)
def test_error_presets_raise_sdk_exceptions(
    server: FakeServer, kind: str, preset: str, exc_class: type[openai.APIStatusError], status: int, code: str | None
) -> None:
    """Each preset maps to the SDK's exception class for its status, with code and request id."""
    server.set_scenario(Scenario.of(error(preset)))
    with pytest.raises(exc_class) as caught:
        chat(kind, server, stream=True)
    exc = caught.value
    assert exc.status_code == status
    assert exc.code == code
    assert exc.request_id is not None
    assert exc.request_id.startswith("req_")
    assert KEY not in str(exc.message), "the API never echoes a whole key"
    assert len(server.journal()) == 1


def test_unmatched_request_is_a_distinctive_404_never_retried(server: FakeServer, kind: str) -> None:
    """A request nothing answers: 404 naming sparring and what was scripted, and
    `x-should-retry: false`, so the SDK makes one attempt even with retries on."""
    server.set_scenario(Scenario.of(rule(reply("Only for the big model"), model="gpt-4o")))
    with pytest.raises(openai.NotFoundError) as caught:
        chat(kind, server, max_retries=2, model="gpt-4o-mini")
    exc = caught.value
    assert exc.status_code == 404
    assert "sparring" in exc.message
    assert "Only for the big model" in exc.message
    assert "gpt-4o-mini" in exc.message
    assert exc.response.headers["x-should-retry"] == "false"
    assert len(server.journal()) == 1
    assert server.journal()[0].outcome == "unmatched"


# -- matching and consumption -------------------------------------------------------------------


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


MATCHES = [
    pytest.param({"model": "gpt-4o-mini"}, {"model": "gpt-4o-mini"}, {"model": "gpt-4o"}, id="model"),
    pytest.param(
        {"message": "weather"},
        {"messages": _user("How is the weather in Rome?")},
        # an earlier user turn mentions it, but only the last user message counts
        {"messages": [*_user("weather?"), {"role": "assistant", "content": "Sunny."}, *_user("Thanks!")]},
        id="message-substring",
    ),
    pytest.param(
        {"message_regex": r"order #\d+$"},
        {"messages": _user("Where is order #4521")},
        {"messages": _user("Where is order #abc")},
        id="message-regex",
    ),
    pytest.param(
        {"headers": {"X-Tenant": "acme"}},
        {"extra_headers": {"x-tenant": "acme"}},
        {"extra_headers": {"x-tenant": "globex"}},
        id="header",
    ),
    pytest.param({"tools": True}, {"tools": TOOLS}, {}, id="tools-present"),
    pytest.param({"tools": False}, {}, {"tools": TOOLS}, id="tools-absent"),
    pytest.param({"stream": True}, {"stream": True}, {"stream": False}, id="stream"),
    pytest.param({"stream": False}, {"stream": False}, {"stream": True}, id="not-stream"),
]


@pytest.mark.parametrize(("match", "hit", "miss"), MATCHES)
def test_rule_matching(server: FakeServer, match: dict[str, Any], hit: dict[str, Any], miss: dict[str, Any]) -> None:
    """A rule answers only the requests its match selects; the others fall through."""
    server.set_scenario(Scenario.of(rule(reply("matched", repeat=True), **match), reply("fallthrough", repeat=True)))
    assert text_of(chat("sync", server, **miss)) == "fallthrough"
    assert text_of(chat("sync", server, **hit)) == "matched"


def test_match_on_retry_count(server: FakeServer) -> None:
    """Rules keyed on `x-stainless-retry-count`: attempt 0 fails, attempt 1 succeeds."""
    server.set_scenario(
        Scenario.of(
            rule(error("server_error", retry_after_ms=10, repeat=True), retry_count=0),
            rule(reply("second attempt"), retry_count=1),
        )
    )
    assert text_of(chat("sync", server, max_retries=2)) == "second attempt"
    assert [(e.retry_count, e.status) for e in server.journal()] == [(0, 500), (1, 200)]


def test_times_and_repeat_consumption_order(server: FakeServer) -> None:
    """Replies are used in order: `times=2` twice, then a one-shot, then `repeat` for ever."""
    server.set_scenario(Scenario.of(reply("one", times=2), reply("two"), reply("three", repeat=True)))
    got = [text_of(chat("sync", server)) for _ in range(6)]
    assert got == ["one", "one", "two", "three", "three", "three"]


def test_exhausted_replies_then_miss(server: FakeServer) -> None:
    """A used-up rule stops answering; with nothing left, the request misses (404)."""
    server.set_scenario(Scenario.of(rule(reply("for gpt-4o"), model="gpt-4o"), reply("anyone")))
    assert text_of(chat("sync", server)) == "for gpt-4o"
    assert text_of(chat("sync", server)) == "anyone"
    with pytest.raises(openai.NotFoundError):
        chat("sync", server)


# -- models -------------------------------------------------------------------------------------


def test_models_list_and_retrieve(server: FakeServer) -> None:
    """`GET /v1/models` lists model objects; `GET /v1/models/{id}` returns the one asked for."""
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        listed = client.models.list()
        fetched = client.models.retrieve("ft:gpt-4o-mini:acme::abc123")
    ids = [m.id for m in listed]
    assert "gpt-4o" in ids
    assert len(ids) == len(set(ids))
    assert all(m.object == "model" and m.owned_by and m.created > 0 for m in listed)
    assert fetched.id == "ft:gpt-4o-mini:acme::abc123"
    assert fetched.object == "model"
