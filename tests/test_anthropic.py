"""The Anthropic Messages API (`POST /v1/messages`) against the real `anthropic` SDK and a raw reader.

Pins wire-format.md §6: `event:` + `data:` framing with the same name in `type`, the event
order (message_start, blocks with one ping, message_delta, message_stop, no `[DONE]`), tool
input as `input_json_delta` pieces, Anthropic's error bodies and statuses, and what the SDK
makes of in-band errors, resets and a missing `message_stop`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from random import Random
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic import Anthropic, AsyncAnthropic, omit

from sparring import FakeServer, Fault, RateLimits, Scenario, Usage, Wire, error, reply, rule, tool_call
from sparring.fake_server.dialects.anthropic_messages import AnthropicMessages
from sparring.fake_server.dialects.base import ParsedRequest
from sparring.fake_server.resolve import Resolved, ResolvedChoice, ResolvedToolCall
from tests.sse import RawResponse, post

KEY = "sk-ant-test-0123456789SECRET"
MODEL = "claude-sparring-1"  # any name; real ones may be deprecated (SDK DeprecationWarning)
USER = [{"role": "user", "content": "Say hello"}]
TOOLS = [
    {
        "name": name,
        "description": f"{name} for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    for name in ("get_weather", "get_time")
]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def params(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 1024, "messages": USER, **extra}


def create(
    kind: str, server: FakeServer, *, max_retries: int = 0, client: dict[str, Any] | None = None, **extra: Any
) -> Any:
    """One `messages.create` call: the message, or every streamed event (raw iteration)."""
    options = {"base_url": server.url, "api_key": KEY, "max_retries": max_retries, **(client or {})}

    async def run_async() -> Any:
        async with AsyncAnthropic(**options) as sdk:
            result = await sdk.messages.create(**params(**extra))
            if not extra.get("stream"):
                return result
            async with result:
                return [event async for event in result]

    if kind == "async":
        return asyncio.run(run_async())
    with Anthropic(**options) as sdk:
        result = sdk.messages.create(**params(**extra))
        if not extra.get("stream"):
            return result
        with result:
            return list(result)


def final_message(kind: str, server: FakeServer, events: list[Any] | None = None, **extra: Any) -> Any:
    """`messages.stream()` then `get_final_message()`; the helper's events go to `events`."""
    seen = [] if events is None else events

    async def run_async() -> Any:
        async with (
            AsyncAnthropic(base_url=server.url, api_key=KEY, max_retries=0) as sdk,
            sdk.messages.stream(**params(**extra)) as stream,
        ):
            async for event in stream:  # one by one: the events before an error are kept
                seen.append(event)
            return await stream.get_final_message()

    if kind == "async":
        return asyncio.run(run_async())
    with (
        Anthropic(base_url=server.url, api_key=KEY, max_retries=0) as sdk,
        sdk.messages.stream(**params(**extra)) as stream,
    ):
        for event in stream:
            seen.append(event)
        return stream.get_final_message()


def events_of(response: RawResponse) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) per SSE event, checking the framing the real API uses: LF only,
    an `event:` line then one `data:` line of compact JSON, a blank line after each."""
    text = response.body.decode()
    assert "\r" not in text
    blocks = text.split("\n\n")
    assert blocks[-1] == "", f"the stream must end with a blank line, ends with {blocks[-1]!r}"
    out = []
    for block in blocks[:-1]:
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: "), block
        assert data_line.startswith("data: "), block
        data = json.loads(data_line[len("data: ") :])
        assert data_line[len("data: ") :] == json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        out.append((name_line[len("event: ") :], data))
    return out


async def raw(server: FakeServer, body: Any, **headers: str) -> RawResponse:
    send = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    return await post(f"{server.url}/v1/messages", body, headers=send)


# -- content ------------------------------------------------------------------------------------


def test_text_stream_equals_whole_message(server: FakeServer, kind: str) -> None:
    """A streamed answer rebuilt by `messages.stream()` is the message `stream=False` gives:
    same content, stop reason and usage (input counted from the prompt, output from the text)."""
    server.set_scenario(Scenario.of(reply("Hello world, how are you?", times=2)))
    events: list[Any] = []
    streamed = final_message(kind, server, events)
    whole = create(kind, server)
    for message in (streamed, whole):
        assert [(b.type, b.text) for b in message.content] == [("text", "Hello world, how are you?")]
        assert (message.role, message.model, message.stop_reason, message.stop_sequence) == (
            "assistant",
            MODEL,
            "end_turn",
            None,
        )
        assert message.id.startswith("msg_01")
        assert message.usage.input_tokens > 0
        assert message.usage.output_tokens > 1
    assert streamed.usage.to_dict() == whole.usage.to_dict()
    assert streamed.id != whole.id
    text_events = [e.text for e in events if e.type == "text"]
    assert text_events == ["Hello", " world,", " how", " are", " you?"]


@pytest.mark.asyncio
async def test_wire_framing_and_event_order(server: FakeServer) -> None:
    """Every event carries `event: <name>` and the same `type`; the order is message_start,
    content_block_start, one ping, the deltas, content_block_stop, message_delta, message_stop;
    no `[DONE]`."""
    server.set_scenario(Scenario.of(reply("Hi there, friend", usage=Usage(prompt_tokens=21, completion_tokens=4))))
    response = await raw(server, params(stream=True))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["request-id"].startswith("req_011C")
    assert "anthropic-organization-id" in response.headers
    events = events_of(response)
    assert all(name == data["type"] for name, data in events)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start == {
        "id": start["id"],
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 21,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
            "service_tier": "standard",
        },
    }
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [d["delta"] for _, d in events[3:6]] == [
        {"type": "text_delta", "text": t} for t in ("Hi", " there,", " friend")
    ]
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 4},
    }
    assert response.body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert b"[DONE]" not in response.body


@pytest.mark.asyncio
async def test_tool_use_on_the_wire(server: FakeServer) -> None:
    """Text block first, then one tool_use block per call: `input: {}` at the start, the JSON
    in `input_json_delta` pieces (the first one empty) that concatenate to the arguments."""
    arguments = '{"city":"São Paulo"}'
    calls = [tool_call("get_weather", arguments, id="toolu_scripted", split="char"), tool_call("get_time", "{}")]
    server.set_scenario(Scenario.of(reply("Checking.", tool_calls=calls)))
    events = events_of(await raw(server, params(stream=True, tools=TOOLS)))
    starts = [d for name, d in events if name == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2]
    assert starts[1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_scripted",
        "name": "get_weather",
        "input": {},
    }
    generated = starts[2]["content_block"]["id"]
    assert generated.startswith("toolu_01")
    assert len(generated) == len("toolu_01") + 22
    pieces = [d["delta"]["partial_json"] for name, d in events if name == "content_block_delta" and d["index"] == 1]
    assert pieces[0] == ""
    assert pieces[1:] == list(arguments)
    assert [d["index"] for name, d in events if name == "content_block_stop"] == [0, 1, 2]
    assert [name for name, _ in events].count("ping") == 1
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize("stream", [True, False])
def test_tool_use_parsed_input(server: FakeServer, kind: str, stream: bool) -> None:
    """The SDK gets `tool_use` blocks with `input` parsed into objects, and stop reason `tool_use`."""
    calls = [
        tool_call("get_weather", {"city": "São Paulo", "days": [1, 2]}, split=3),
        tool_call("get_time", {"city": "Tokyo"}, id="toolu_time"),
    ]
    server.set_scenario(Scenario.of(reply("Let me check.", tool_calls=calls)))
    message = final_message(kind, server, tools=TOOLS) if stream else create(kind, server, tools=TOOLS)
    text, weather, time_ = message.content
    assert (text.type, text.text) == ("text", "Let me check.")
    assert (weather.type, weather.name, weather.input) == (
        "tool_use",
        "get_weather",
        {"city": "São Paulo", "days": [1, 2]},
    )
    assert weather.id.startswith("toolu_01")
    assert (time_.id, time_.name, time_.input) == ("toolu_time", "get_time", {"city": "Tokyo"})
    assert message.stop_reason == "tool_use"


def test_tool_only_answer_has_no_text_block(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("get_weather", {"city": "Oslo"})])))
    message = final_message("sync", server, tools=TOOLS)
    assert [(b.type, b.input) for b in message.content] == [("tool_use", {"city": "Oslo"})]


@pytest.mark.parametrize(
    ("answer", "text", "stop_reason"),
    [
        pytest.param(reply(refusal="I can't help with that."), "I can't help with that.", "refusal", id="refusal"),
        pytest.param(reply("Once upon a", finish_reason="length"), "Once upon a", "max_tokens", id="length"),
        pytest.param(reply("Flagged", finish_reason="content_filter"), "Flagged", "refusal", id="content-filter"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_stop_reasons(server: FakeServer, stream: bool, answer: Any, text: str, stop_reason: str) -> None:
    """A refusal is said as text with stop reason `refusal`; finish reasons map to Anthropic's."""
    server.set_scenario(Scenario.of(answer))
    message = final_message("sync", server) if stream else create("sync", server)
    assert [b.text for b in message.content] == [text]
    assert message.stop_reason == stop_reason


def test_explicit_usage_and_byte_at_a_time_writes(server: FakeServer, kind: str) -> None:
    """Scripted usage reaches the SDK as input/output tokens, even over one-byte writes that
    split the UTF-8 characters and the event lines."""
    wire = Wire(write_size=1)
    server.set_scenario(
        Scenario.of(reply("Grüße aus Köln ☕", usage={"prompt_tokens": 17, "completion_tokens": 5}, wire=wire))
    )
    message = final_message(kind, server)
    assert message.content[0].text == "Grüße aus Köln ☕"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (17, 5)


def test_system_prompt_and_blocks_count_as_prompt(server: FakeServer) -> None:
    """Input tokens are counted from the whole conversation, system prompt and text blocks included."""
    server.set_scenario(Scenario.of(reply("ok", times=2)))
    plain = create("sync", server).usage.input_tokens
    system = "You are a terse assistant who answers every question in exactly three words."
    blocks = [{"role": "user", "content": [{"type": "text", "text": "Say"}, {"type": "text", "text": "hello"}]}]
    longer = create("sync", server, system=[{"type": "text", "text": system}], messages=blocks).usage.input_tokens
    assert longer > plain + 10


# -- errors and retries -------------------------------------------------------------------------

PRESETS = [
    ("rate_limit", anthropic.RateLimitError, 429, "rate_limit_error"),
    ("overloaded", anthropic.OverloadedError, 529, "overloaded_error"),
    ("server_error", anthropic.InternalServerError, 500, "api_error"),
    ("bad_gateway", anthropic.InternalServerError, 502, "api_error"),
    ("unavailable", anthropic.ServiceUnavailableError, 503, "api_error"),
    ("timeout", anthropic.GatewayTimeoutError, 504, "timeout_error"),
    ("conflict", anthropic.ConflictError, 409, "conflict_error"),
    ("bad_request", anthropic.BadRequestError, 400, "invalid_request_error"),
    ("context_length_exceeded", anthropic.BadRequestError, 400, "invalid_request_error"),
    ("insufficient_quota", anthropic.BadRequestError, 400, "invalid_request_error"),
    ("unauthorized", anthropic.AuthenticationError, 401, "authentication_error"),
    ("forbidden", anthropic.PermissionDeniedError, 403, "permission_error"),
    ("not_found", anthropic.NotFoundError, 404, "not_found_error"),
]


@pytest.mark.parametrize(("preset", "exc_class", "status", "type_"), PRESETS)
def test_error_presets(
    server: FakeServer, preset: str, exc_class: type[anthropic.APIStatusError], status: int, type_: str
) -> None:
    """Each preset gets Anthropic's status and body, the SDK's class for it, and the SDK's
    retry rule: 408/409/429/5xx retried (3 attempts with max_retries=2), the rest not."""
    server.set_scenario(Scenario.of(error(preset, retry_after_ms=5, repeat=True)))
    with pytest.raises(exc_class) as caught:
        create("sync", server, max_retries=2, stream=True)
    exc = caught.value
    assert type(exc) is exc_class
    assert (exc.status_code, exc.type) == (status, type_)
    assert exc.body == {
        "type": "error",
        "error": {"type": type_, "message": exc.body["error"]["message"]},
        "request_id": exc.request_id,
    }
    assert exc.request_id is not None
    assert exc.request_id.startswith("req_011C")
    retried = status in (408, 409, 429) or status >= 500
    entries = server.journal()
    assert [e.retry_count for e in entries] == ([0, 1, 2] if retried else [0])
    assert {e.status for e in entries} == {status}


def test_error_messages_are_anthropics(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("context_length_exceeded"), error("not_found"), error("insufficient_quota")))
    messages = []
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError) as caught:
            create("sync", server)
        messages.append(caught.value.body["error"]["message"])
    assert messages[0] == "prompt is too long: 213000 tokens > 200000 maximum"
    assert messages[1] == f"model: {MODEL}"
    assert messages[2].startswith("Your credit balance is too low to access the Anthropic API.")


def test_overloaded_retried_then_answered(server: FakeServer, kind: str) -> None:
    """Two 529s, then an answer: the SDK gets through on its third attempt."""
    server.set_scenario(Scenario.of(error("overloaded", retry_after_ms=10, times=2), reply("Finally through")))
    events = create(kind, server, max_retries=2, stream=True)
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == "Finally through"
    assert [(e.retry_count, e.status) for e in server.journal()] == [(0, 529), (1, 529), (2, 200)]


def test_rate_limit_headers(server: FakeServer) -> None:
    """A 429 says when to come back: `retry-after` in seconds (1 unless scripted) and the
    `anthropic-ratelimit-requests-*` headers, the reset an RFC 3339 time."""
    server.set_scenario(Scenario.of(error("rate_limit")))
    with pytest.raises(anthropic.RateLimitError) as caught:
        create("sync", server)
    headers = caught.value.response.headers
    assert headers["retry-after"] == "1"
    assert "retry-after-ms" not in headers
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    reset = datetime.strptime(headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
    seconds = reset.replace(tzinfo=timezone.utc).timestamp() - datetime.now(timezone.utc).timestamp()
    assert 0 <= seconds <= 2
    assert not any(name.startswith("x-ratelimit") for name in headers)


@pytest.mark.asyncio
async def test_rate_limits_on_an_answer(server: FakeServer) -> None:
    limits = RateLimits(limit_requests=50, remaining_requests=7, reset_requests=30, limit_tokens=1000)
    server.set_scenario(Scenario.of(reply("ok", rate_limits=limits)))
    headers = (await raw(server, params())).headers
    assert (headers["anthropic-ratelimit-requests-limit"], headers["anthropic-ratelimit-requests-remaining"]) == (
        "50",
        "7",
    )
    assert headers["anthropic-ratelimit-tokens-limit"] == "1000"
    reset = datetime.strptime(headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%SZ")
    assert 28 <= reset.replace(tzinfo=timezone.utc).timestamp() - datetime.now(timezone.utc).timestamp() <= 32


def test_scripted_error_overrides(server: FakeServer) -> None:
    """Status, type, message, `code` (as `error.details.error_code`, which picks SDK 2.x's finer
    classes), headers and `x-should-retry: false` (one attempt, even for a 529)."""
    server.set_scenario(
        Scenario.of(
            error("overloaded", should_retry=False, message="Busy, come back later", headers={"x-extra": "1"}),
            error("rate_limit", code="enforced_spend_limit_reached", retry_after_ms=5),
            error(418, type="teapot_error"),
        )
    )
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        create("sync", server, max_retries=2)
    assert overloaded.value.body["error"] == {"type": "overloaded_error", "message": "Busy, come back later"}
    assert overloaded.value.response.headers["x-extra"] == "1"
    assert len(server.journal()) == 1
    with pytest.raises(anthropic.EnforcedSpendLimitReachedError):
        create("sync", server)
    with pytest.raises(anthropic.APIStatusError) as teapot:
        create("sync", server)
    assert (teapot.value.status_code, teapot.value.type) == (418, "teapot_error")
    assert teapot.value.body["error"]["message"] == "Error 418, scripted by sparring."


# -- faults -------------------------------------------------------------------------------------


def test_in_band_error_event(server: FakeServer, kind: str) -> None:
    """`error_event` sends `event: error` mid-stream: the SDK raises `APIStatusError` with
    status 200 (not OverloadedError: the 200 has gone out), after the text so far, and does
    not retry it."""
    fault = Fault("error_event", after_chunk=4, error="overloaded")
    server.set_scenario(Scenario.of(reply("One two three four five", fault=fault), reply("a retry would get this")))
    events: list[Any] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        final_message(kind, server, events)
    exc = caught.value
    assert type(exc) is anthropic.APIStatusError
    assert (exc.status_code, exc.type) == (200, "overloaded_error")
    assert exc.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    # message_start, content_block_start, ping, then one delta before the error
    assert [e.text for e in events if e.type == "text"] == ["One"]
    assert len(server.journal()) == 1


@pytest.mark.asyncio
async def test_in_band_error_on_the_wire(server: FakeServer) -> None:
    fault = Fault("error_event", after_chunk=2, error="server_error", message="Something broke")
    server.set_scenario(Scenario.of(reply("Hello there", fault=fault)))
    events = events_of(await raw(server, params(stream=True)))
    assert [name for name, _ in events] == ["message_start", "content_block_start", "error"]
    assert events[-1][1] == {"type": "error", "error": {"type": "api_error", "message": "Something broke"}}


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        # sparring's reset is a TCP RST (SO_LINGER 0): the next read fails with ECONNRESET.
        pytest.param("reset", httpx2.ReadError, id="reset"),
        # A FIN before the chunked terminator: what §6.3 calls a mid-stream reset.
        pytest.param("close", httpx2.RemoteProtocolError, id="close"),
        pytest.param("truncate", httpx2.RemoteProtocolError, id="truncate"),
    ],
)
def test_cut_stream_raises_raw_transport_error(
    server: FakeServer, kind: str, fault: str, raised: type[Exception]
) -> None:
    """A stream cut mid-body raises httpx2's own exception, not wrapped in
    `anthropic.APIConnectionError`, and is not retried (the retry loop only covers the headers)."""
    server.set_scenario(
        Scenario.of(reply("One two three four five", fault=Fault(fault, after_chunk=4)), reply("again"))
    )
    events: list[Any] = []
    with pytest.raises(raised) as caught:
        final_message(kind, server, events)
    assert not isinstance(caught.value, anthropic.APIError)
    assert [e.text for e in events if e.type == "text"] == ["One"]
    assert len(server.journal()) == 1


def test_frame_roles_for_pacing_faults_and_journal() -> None:
    """Which events wait the scripted gap (`paced`: deltas and tool starts, the model's output),
    which carry output for the journal (`content`), and which one `no_done` drops (`terminal`)."""
    calls = (ResolvedToolCall("toolu_x", "get_time", "{}", ("{}",)),)
    choice = ResolvedChoice(0, "Hi you", ("Hi", " you"), calls, None, "tool_calls")
    frames = list(
        AnthropicMessages().stream(Resolved(MODEL, (choice,), 5, 4), ParsedRequest({}, MODEL, [], True), Random(1))
    )
    roles = [(f.data.split(b"\n")[0].decode()[len("event: ") :], f.paced, f.content, f.terminal) for f in frames]
    assert roles == [
        ("message_start", True, False, False),
        ("content_block_start", False, False, False),
        ("ping", False, False, False),
        ("content_block_delta", True, True, False),
        ("content_block_delta", True, True, False),
        ("content_block_stop", False, False, False),
        ("content_block_start", True, True, False),  # the tool's name is output
        ("content_block_delta", True, False, False),  # the empty first partial_json
        ("content_block_delta", True, True, False),
        ("content_block_stop", False, False, False),
        ("message_delta", False, False, True),
        ("message_stop", False, False, True),
    ]


def test_no_done_drops_the_closing_events(server: FakeServer) -> None:
    """`no_done` ends the stream before `message_delta` and `message_stop`: the SDK raises
    nothing and its final message has the text but no stop reason (wire-format.md §6.3)."""
    server.set_scenario(Scenario.of(reply("All of it", fault="no_done")))
    events: list[Any] = []
    message = final_message("sync", server, events)
    assert message.content[0].text == "All of it"
    assert message.stop_reason is None
    assert [e.type for e in events][-1] == "content_block_stop"
    assert server.journal()[0].outcome == "completed"


# -- requests: validation, matching, routing --------------------------------------------------

INVALID = [
    pytest.param({"model": MODEL, "messages": USER}, "max_tokens: Field required", id="no-max-tokens"),
    pytest.param({"max_tokens": 5, "messages": USER}, "model: Field required", id="no-model"),
    pytest.param({"model": MODEL, "max_tokens": 5}, "messages: Field required", id="no-messages"),
    pytest.param(params(max_tokens=0), "max_tokens: Input should be greater than or equal to 1", id="max-tokens-0"),
    pytest.param(params(max_tokens="5"), "max_tokens: Input should be a valid integer", id="max-tokens-str"),
    pytest.param(params(max_tokens=True), "max_tokens: Input should be a valid integer", id="max-tokens-bool"),
    pytest.param(params(model=3), "model: Input should be a valid string", id="model-int"),
    pytest.param(params(messages=[]), "messages: at least one message is required", id="messages-empty"),
    pytest.param(params(messages="hi"), "messages: Input should be a valid list", id="messages-str"),
    pytest.param(params(messages=["hi"]), "messages.0: Input should be a valid dictionary", id="message-str"),
    pytest.param(
        params(messages=[{"role": "system", "content": "x"}]),
        "messages.0.role: Input should be 'user' or 'assistant'",
        id="role-system",
    ),
    pytest.param(params(messages=[{"role": "user"}]), "messages.0.content: Field required", id="no-content"),
    pytest.param(
        params(messages=[{"role": "user", "content": [{"text": "x"}]}]),
        "messages.0.content.0.type: Field required",
        id="block-no-type",
    ),
    pytest.param(
        params(messages=[{"role": "user", "content": ""}]),
        "messages.0: all messages must have non-empty content except for the optional final assistant message",
        id="empty-content",
    ),
    pytest.param(params(stream="yes"), "stream: Input should be a valid boolean", id="stream-str"),
    pytest.param(params(system=5), "system: Input should be a valid list", id="system-int"),
    pytest.param(params(tools={}), "tools: Input should be a valid list", id="tools-dict"),
    pytest.param([1, 2], "Input should be a valid dictionary", id="body-list"),
]


@pytest.mark.parametrize(("body", "message"), INVALID)
@pytest.mark.asyncio
async def test_validation_errors(server: FakeServer, body: Any, message: str) -> None:
    """Bad requests get a 400 in Anthropic's shape, with its pydantic-style wording."""
    server.set_scenario(Scenario.of(reply("never", repeat=True)))
    response = await raw(server, body)
    assert response.status == 400
    assert json.loads(response.body) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
        "request_id": response.headers["request-id"],
    }
    assert server.journal()[0].outcome == "rejected"


def test_validation_error_through_the_sdk(server: FakeServer) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        create("sync", server, max_tokens=0)
    assert caught.value.body["error"]["message"] == "max_tokens: Input should be greater than or equal to 1"


@pytest.mark.asyncio
async def test_final_assistant_prefill_may_be_empty(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("fine")))
    messages = [*USER, {"role": "assistant", "content": ""}]
    assert (await raw(server, params(messages=messages))).status == 200


def test_unmatched_request_is_a_404_naming_sparring(server: FakeServer, kind: str) -> None:
    """Nothing scripted answers: a 404 in Anthropic's shape that names sparring and why each
    rule did not answer, with `x-should-retry: false`, so the SDK makes one attempt."""
    server.set_scenario(Scenario.of(rule(reply("Only for opus"), model="claude-opus-4-1")))
    with pytest.raises(anthropic.NotFoundError) as caught:
        create(kind, server, max_retries=2)
    exc = caught.value
    assert exc.type == "not_found_error"
    message = exc.body["error"]["message"]
    assert "sparring" in message
    assert (
        f"rule 1 [model='claude-opus-4-1'] (text 'Only for opus'): model is {MODEL!r}, the rule wants 'claude-opus-4-1'"
        in message
    )
    assert exc.response.headers["x-should-retry"] == "false"
    assert [e.outcome for e in server.journal()] == ["unmatched"]


@pytest.mark.asyncio
async def test_unknown_route_with_anthropic_headers_gets_anthropic_404(server: FakeServer) -> None:
    response = await post(f"{server.url}/v1/messages/nope", params(), headers={"anthropic-version": "2023-06-01"})
    body = json.loads(response.body)
    assert response.status == 404
    assert (body["type"], body["error"]["type"]) == ("error", "not_found_error")


def test_match_on_endpoint_and_last_user_message(server: FakeServer) -> None:
    """`endpoint: messages` selects this API; the last user message is the user's text, even when
    a later turn holds only tool results, and text blocks are joined by newlines."""
    server.set_scenario(
        Scenario.of(
            rule(reply("from chat", repeat=True), endpoint="chat"),
            rule(reply("weather rule", repeat=True), endpoint="messages", message="What is the\nweather in Rome"),
            rule(reply("other", repeat=True), endpoint="messages"),
        )
    )
    conversation = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is the"}, {"type": "text", "text": "weather in Rome?"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Rome"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}]},
    ]
    assert create("sync", server, messages=conversation, tools=TOOLS).content[0].text == "weather rule"
    assert create("sync", server).content[0].text == "other"
    assert server.journal()[0].answered_by.startswith("rule 2")


@pytest.mark.parametrize("auth", ["x-api-key", "bearer"])
def test_api_key_routes_to_namespace(server: FakeServer, auth: str) -> None:
    """Both auth forms carry the key that routes a request to its namespace: `x-api-key`
    (anthropic 0.x) and `Authorization: Bearer` (2.x)."""
    server.store.route(KEY, "tenant-a")
    server.set_scenario(Scenario.of(reply("for tenant a")), namespace="tenant-a")
    server.set_scenario(Scenario.of(reply("for the default namespace")))
    headers = {"Authorization": omit, "X-Api-Key": KEY} if auth == "x-api-key" else {}
    message = create("sync", server, client={"default_headers": headers})
    assert message.content[0].text == "for tenant a"
    [entry] = server.journal("tenant-a")
    sent = {k.lower() for k in entry.headers}
    assert ("x-api-key" in sent) == (auth == "x-api-key")
    assert ("authorization" in sent) == (auth == "bearer")
    assert server.journal() == []


def test_models_are_listed_in_anthropic_shape(server: FakeServer) -> None:
    with Anthropic(base_url=server.url, api_key="sk-ant-test") as client:
        models = client.models.list()
        first = client.models.retrieve("claude-sparring-1")
    assert [m.id for m in models.data] == ["claude-sparring-1", "claude-sparring-1-mini"]
    assert models.data[0].type == "model"
    assert first.id == "claude-sparring-1"


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_gets_anthropic_words(server: FakeServer) -> None:
    response = await post(
        f"{server.url}/v1/messages", None, raw=b"{not json", headers={"anthropic-version": "2023-06-01"}
    )
    assert response.status == 400
    body = json.loads(response.body)
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in body["error"]["message"]
    assert "OpenAI" not in body["error"]["message"]
