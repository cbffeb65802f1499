"""Ollama's native API (`POST /api/chat`, `POST /api/generate`) against the official `ollama`
client, sync and async, and a raw reader.

Pins docs/ollama.md: NDJSON streams (`application/x-ndjson`, one compact object a line, no
blank lines, no terminator line), streaming unless `"stream": false`, the `done` record with
its reason and timings, tool calls with object arguments, `{"error": ...}` bodies with
Ollama's statuses, and the same scenario answering every API.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import ollama
import openai
import pytest

from sparring import (
    ERROR_PRESETS,
    FakeServer,
    RateLimits,
    Scenario,
    Usage,
    error,
    parse_scenario,
    reply,
    rule,
    tool_call,
)
from sparring.scenario.text import count_tokens
from tests.sse import RawResponse, post

MODEL = "llama3.2"
USER = [{"role": "user", "content": "Say hello"}]
TIMINGS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def call(kind: str, server: FakeServer, method: str = "chat", **params: Any) -> Any:
    """One `chat` or `generate` call: the response, or every streamed part as a list."""
    params = {"model": MODEL, **({"messages": USER} if method == "chat" else {"prompt": "Say hello"}), **params}

    async def run_async() -> Any:
        async with ollama.AsyncClient(host=server.url) as client:
            result = await getattr(client, method)(**params)
            return [part async for part in result] if params.get("stream") else result

    if kind == "async":
        return asyncio.run(run_async())
    with ollama.Client(host=server.url) as client:
        result = getattr(client, method)(**params)
        return list(result) if params.get("stream") else result


def lines_of(response: RawResponse) -> list[dict[str, Any]]:
    """Each NDJSON record, checking the framing: LF only, every line compact JSON, none blank."""
    text = response.body.decode()
    assert "\r" not in text
    assert text.endswith("\n")
    records = []
    for line in text[:-1].split("\n"):
        record = json.loads(line)
        assert line == json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        records.append(record)
    return records


async def raw(server: FakeServer, body: Any, path: str = "/api/chat", **headers: str) -> RawResponse:
    return await post(f"{server.url}{path}", body, headers=headers)


# -- content ------------------------------------------------------------------------------------


def test_chat_stream_equals_whole_answer(server: FakeServer, kind: str) -> None:
    """The streamed pieces join to the whole answer's content; both end with the same done
    record: reason, token counts (prompt counted from the messages, output from the text)."""
    server.set_scenario(Scenario.of(reply("Hello world, how are you?", times=2)))
    parts = call(kind, server, stream=True)
    whole = call(kind, server)
    assert [p.message.content for p in parts] == ["Hello", " world,", " how", " are", " you?", ""]
    assert [p.done for p in parts] == [False] * 5 + [True]
    assert all(p.done_reason is None and p.eval_count is None for p in parts[:-1])
    last = parts[-1]
    assert (whole.message.role, whole.message.content, whole.done, whole.done_reason) == (
        "assistant",
        "Hello world, how are you?",
        True,
        "stop",
    )
    for name in TIMINGS:
        assert getattr(last, name) == getattr(whole, name) > 0, name
    assert whole.eval_count == count_tokens("Hello world, how are you?")
    assert whole.model == MODEL
    assert whole.created_at.endswith("Z")


def test_generate_stream_and_whole(server: FakeServer, kind: str) -> None:
    server.set_scenario(Scenario.of(reply("One two three", times=2)))
    parts = call(kind, server, "generate", stream=True)
    whole = call(kind, server, "generate", system="Be brief")
    assert [p.response for p in parts] == ["One", " two", " three", ""]
    assert parts[-1].done
    assert parts[-1].done_reason == "stop"
    assert whole.response == "One two three"
    assert whole.done_reason == "stop"
    assert whole.context
    assert len(whole.context) == whole.prompt_eval_count + whole.eval_count


@pytest.mark.asyncio
async def test_ndjson_framing_and_stream_by_default(server: FakeServer) -> None:
    """Without `stream`, Ollama streams: NDJSON records whose keys come in Ollama's order,
    the last with `done: true`; `stream: false` gets one JSON object."""
    server.set_scenario(Scenario.of(reply("Hi there", times=3)))
    response = await raw(server, {"model": MODEL, "messages": USER})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    records = lines_of(response)
    assert [list(r) for r in records[:-1]] == [["model", "created_at", "message", "done"]] * 2
    assert list(records[-1]) == ["model", "created_at", "message", "done_reason", "done", *TIMINGS]
    assert [r["message"] for r in records] == [
        {"role": "assistant", "content": "Hi"},
        {"role": "assistant", "content": " there"},
        {"role": "assistant", "content": ""},
    ]
    whole = await raw(server, {"model": MODEL, "messages": USER, "stream": False})
    assert whole.headers["Content-Type"].startswith("application/json")
    assert json.loads(whole.body)["message"] == {"role": "assistant", "content": "Hi there"}
    generated = lines_of(await raw(server, {"model": MODEL, "prompt": "Hi"}, "/api/generate"))
    assert list(generated[0]) == ["model", "created_at", "response", "done"]
    assert list(generated[-1]) == ["model", "created_at", "response", "done", "done_reason", "context", *TIMINGS]


def test_tool_calls_streamed_and_whole(server: FakeServer, kind: str) -> None:
    """A tool call comes whole, in a record of its own, its arguments an object; the id is
    Ollama's `call_` and 8 characters; the done reason stays `stop`."""
    calls = [tool_call("get_weather", {"city": "Paris"}), tool_call("get_time", {"zone": "CET"}, id="call_mine")]
    server.set_scenario(Scenario.of(reply(tool_calls=calls, times=2)))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    parts = call(kind, server, stream=True, tools=tools)
    whole = call(kind, server, tools=tools)
    streamed = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [len(p.message.tool_calls or []) for p in parts] == [1, 1, 0]
    for got in (streamed, list(whole.message.tool_calls or [])):
        assert [(c.function.name, dict(c.function.arguments)) for c in got] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"zone": "CET"}),
        ]
    assert whole.done_reason == parts[-1].done_reason == "stop"
    assert server.journal()[0].asked is not None
    assert "tools get_weather" in server.journal()[0].asked


@pytest.mark.asyncio
async def test_tool_call_on_the_wire(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("get_weather", {"city": "Oslo"})])))
    records = lines_of(await raw(server, {"model": MODEL, "messages": USER}))
    (call_,) = records[0]["message"]["tool_calls"]
    assert call_["id"].startswith("call_")
    assert len(call_["id"]) == 13
    assert call_["id"][5:].isalnum()
    assert call_["id"][5:] == call_["id"][5:].lower()
    assert call_["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Oslo"}}
    assert records[0]["message"]["content"] == ""


def test_length_and_scripted_usage(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(reply("cut sh", finish_reason="length", usage=Usage(prompt_tokens=40, completion_tokens=7)))
    )
    answer = call("sync", server)
    assert (answer.done_reason, answer.prompt_eval_count, answer.eval_count) == ("length", 40, 7)
    assert answer.eval_duration == 7 * 20_000_000  # 50 tokens/s, as docs/ollama.md says


ONE_FILE = """
rules:
  - match: {endpoint: messages}
    replies: [{text: Not for Ollama, repeat: true}]
  - replies: [{text: Same words, repeat: true}]
"""


def test_one_scenario_answers_every_api(server: FakeServer) -> None:
    """Scenarios are dialect-neutral: the same scenario file answers Ollama's native routes
    and the OpenAI-compatible route Ollama also serves."""
    server.set_scenario(parse_scenario(ONE_FILE))
    assert call("sync", server).message.content == "Same words"
    assert call("sync", server, "generate").response == "Same words"
    with openai.OpenAI(base_url=server.base_url, api_key="ollama", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Same words"
    assert [e.path for e in server.journal()] == ["/api/chat", "/api/generate", "/v1/chat/completions"]


def test_match_on_endpoint_and_conversation(server: FakeServer) -> None:
    """`endpoint: ollama_chat` / `ollama_generate` select the routes; the last user message is
    what rules match, past an assistant tool call and its tool result."""
    server.set_scenario(
        Scenario.of(
            rule(reply("generated", repeat=True), endpoint="ollama_generate", message="Say hello"),
            rule(reply("about Rome", repeat=True), endpoint="ollama_chat", message="weather in Rome"),
            rule(reply("chat", repeat=True), endpoint="ollama_chat"),
        )
    )
    messages = [
        {"role": "user", "content": "What is the weather in Rome?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}],
        },
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ]
    assert call("sync", server, messages=messages).message.content == "about Rome"
    assert call("sync", server, messages=[{"role": "user", "content": "hi"}]).message.content == "chat"
    assert call("sync", server, "generate").response == "generated"


OLLAMA_LOOP = """
rules:
  - name: the question
    match: {last_role: user, message_count: 1, system: terse}
    replies:
      - tool_calls: [{name: get_weather, arguments: {city: Paris}}]
  - name: the weather came back
    match: {tool_name: get_weather, tool_result: sunny, last_role: tool}
    replies:
      - tool_calls: [{name: get_time, arguments: {city: Paris}}]
  - name: the time came back
    match: {tool_name: get_time, tool_result_regex: '^\\d+:\\d+$', message_count: 5}
    replies:
      - text: Sunny, and it is noon.
"""


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_a_tool_loop_matched_by_tool_name(server: FakeServer, order: str) -> None:
    """An agent loop as a user writes it with the ollama client, which sends no call ids back:
    a tool result is matched by its `tool_name`, Ollama's own field, and by what it says."""
    scenario = parse_scenario(OLLAMA_LOOP)
    server.set_scenario(scenario if order == "as written" else Scenario(rules=scenario.rules[::-1]))
    results = {"get_weather": "sunny in Paris", "get_time": "12:00"}
    messages: list[Any] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather and time in Paris?"},
    ]
    with ollama.Client(host=server.url) as client:
        for _ in range(5):
            said = client.chat(model=MODEL, messages=messages).message
            if not said.tool_calls:
                break
            messages.append(said)
            for call in said.tool_calls:
                name = call.function.name
                messages.append({"role": "tool", "content": results[name], "tool_name": name})
    assert said.content == "Sunny, and it is noon."
    names = [rule.name for rule in scenario.rules]
    if order == "reversed":
        names = names[::-1]
    assert [names[e.rule] for e in server.journal() if e.rule is not None] == [
        "the question",
        "the weather came back",
        "the time came back",
    ]


# -- errors -------------------------------------------------------------------------------------

STATUSES = {
    "rate_limit": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "bad_gateway": 502,
    "unavailable": 503,
    "overloaded": 503,
    "timeout": 500,
    "bad_request": 400,
    "context_length_exceeded": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
}


def test_every_preset_has_a_status() -> None:
    assert set(STATUSES) == set(ERROR_PRESETS)


@pytest.mark.parametrize("preset", list(STATUSES))
def test_error_presets_raise_response_error(server: FakeServer, preset: str) -> None:
    """Each preset is `{"error": "..."}` with Ollama's status; the client raises `ResponseError`
    with that status on the first attempt (it never retries)."""
    server.set_scenario(Scenario.of(error(preset), reply("a retry would get this")))
    with pytest.raises(ollama.ResponseError) as caught:
        call("sync", server, stream=True)
    assert caught.value.status_code == STATUSES[preset]
    assert caught.value.error
    assert "sparring" not in caught.value.error
    assert len(server.journal()) == 1


@pytest.mark.asyncio
async def test_error_bodies_on_the_wire(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            error("not_found"),
            error("unavailable"),
            error("rate_limit", retry_after=3, headers={"x-extra": "1"}),
            error(418),
        )
    )
    missing = await raw(server, {"model": "qwen9:1b", "messages": USER})
    assert (missing.status, json.loads(missing.body)) == (404, {"error": "model 'qwen9:1b' not found"})
    assert missing.headers["Content-Type"].startswith("application/json")
    busy = await raw(server, {"model": MODEL, "messages": USER})
    assert json.loads(busy.body) == {"error": "server busy, please try again.  maximum pending requests exceeded"}
    limited = await raw(server, {"model": MODEL, "messages": USER})
    assert (limited.status, limited.headers["Retry-After"], limited.headers["x-extra"]) == (429, "3", "1")
    assert "usage limit" in json.loads(limited.body)["error"]
    teapot = await raw(server, {"model": MODEL, "messages": USER})
    assert (teapot.status, json.loads(teapot.body)) == (418, {"error": "Error 418, scripted by sparring."})


@pytest.mark.asyncio
async def test_no_headers_but_what_is_scripted(server: FakeServer) -> None:
    """Ollama sends no request id and no rate-limit headers; scripted rate limits go out under
    OpenAI's names."""
    limits = RateLimits(limit_requests=5, remaining_requests=4)
    server.set_scenario(Scenario.of(reply("plain"), reply("limited", rate_limits=limits)))
    plain = await raw(server, {"model": MODEL, "messages": USER})
    assert sorted(plain.headers) == ["Content-Type", "Date", "Server", "Transfer-Encoding"]
    limited = await raw(server, {"model": MODEL, "messages": USER, "stream": False})
    assert (limited.headers["x-ratelimit-limit-requests"], limited.headers["x-ratelimit-remaining-requests"]) == (
        "5",
        "4",
    )


def test_scripted_message_and_body(server: FakeServer, kind: str) -> None:
    server.set_scenario(
        Scenario.of(
            error("server_error", message="CUDA error: out of memory"),
            error(500, body={"error": "x", "more": 1}),
        )
    )
    with pytest.raises(ollama.ResponseError) as caught:
        call(kind, server)
    assert (caught.value.error, caught.value.status_code) == ("CUDA error: out of memory", 500)
    with pytest.raises(ollama.ResponseError) as whole:
        call(kind, server)
    assert whole.value.error == "x"


INVALID = [
    pytest.param({"messages": USER}, "/api/chat", 400, "model is required", id="chat-no-model"),
    pytest.param({"model": "", "messages": USER}, "/api/chat", 400, "model is required", id="chat-empty-model"),
    pytest.param(
        {"model": 5},
        "/api/chat",
        400,
        "json: cannot unmarshal number into Go struct field ChatRequest.model of type string",
        id="model-number",
    ),
    pytest.param(
        {"model": MODEL, "stream": "yes"},
        "/api/chat",
        400,
        "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool",
        id="stream-string",
    ),
    pytest.param(
        {"model": MODEL, "messages": {}},
        "/api/chat",
        400,
        "json: cannot unmarshal object into Go struct field ChatRequest.messages of type []api.Message",
        id="messages-object",
    ),
    pytest.param(
        {"model": MODEL, "messages": [{"role": "user", "content": 3}]},
        "/api/chat",
        400,
        "json: cannot unmarshal number into Go struct field ChatRequest.messages.content of type string",
        id="content-number",
    ),
    pytest.param(
        [1], "/api/chat", 400, "json: cannot unmarshal array into Go value of type api.ChatRequest", id="body-array"
    ),
    pytest.param({"prompt": "hi"}, "/api/generate", 404, "model '' not found", id="generate-no-model"),
    pytest.param(
        {"model": MODEL, "prompt": ["hi"]},
        "/api/generate",
        400,
        "json: cannot unmarshal array into Go struct field GenerateRequest.prompt of type string",
        id="prompt-array",
    ),
]


@pytest.mark.parametrize(("body", "path", "status", "message"), INVALID)
@pytest.mark.asyncio
async def test_validation_errors(server: FakeServer, body: Any, path: str, status: int, message: str) -> None:
    server.set_scenario(Scenario.of(reply("never", repeat=True)))
    response = await raw(server, body, path)
    assert (response.status, json.loads(response.body)) == (status, {"error": message})
    assert server.journal()[0].outcome == "rejected"


@pytest.mark.asyncio
async def test_a_body_that_is_not_json(server: FakeServer) -> None:
    response = await post(f"{server.url}/api/chat", None, raw=b"{nope")
    assert response.status == 400
    assert json.loads(response.body) == {"error": "invalid character looking for beginning of value"}


def test_unmatched_request_is_a_404_naming_sparring(server: FakeServer, kind: str) -> None:
    server.set_scenario(Scenario.of(rule(reply("Only for mistral"), model="mistral")))
    with pytest.raises(ollama.ResponseError) as caught:
        call(kind, server)
    assert caught.value.status_code == 404
    assert caught.value.error.startswith("sparring: no scripted reply answers POST /api/chat (model='llama3.2'")
    assert "model is 'llama3.2', the rule wants 'mistral'" in caught.value.error
    assert [e.outcome for e in server.journal()] == ["unmatched"]


def test_the_miss_message_names_ollamas_endpoints(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(rule(reply("chat only"), endpoint="ollama_chat")))
    with pytest.raises(ollama.ResponseError) as caught:
        call("sync", server, "generate")
    assert caught.value.error.startswith("sparring: no scripted reply answers POST /api/generate (model='llama3.2'")
    assert "[endpoint='ollama_chat'] (text 'chat only'): endpoint ollama_generate, the rule wants ollama_chat" in (
        caught.value.error
    )


@pytest.mark.asyncio
async def test_unknown_route_from_the_ollama_client_gets_ollamas_shape(server: FakeServer) -> None:
    response = await raw(server, {}, "/api/pull", **{"User-Agent": "ollama-python/0.6.3"})
    assert (response.status, list(json.loads(response.body))) == (404, ["error"])
    with ollama.Client(host=server.url) as client, pytest.raises(ollama.ResponseError) as caught:
        client.pull("llama3.2")
    assert caught.value.status_code == 404
