"""The Responses API (`POST /v1/responses`) against the official `openai` SDK and a raw reader.

Pins wire-format.md §4: `event:` + `data:` framing, `sequence_number` from 0, the event
lifecycle of text, refusals and function calls, `response.incomplete`, the nested in-band
error then `response.failed`, and what the SDK's `responses.stream()` helper makes of it all.
Runs under openai 3.x (.venv) and 2.x (.venv-openai2); where they differ the test says so.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from sparring import FakeServer, Fault, Scenario, Wire, error, reply, rule, tool_call
from tests.sse import post

NO_COMPLETED = re.escape("Didn't receive a `response.completed` event.")
OPENAI_3 = int(openai.__version__.split(".")[0]) >= 3
KEY = "sk-test-0123456789abcdefSECRET"
TOOLS = [
    {
        "type": "function",
        "name": name,
        "description": f"{name} for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,  # the helper parses the arguments of strict tools only
    }
    for name in ("get_weather", "get_time")
]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def create(kind: str, server: FakeServer, *, max_retries: int = 0, **params: Any) -> Any:
    """One `responses.create` call: the response, or every streamed event (raw iteration)."""
    params = {"model": "gpt-4o", "input": "Say hello", **params}

    async def run_async() -> Any:
        async with AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=max_retries) as client:
            result = await client.responses.create(**params)
            if not params.get("stream"):
                return result
            async with result:
                return [event async for event in result]

    if kind == "async":
        return asyncio.run(run_async())
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=max_retries) as client:
        result = client.responses.create(**params)
        if not params.get("stream"):
            return result
        with result:
            return list(result)


def final_response(kind: str, server: FakeServer, events: list[Any] | None = None, **params: Any) -> Any:
    """`responses.stream()` then `get_final_response()`; the helper's events go to `events`."""
    params = {"model": "gpt-4o", "input": "Say hello", **params}
    seen = [] if events is None else events

    async def run_async() -> Any:
        async with (
            AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client,
            client.responses.stream(**params) as stream,
        ):
            async for event in stream:  # one by one: the events before an error are kept
                seen.append(event)
            return await stream.get_final_response()

    if kind == "async":
        return asyncio.run(run_async())
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client, client.responses.stream(**params) as s:
        seen.extend(s)
        return s.get_final_response()


def read_raw(server: FakeServer, body: dict[str, Any] | None = None) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """POST with a plain HTTP client; the events, checked to be framed exactly as §4.1 says."""
    body = {"model": "gpt-4o", "input": "Say hello", "stream": True, **(body or {})}
    response = httpx.post(f"{server.base_url}/responses", json=body, timeout=5)
    text = response.text
    assert text.endswith("\n\n"), "the last event ends with a blank line too"
    events = []
    for block in text[:-2].split("\n\n"):
        event_line, data_line = block.split("\n")  # exactly two lines, nothing else
        assert event_line.startswith("event: ")
        assert data_line.startswith("data: ")
        data = json.loads(data_line[len("data: ") :])
        assert data["type"] == event_line[len("event: ") :]
        assert data_line[len("data: ") :] == json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1, f"one response id on every lifecycle event, got {ids}"
    assert ids.pop().startswith("resp_")
    return response, events


# -- content ------------------------------------------------------------------------------------


def test_stream_helper_text_and_usage(server: FakeServer, kind: str) -> None:
    """The helper rebuilds the text from the deltas; `output_text`, status and usage are set."""
    server.set_scenario(Scenario.of(reply("Hello world, how are you?")))
    events: list[Any] = []
    final = final_response(kind, server, events)
    assert final.output_text == "Hello world, how are you?"
    assert final.status == "completed"
    assert [d.delta for d in events if d.type == "response.output_text.delta"] == [
        "Hello",
        " world,",
        " how",
        " are",
        " you?",
    ]
    [message] = final.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")
    assert message.id.startswith("msg_")
    usage = final.usage
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_raw_iteration_lifecycle(server: FakeServer, kind: str) -> None:
    """`create(stream=True)` yields the events in the order the live API sends them."""
    server.set_scenario(Scenario.of(reply("Hello there world")))
    events = create(kind, server, stream=True)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].response.status == "in_progress"
    assert events[0].response.output == []
    assert events[0].response.usage is None
    assert events[-1].response.output_text == "Hello there world"


def test_function_calls_through_the_helper(server: FakeServer, kind: str) -> None:
    """Text then two calls: a message at output index 0, calls at 1 and 2, each with its
    call id, name and arguments whole (and parsed, the tools being strict)."""
    calls = [
        tool_call("get_weather", {"city": "São Paulo"}, id="call_a", split="char"),
        tool_call("get_time", {"city": "Tokyo"}, id="call_b", split=4),
    ]
    server.set_scenario(Scenario.of(reply("Let me check.", tool_calls=calls)))
    events: list[Any] = []
    final = final_response(kind, server, events, tools=TOOLS)
    assert final.output_text == "Let me check."
    got = [(o.type, getattr(o, "call_id", None), getattr(o, "name", None)) for o in final.output]
    assert got == [
        ("message", None, None),
        ("function_call", "call_a", "get_weather"),
        ("function_call", "call_b", "get_time"),
    ]
    weather, time_ = final.output[1:]
    assert weather.arguments == '{"city":"São Paulo"}'
    assert weather.parsed_arguments == {"city": "São Paulo"}
    assert time_.parsed_arguments == {"city": "Tokyo"}
    assert weather.id.startswith("fc_")
    assert weather.status == "completed"
    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(d.delta for d in deltas if d.output_index == 1) == '{"city":"São Paulo"}'
    assert len([d for d in deltas if d.output_index == 1]) == len('{"city":"São Paulo"}'), "split per character"
    assert all(d.item_id == weather.id for d in deltas if d.output_index == 1)


def test_tool_call_only_has_no_message_item(server: FakeServer) -> None:
    """A reply of calls only starts at output index 0 with the call; `output_text` is empty."""
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("get_weather", {"city": "Oslo"}, id="call_o")])))
    final = final_response("sync", server, tools=TOOLS)
    assert [(o.type, o.call_id) for o in final.output] == [("function_call", "call_o")]
    assert final.output_text == ""


@pytest.mark.parametrize("tools", [False, True])
def test_not_streamed(server: FakeServer, kind: str, tools: bool) -> None:
    """`stream` off: one response object, as `response.completed` carries it."""
    calls = [tool_call("get_weather", {"city": "Oslo"}, id="call_1")] if tools else []
    server.set_scenario(Scenario.of(reply("Here you go.", tool_calls=calls)))
    response = create(kind, server, **({"tools": TOOLS} if tools else {}))
    assert response.id.startswith("resp_")
    assert (response.object, response.status, response.model) == ("response", "completed", "gpt-4o")
    assert response.output_text == "Here you go."
    assert [o.type for o in response.output] == (["message", "function_call"] if tools else ["message"])
    if tools:
        assert (response.output[1].call_id, response.output[1].arguments) == ("call_1", '{"city":"Oslo"}')
        assert [t.name for t in response.tools] == ["get_weather", "get_time"]
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert server.journal()[0].response_headers["content-type"] == "application/json"


def test_wire_framing_and_item_ids(server: FakeServer) -> None:
    """Byte-level: `event:` names the JSON type, sequence numbers run 0..n, one response id,
    no `[DONE]`; every delta names the item `output_item.added` opened, and `done` matches."""
    calls = [tool_call("get_weather", {"city": "Paris"}, id="call_p")]
    server.set_scenario(Scenario.of(reply("Checking.", tool_calls=calls)))
    response, events = read_raw(server)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "[DONE]" not in response.text
    added = {e["output_index"]: e["item"] for e in events if e["type"] == "response.output_item.added"}
    done = {e["output_index"]: e["item"] for e in events if e["type"] == "response.output_item.done"}
    assert added[0] == {
        "id": added[0]["id"],
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    assert added[1] == {
        "id": added[1]["id"],
        "type": "function_call",
        "status": "in_progress",
        "arguments": "",
        "call_id": "call_p",
        "name": "get_weather",
    }
    assert {i: item["id"] for i, item in done.items()} == {i: item["id"] for i, item in added.items()}
    [part_added] = [e["part"] for e in events if e["type"] == "response.content_part.added"]
    assert part_added == {"type": "output_text", "annotations": [], "text": ""}
    assert done[1]["arguments"] == '{"city":"Paris"}'
    for event in events:
        if "item_id" in event:
            assert event["item_id"] == added[event["output_index"]]["id"]
    text_delta = next(e for e in events if e["type"] == "response.output_text.delta")
    assert set(text_delta) == {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "content_index",
        "delta",
        "logprobs",
        "obfuscation",
    }
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert (events[0]["response"]["service_tier"], final["service_tier"]) == ("auto", "default"), "as recorded"
    assert final["output"] == [done[0], done[1]]
    assert set(final["usage"]) == {
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "output_tokens_details",
        "total_tokens",
    }


def test_obfuscation_can_be_turned_off(server: FakeServer) -> None:
    """`stream_options.include_obfuscation: false` drops the padding field, as live."""
    server.set_scenario(Scenario.of(reply("Two words")))
    _, events = read_raw(server, {"stream_options": {"include_obfuscation": False}})
    assert not any("obfuscation" in e for e in events)


@pytest.mark.parametrize("stream", [True, False])
def test_refusal(server: FakeServer, stream: bool) -> None:
    """A refusal is a message whose content part is `refusal`, streamed as refusal deltas."""
    server.set_scenario(Scenario.of(reply(refusal="I can't help with that.")))
    events: list[Any] = []
    final = final_response("sync", server, events) if stream else create("sync", server)
    [message] = final.output
    [part] = message.content
    assert (part.type, part.refusal) == ("refusal", "I can't help with that.")
    assert final.output_text == ""
    if stream:
        assert "".join(e.delta for e in events if e.type == "response.refusal.delta") == "I can't help with that."
        assert [e.refusal for e in events if e.type == "response.refusal.done"] == ["I can't help with that."]
        assert not any(e.type.startswith("response.output_text") for e in events)


def test_length_finish_is_incomplete(server: FakeServer) -> None:
    """`finish_reason: length` ends with `response.incomplete` (reason `max_output_tokens`), not
    `response.completed`; the SDK's helper then has no final response to give."""
    server.set_scenario(Scenario.of(reply("Once upon a", finish_reason="length", repeat=True)))
    events = create("sync", server, stream=True, max_output_tokens=16)
    last = events[-1]
    assert last.type == "response.incomplete"
    assert (last.response.status, last.response.incomplete_details.reason) == ("incomplete", "max_output_tokens")
    assert last.response.output_text == "Once upon a"
    assert last.response.output[0].status == "incomplete", "the message the limit cut short"
    assert last.response.max_output_tokens == 16
    assert not any(e.type == "response.completed" for e in events)
    with pytest.raises(RuntimeError, match=NO_COMPLETED):
        final_response("sync", server)
    whole = create("sync", server)
    assert (whole.status, whole.incomplete_details.reason) == ("incomplete", "max_output_tokens")


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("error_event", after_chunk=5, error="rate_limit"),
        Fault("error_event"),
        Fault("error_event", after_byte=900),
    ],
    ids=["after-chunk", "halfway", "after-byte"],
)
def test_error_event_on_the_wire(server: FakeServer, fault: Fault) -> None:
    """The nested error then `response.failed`: sequence numbers carry on from the events
    before the fault wherever it falls, and the response id stays the same."""
    server.set_scenario(Scenario.of(reply("One two three four five six", fault=fault)))
    _, events = read_raw(server)
    error_event, failed = events[-2:]
    assert set(error_event) == {"type", "sequence_number", "error"}
    assert set(error_event["error"]) == {"type", "code", "message", "param"}
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {
        "code": error_event["error"]["code"],
        "message": error_event["error"]["message"],
    }
    if fault.after_chunk is not None:
        assert len(events) == fault.after_chunk + 2
        assert error_event["error"]["code"] == "rate_limit_exceeded"
    assert server.journal()[0].outcome == "completed"


def test_error_event_raises_api_error(server: FakeServer, kind: str) -> None:
    """The SDK raises `APIError` (no status: it came in a 200) at the nested error event,
    after yielding the deltas before it; mid-stream errors are never retried."""
    fault = Fault("error_event", after_chunk=6, error="overloaded", message="Try again later.")
    server.set_scenario(Scenario.of(reply("One two three four", fault=fault), reply("a retry would get this")))
    events: list[Any] = []
    with pytest.raises(openai.APIError) as caught:
        final_response(kind, server, events)
    exc = caught.value
    assert not isinstance(exc, openai.APIStatusError)
    assert (exc.message, exc.type, exc.code) == ("Try again later.", "server_error", "server_error")
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "One two"
    assert len(server.journal()) == 1


@pytest.mark.parametrize("fault", ["reset", "truncate"])
def test_connection_faults_mid_stream(server: FakeServer, kind: str, fault: str) -> None:
    """Cut mid-stream: 3.x wraps the transport error in `APIConnectionError`; 2.x lets the raw
    httpx error out (§2.4). Either way the stream is not retried."""
    server.set_scenario(Scenario.of(reply("One two three four", fault=Fault(fault, after_chunk=5)), reply("again")))
    expected: type[Exception]
    if OPENAI_3:
        expected = openai.APIConnectionError
    else:
        expected = httpx.ReadError if fault == "reset" else httpx.RemoteProtocolError
    with pytest.raises(expected):
        create(kind, server, stream=True, max_retries=2)
    [entry] = server.journal()
    assert entry.outcome == "fault"


def test_no_done_leaves_the_helper_without_a_final_response(server: FakeServer, kind: str) -> None:
    """`no_done` drops `response.completed`: raw iteration just ends, and `get_final_response()`
    raises RuntimeError (§4.5)."""
    server.set_scenario(Scenario.of(reply("All of it", fault="no_done", times=2)))
    events = create(kind, server, stream=True)
    assert events[-1].type == "response.output_item.done"
    assert events[-1].item.content[0].text == "All of it"
    with pytest.raises(RuntimeError, match=NO_COMPLETED):
        final_response(kind, server)
    assert [e.outcome for e in server.journal()] == ["completed", "completed"]


def test_content_events_are_journaled(server: FakeServer) -> None:
    """The journal marks the events with output in them: deltas and a call's added item."""
    server.set_scenario(Scenario.of(reply("Hi there", tool_calls=[tool_call("get_weather", {"city": "Rome"})])))
    _, events = read_raw(server)
    marked = [events[i]["type"] for i in server.journal()[0].content_events]
    assert marked == [
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * (len(marked) - 3),
    ]
    assert len(marked) > 3


# -- errors, retries, validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "exc_class", "status", "code"),
    [
        ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("server_error", openai.InternalServerError, 500, None),
        ("unauthorized", openai.AuthenticationError, 401, "invalid_api_key"),
        ("context_length_exceeded", openai.BadRequestError, 400, "context_length_exceeded"),
    ],
)
def test_error_presets_raise_sdk_exceptions(
    server: FakeServer, kind: str, preset: str, exc_class: type[openai.APIStatusError], status: int, code: str | None
) -> None:
    server.set_scenario(Scenario.of(error(preset)))
    with pytest.raises(exc_class) as caught:
        create(kind, server, stream=True)
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")


def test_sdk_retries_are_counted_in_the_journal(server: FakeServer, kind: str) -> None:
    """Two 429s then a reply: the helper succeeds on the third attempt, numbered 0, 1, 2."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after_ms=20, times=2), reply("Finally through")))
    events = create(kind, server, stream=True, max_retries=2)
    assert events[-1].response.output_text == "Finally through"
    assert [(e.retry_count, e.status) for e in server.journal()] == [(0, 429), (1, 429), (2, 200)]


M = {"model": "gpt-4o"}
MI = {**M, "input": "hi"}
# (body, param, code, what the message says)
INVALID = {
    "no-model": ({"input": "hi"}, "model", "missing_required_parameter", "Missing required parameter: 'model'."),
    "no-input": (M, "input", "missing_required_parameter", "Missing required parameter: 'input'."),
    "input-number": ({**M, "input": 3}, "input", "invalid_type", "but got an integer instead"),
    "model-number": ({"model": 4, "input": "hi"}, "model", "invalid_type", "expected a string"),
    "item-string": ({**M, "input": ["hi"]}, "input[0]", "invalid_type", "expected an input item, but got a string"),
    "role": ({**M, "input": [{"role": "bot", "content": "x"}]}, "input[0].role", "invalid_value", "'bot'"),
    "no-content": ({**M, "input": [{"role": "user"}]}, "input[0].content", "missing_required_parameter", "content"),
    "part-without-type": (
        {**M, "input": [{"role": "user", "content": [{"text": "x"}]}]},
        "input[0].content[0].type",
        "missing_required_parameter",
        "'input[0].content[0].type'",
    ),
    "stream-string": ({**MI, "stream": "yes"}, "stream", "invalid_type", "expected a boolean"),
    "chat-shaped-tool": (
        {**MI, "tools": [{"type": "function", "function": {"name": "f"}}]},
        "tools[0].name",
        "missing_required_parameter",
        "'tools[0].name'",
    ),
    "max-tokens": ({**MI, "max_output_tokens": 5}, "max_output_tokens", "integer_below_min_value", ">= 16"),
    "instructions": ({**MI, "instructions": ["x"]}, "instructions", "invalid_type", "but got an array instead"),
    "stream-options": ({**MI, "stream_options": {}}, "stream_options", None, "only allowed when 'stream'"),
}


@pytest.mark.parametrize(("body", "param", "code", "said"), INVALID.values(), ids=INVALID.keys())
def test_validation_errors(server: FakeServer, body: dict[str, Any], param: str, code: str | None, said: str) -> None:
    """A bad body gets OpenAI's 400 naming the parameter, before any scenario is consulted."""
    server.set_scenario(Scenario.of(reply("never sent", repeat=True)))
    response = httpx.post(f"{server.base_url}/responses", json=body, timeout=5)
    assert response.status_code == 400
    err = response.json()["error"]
    assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error")
    assert said in err["message"]
    assert server.journal()[0].outcome == "rejected"


def test_validation_error_in_the_sdk(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never sent")))
    with pytest.raises(openai.BadRequestError) as caught:
        create("sync", server, tools=[{"type": "function", "function": {"name": "f"}}])
    assert caught.value.param == "tools[0].name"


def test_unmatched_is_a_404_naming_sparring(server: FakeServer, kind: str) -> None:
    server.set_scenario(Scenario.of(rule(reply("Only for the big model"), model="gpt-4o")))
    with pytest.raises(openai.NotFoundError) as caught:
        create(kind, server, model="gpt-4o-mini", stream=True, max_retries=2)
    assert "sparring" in caught.value.message
    assert "gpt-4o-mini" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert [e.outcome for e in server.journal()] == ["unmatched"]


# -- matching -----------------------------------------------------------------------------------


def test_match_on_endpoint(server: FakeServer) -> None:
    """`match: {endpoint: responses}` answers only `/v1/responses`, and `chat` only Chat."""
    server.set_scenario(
        Scenario.of(
            rule(reply("from chat rule", repeat=True), endpoint="chat"),
            rule(reply("from responses rule", repeat=True), endpoint="responses"),
        )
    )
    assert create("sync", server).output_text == "from responses rule"
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "from chat rule"


def test_match_on_the_last_user_message_of_input_items(server: FakeServer) -> None:
    """Input items become a conversation: the last user message is matched (text parts
    joined), instructions become a system message, and all of it counts as prompt tokens."""
    server.set_scenario(Scenario.of(rule(reply("weather rule", repeat=True), message="weather in Rome")))
    items = [
        {"role": "user", "content": "weather in Rome?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "And the weather in Rome tomorrow?"}],
        },
    ]
    instructions = "Be brief and precise in every answer you give."
    instructed = create("sync", server, input=items, instructions=instructions)
    assert instructed.output_text == "weather rule"
    assert instructed.instructions == instructions
    plain = create("sync", server, input=items)
    assert create("sync", server, input="What is the weather in Rome today?").output_text == "weather rule"
    short = create("sync", server, input=[items[-1]])
    assert instructed.usage.input_tokens > plain.usage.input_tokens > short.usage.input_tokens
    with pytest.raises(openai.NotFoundError):
        create("sync", server, input=[*items, {"role": "user", "content": "thanks"}])


@pytest.mark.asyncio
@pytest.mark.parametrize("chat_only", ["n", "messages"])
async def test_chat_parameters_are_unknown_here(server: FakeServer, chat_only: str) -> None:
    """The Responses API has no `n` or `messages`: a client that carries them over is told so."""
    body = {"model": "gpt-4o", "input": "hi", chat_only: 2 if chat_only == "n" else []}
    response = await post(f"{server.base_url}/responses", body)
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert (error["param"], error["code"]) == (chat_only, "unknown_parameter")


@pytest.mark.parametrize("ending", ["crlf", "cr"])
def test_error_event_numbers_carry_on_under_any_line_ending(server: FakeServer, ending: str) -> None:
    """The in-band error is made from the events that really went out, so a byte position
    counted with CRLF or CR endings still gives the next sequence number and the same id."""
    wire = Wire(line_ending=ending)  # type: ignore[arg-type]
    server.set_scenario(
        Scenario.of(reply("One two three four five six", wire=wire, fault=Fault("error_event", after_byte=2309)))
    )
    body = {"model": "m", "input": "x", "stream": True}  # sizes under which LF counts misplace the error
    text = httpx.post(f"{server.base_url}/responses", json=body, timeout=5).text
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    events = [json.loads(block.split("\n")[1][len("data: ") :]) for block in lf[:-2].split("\n\n")]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-2]["type"] == "error"
    assert events[-1]["type"] == "response.failed"
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1
