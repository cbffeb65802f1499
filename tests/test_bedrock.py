"""Bedrock Runtime (Converse, ConverseStream, InvokeModel for Anthropic models) against boto3's
`bedrock-runtime` client over real sockets, and a raw reader of the event stream.

Pins docs/bedrock.md: the events of a ConverseStream and their order, the whole Converse
answer, tool use and a tool loop matched on its results, usage and stop reasons, Bedrock's
errors (`x-amzn-ErrorType`) as botocore's `ClientError` codes, what botocore retries, the
exceptions in a stream, the Anthropic stream inside InvokeModelWithResponseStream's chunks.
Faults and wire shaping on the binary framing are in tests/test_bedrock_wire.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from sparring import (
    ERROR_PRESETS,
    FakeServer,
    Fault,
    Scenario,
    check_retries,
    error,
    parse_scenario,
    reply,
    rule,
    tool_call,
)

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"  # a real model id: `.` and `:` in the path
HI = [{"role": "user", "content": [{"text": "Say hello"}]}]


def client(url: str, attempts: int = 1, **config: Any) -> Any:
    """boto3's client at `url`; one attempt unless asked (botocore's backoff sleeps for real)."""
    settings = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts}, **config)
    return boto3.session.Session().client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDSPARRING",
        aws_secret_access_key="not-checked",
        config=settings,
    )


@pytest.fixture
def bedrock(server: FakeServer) -> Iterator[Any]:
    made = client(server.url)
    yield made
    made.close()


def stream_events(bedrock: Any, **params: Any) -> list[dict[str, Any]]:
    stream = bedrock.converse_stream(**{"modelId": MODEL, "messages": HI, **params})["stream"]
    try:
        return list(stream)
    finally:
        stream.close()


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)


# -- content ------------------------------------------------------------------------------------


def test_converse_stream_events_in_order(server: FakeServer, bedrock: Any) -> None:
    """messageStart, one delta per piece (a text block has no start event), contentBlockStop,
    messageStop with the stop reason, metadata with usage and latency."""
    server.set_scenario(Scenario.of(reply(chunks=["Hello", " there,", " friend."])))
    events = stream_events(bedrock)
    assert [next(iter(e)) for e in events] == [
        "messageStart",
        *["contentBlockDelta"] * 3,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert events[1] == {"contentBlockDelta": {"delta": {"text": "Hello"}, "contentBlockIndex": 0}}
    assert events[4] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[5] == {"messageStop": {"stopReason": "end_turn"}}
    metadata = events[6]["metadata"]
    usage = metadata["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert usage["outputTokens"] > 0
    assert usage["inputTokens"] > 0
    assert metadata["metrics"]["latencyMs"] > 0
    assert streamed_text(events) == "Hello there, friend."
    (entry,) = server.journal()
    assert (entry.path, entry.status, entry.stream) == (f"/model/{MODEL}/converse-stream", 200, True)


def test_converse_whole_answer(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(reply("Hello whole.", usage={"prompt_tokens": 11, "completion_tokens": 3})))
    answer = bedrock.converse(modelId=MODEL, messages=HI)
    assert answer["output"] == {"message": {"role": "assistant", "content": [{"text": "Hello whole."}]}}
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": 11, "outputTokens": 3, "totalTokens": 14}
    assert answer["metrics"]["latencyMs"] > 0
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_the_stream_and_the_whole_answer_agree(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(reply("Same words either way.", repeat=True)))
    events = stream_events(bedrock)
    whole = bedrock.converse(modelId=MODEL, messages=HI)
    assert streamed_text(events) == whole["output"]["message"]["content"][0]["text"]
    assert events[-1]["metadata"]["usage"] == whole["usage"]


def test_tool_use_streamed_and_whole(server: FakeServer, bedrock: Any) -> None:
    """A tool call is a block of its own: contentBlockStart with its id and name, input
    deltas that join to the arguments' JSON, contentBlockStop; the stop reason is tool_use.
    Whole, it is a toolUse block with its input as a JSON value."""
    call = tool_call("get_weather", {"city": "Paris"}, id="tooluse_scripted")
    server.set_scenario(Scenario.of(reply(tool_calls=[call], split=4, repeat=True)))
    events = stream_events(bedrock)
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert starts == [
        {"start": {"toolUse": {"toolUseId": "tooluse_scripted", "name": "get_weather"}}, "contentBlockIndex": 0}
    ]
    inputs = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e]
    assert len(inputs) > 1
    assert json.loads("".join(inputs)) == {"city": "Paris"}
    assert {"messageStop": {"stopReason": "tool_use"}} in events
    whole = bedrock.converse(modelId=MODEL, messages=HI)
    assert whole["output"]["message"]["content"] == [
        {"toolUse": {"toolUseId": "tooluse_scripted", "name": "get_weather", "input": {"city": "Paris"}}}
    ]
    assert whole["stopReason"] == "tool_use"


def test_text_then_generated_tool_ids(server: FakeServer, bedrock: Any) -> None:
    """Text is block 0 and each call the next; ids made up are Bedrock's `tooluse_` + 22."""
    calls = [tool_call("a", {}), tool_call("b", {"x": 1})]
    server.set_scenario(Scenario.of(reply("Let me check.", tool_calls=calls)))
    events = stream_events(bedrock)
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert [s["contentBlockIndex"] for s in starts] == [1, 2]
    ids = [s["start"]["toolUse"]["toolUseId"] for s in starts]
    assert all(i.startswith("tooluse_") and len(i) == len("tooluse_") + 22 for i in ids)
    stops = [e["contentBlockStop"]["contentBlockIndex"] for e in events if "contentBlockStop" in e]
    assert stops == [0, 1, 2]


BEDROCK_LOOP = """
rules:
  - name: the question
    match: {endpoint: bedrock_converse, last_role: user, system: terse, tools: true}
    replies:
      - tool_calls: [{name: get_weather, arguments: {city: Paris}, id: tooluse_1}]
  - name: the weather came back
    match: {tool_name: get_weather, tool_result: sunny, last_role: tool, tool_call_id: tooluse_1}
    replies:
      - text: It is sunny in Paris.
"""


def test_a_tool_loop_matched_on_its_result(server: FakeServer, bedrock: Any) -> None:
    """The loop as a boto3 user writes it: the assistant's content goes back as it came, the
    tool's answer as a toolResult block; rules match the system prompt, the tools, the result."""
    server.set_scenario(parse_scenario(BEDROCK_LOOP))
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}
    messages: list[Any] = [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]
    system = [{"text": "You are terse."}]
    for _ in range(3):
        answer = bedrock.converse(modelId=MODEL, messages=messages, system=system, toolConfig=tools)
        said = answer["output"]["message"]
        messages.append(said)
        uses = [b["toolUse"] for b in said["content"] if "toolUse" in b]
        if not uses:
            break
        results = [{"toolResult": {"toolUseId": u["toolUseId"], "content": [{"text": "sunny"}]}} for u in uses]
        messages.append({"role": "user", "content": results})
    assert said["content"] == [{"text": "It is sunny in Paris."}]
    assert [e.rule for e in server.journal()] == [0, 1]


def test_json_tool_results_and_matching_on_model(server: FakeServer, bedrock: Any) -> None:
    scenario = Scenario.of(
        rule(reply("the json came back"), tool_result='{"temp":21}'),
        rule(reply("for claude", repeat=True), model=MODEL),
    )
    server.set_scenario(scenario)
    turns: Any = [
        *HI,
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "temp", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 21}}]}}]},
    ]
    assert bedrock.converse(modelId=MODEL, messages=turns)["output"]["message"]["content"][0]["text"] == (
        "the json came back"
    )
    assert streamed_text(stream_events(bedrock)) == "for claude"


@pytest.mark.parametrize(
    ("scripted", "stop_reason"),
    [
        ({"text": "cut short", "finish_reason": "length"}, "max_tokens"),
        ({"refusal": "I can't help with that."}, "content_filtered"),
        ({"text": "filtered", "finish_reason": "content_filter"}, "content_filtered"),
    ],
)
def test_stop_reasons(server: FakeServer, bedrock: Any, scripted: dict[str, Any], stop_reason: str) -> None:
    server.set_scenario(Scenario.of(reply(**scripted, repeat=True)))
    assert {"messageStop": {"stopReason": stop_reason}} in stream_events(bedrock)
    assert bedrock.converse(modelId=MODEL, messages=HI)["stopReason"] == stop_reason


def test_an_inference_profile_arn_is_one_model_id(server: FakeServer, bedrock: Any) -> None:
    """botocore encodes the `/` of an ARN as `%2F` (a non-greedy label): still one path
    segment to the route, and the whole ARN is the model rules match."""
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    server.set_scenario(Scenario.of(rule(reply("profile"), model=arn)))
    answer = bedrock.converse(modelId=arn, messages=HI)
    assert answer["output"]["message"]["content"] == [{"text": "profile"}]


def test_a_conversation_must_start_with_a_user_message(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(reply("never")))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=[{"role": "assistant", "content": [{"text": "hi"}]}])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "must start with a user message" in raised.value.response["Error"]["Message"]


def test_unmatched_request_is_a_resource_not_found_naming_sparring(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(rule(reply("only for titan"), model="amazon.titan-text")))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=HI)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "sparring" in raised.value.response["Error"]["Message"]


# -- InvokeModel for Anthropic models ----------------------------------------------------------

ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}


def test_invoke_with_response_stream_carries_the_messages_stream(server: FakeServer, bedrock: Any) -> None:
    """Each chunk's `bytes` is one Messages API event (no ping); the last adds Bedrock's
    invocation metrics."""
    server.set_scenario(Scenario.of(reply("Invoked here.", split=2)))
    answer = bedrock.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(ANTHROPIC_BODY))
    assert answer["contentType"] == "application/json"
    chunks = [json.loads(event["chunk"]["bytes"]) for event in answer["body"]]
    kinds = [c["type"] for c in chunks]
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 7,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta") == "Invoked here."
    assert chunks[0]["message"]["model"] == MODEL
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == chunks[-2]["usage"]["output_tokens"]
    assert server.journal()[0].path == f"/model/{MODEL}/invoke-with-response-stream"


def test_invoke_model_whole_and_tool_use(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("lookup", {"q": "x"})])))
    answer = bedrock.invoke_model(modelId=MODEL, body=json.dumps(ANTHROPIC_BODY))
    body = json.loads(answer["body"].read())
    assert body["type"] == "message"
    assert body["stop_reason"] == "tool_use"
    (block,) = body["content"]
    assert block["type"] == "tool_use"
    assert block["input"] == {"q": "x"}
    assert block["id"].startswith("toolu_bdrk_01")


@pytest.mark.parametrize(
    ("model", "body", "says"),
    [
        (MODEL, {"max_tokens": 5, "messages": []}, "required key [anthropic_version]"),
        (MODEL, {**ANTHROPIC_BODY, "model": "claude"}, "extraneous key [model]"),
        ("amazon.titan-text-express-v1", ANTHROPIC_BODY, "Anthropic models only"),
    ],
)
def test_invoke_refuses_what_bedrock_refuses(bedrock: Any, model: str, body: dict[str, Any], says: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.invoke_model(modelId=model, body=json.dumps(body))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert says in raised.value.response["Error"]["Message"]


# -- errors and retries ---------------------------------------------------------------------------

CODES = {
    "rate_limit": (429, "ThrottlingException"),
    "insufficient_quota": (400, "ServiceQuotaExceededException"),
    "server_error": (500, "InternalServerException"),
    "bad_gateway": (502, "InternalServerException"),
    "unavailable": (503, "ServiceUnavailableException"),
    "overloaded": (503, "ServiceUnavailableException"),
    "timeout": (408, "ModelTimeoutException"),
    "bad_request": (400, "ValidationException"),
    "context_length_exceeded": (400, "ValidationException"),
    "unauthorized": (403, "UnrecognizedClientException"),
    "forbidden": (403, "AccessDeniedException"),
    "not_found": (404, "ResourceNotFoundException"),
    "conflict": (409, "ConflictException"),
}


def test_every_preset_has_a_code() -> None:
    assert set(CODES) == set(ERROR_PRESETS)


@pytest.mark.parametrize("preset", ERROR_PRESETS)
def test_error_presets_are_client_errors_with_bedrocks_codes(server: FakeServer, bedrock: Any, preset: str) -> None:
    status, code = CODES[preset]
    server.set_scenario(Scenario.of(error(preset)))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.converse_stream(modelId=MODEL, messages=HI)
    response = raised.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert response["Error"]["Message"]
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    assert response["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]
    # botocore makes a class per modeled code: the one a user catches by name
    modeled = getattr(bedrock.exceptions, code, None)
    if modeled is not None:
        assert isinstance(raised.value, modeled)


@pytest.mark.parametrize(
    ("status", "code"), [(424, "ModelErrorException"), (408, "ModelTimeoutException"), (418, "ValidationException")]
)
def test_bare_statuses_get_the_models_code(server: FakeServer, bedrock: Any, status: int, code: str) -> None:
    server.set_scenario(Scenario.of(error(status, message="scripted")))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=HI)
    assert raised.value.response["Error"] == {"Message": "scripted", "Code": code}


def test_a_scripted_type_is_the_code(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(error(429, type="ModelNotReadyException", message="warming up")))
    with pytest.raises(bedrock.exceptions.ModelNotReadyException):
        bedrock.converse(modelId=MODEL, messages=HI)


def test_throttling_is_retried_and_then_answered(server: FakeServer) -> None:
    """botocore's standard mode retries ThrottlingException (and 500/502/503/504, and
    connection errors) up to 3 attempts in all. Its first throttling backoff is
    rand(0, 1) * 1 s: this test sleeps once, under a second."""
    server.set_scenario(Scenario.of(error("rate_limit"), reply("after the wait")))
    made = client(server.url, attempts=3)
    try:
        answer = made.converse(modelId=MODEL, messages=HI)
    finally:
        made.close()
    assert answer["output"]["message"]["content"] == [{"text": "after the wait"}]
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    journal = server.journal()
    assert [e.status for e in journal] == [429, 200]
    # botocore's `amz-sdk-request: attempt=N` is the retry count rules and checks read, and
    # the redacted signature is the same for both attempts: one client, one call.
    assert [e.retry_count for e in journal] == [0, 1]
    assert journal[0].headers["authorization"] == journal[1].headers["authorization"]
    # Full jitter: botocore's wait is drawn from 0 up, so 5 % of its first retries come within
    # 50 ms (one CI run saw 47 ms). That is botocore by design, not a storm: no floor here.
    report = check_retries(journal, attempts=2, min_gap=0)
    assert [len(call) for call in report.calls] == [2]
    assert report.attempts[1].gap_before is not None, "the wait between the attempts is measured"


def test_rules_match_botocores_retry_count(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(rule(error("server_error", repeat=True), retry_count=0), rule(reply("the retry"), retry_count=1))
    )
    made = client(server.url, attempts=3)
    try:
        answer = made.converse(modelId=MODEL, messages=HI)
    finally:
        made.close()
    assert answer["output"]["message"]["content"] == [{"text": "the retry"}]


@pytest.mark.parametrize(("preset", "attempts"), [("server_error", 3), ("timeout", 1), ("insufficient_quota", 1)])
def test_what_botocore_retries(server: FakeServer, preset: str, attempts: int) -> None:
    """5xx are transient (50 ms backoff base); a 408 ModelTimeoutException and a 400 quota
    error are not retried, whatever the model says of them."""
    server.set_scenario(Scenario.of(error(preset, repeat=True)))
    made = client(server.url, attempts=3)
    try:
        with pytest.raises(botocore.exceptions.ClientError):
            made.converse(modelId=MODEL, messages=HI)
    finally:
        made.close()
    assert len(server.journal()) == attempts


def test_scripted_retry_advice_is_botocores_header(server: FakeServer, bedrock: Any) -> None:
    """`retry_after_ms` goes out as `x-amz-retry-after` (milliseconds), the header botocore's
    standard backoff reads (botocore/retries/standard.py, ExponentialBackoff)."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after_ms=250)))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        bedrock.converse(modelId=MODEL, messages=HI)
    assert raised.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-retry-after"] == "250"


@pytest.mark.parametrize(
    ("operation", "preset", "member"),
    [
        ("converse_stream", "rate_limit", "throttlingException"),
        ("converse_stream", "server_error", "internalServerException"),
        ("converse_stream", "overloaded", "serviceUnavailableException"),
        ("converse_stream", "bad_request", "validationException"),
        ("converse_stream", "timeout", "modelStreamErrorException"),
        ("invoke_model_with_response_stream", "timeout", "modelTimeoutException"),
        ("invoke_model_with_response_stream", "forbidden", "modelStreamErrorException"),
    ],
)
def test_in_stream_exceptions_raise_event_stream_error_and_are_not_retried(
    server: FakeServer, operation: str, preset: str, member: str
) -> None:
    """The `error_event` fault is an exception message after the 200: botocore raises
    EventStreamError (a ClientError) with the member's name as its code, while the caller
    iterates, past the retry handler: one request, whatever the retry config."""
    server.set_scenario(
        Scenario.of(reply("one two three four", fault=Fault("error_event", after_chunk=2, error=preset)))
    )
    made = client(server.url, attempts=3)
    if operation == "converse_stream":
        stream = made.converse_stream(modelId=MODEL, messages=HI)["stream"]
    else:
        stream = made.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(ANTHROPIC_BODY))["body"]
    seen = []
    try:
        with pytest.raises(botocore.exceptions.EventStreamError) as raised:
            seen.extend(stream)
    finally:
        stream.close()
        made.close()
    assert raised.value.response["Error"]["Code"] == member
    assert raised.value.response["Error"]["Message"]
    assert len(seen) == 2
    assert len(server.journal()) == 1


# -- auth, routing, redaction, the plugin --------------------------------------------------------


def test_the_signature_never_reaches_the_journal(server: FakeServer, bedrock: Any) -> None:
    server.set_scenario(Scenario.of(reply("signed")))
    bedrock.converse(modelId=MODEL, messages=HI)
    (entry,) = server.journal()
    auth = entry.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 ")
    assert "[redacted" in auth
    assert "Signature=" not in auth
    assert "AKIDSPARRING" not in auth
    assert "not-checked" not in str(vars(entry))


def test_fake_llm_bedrock_client(fake_llm: Any) -> None:
    fake_llm.add(reply("from the plugin"))
    bedrock = fake_llm.bedrock()
    answer = bedrock.converse(modelId=MODEL, messages=HI)
    assert answer["output"]["message"]["content"] == [{"text": "from the plugin"}]
    assert bedrock.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert bedrock.meta.region_name == "us-east-1"
    tuned = fake_llm.bedrock(config=botocore.config.Config(read_timeout=5, retries={"total_max_attempts": 1}))
    assert (tuned.meta.config.read_timeout, tuned.meta.config.retries["total_max_attempts"]) == (5, 1)


def test_the_access_key_id_routes_to_the_test(fake_llm: Any) -> None:
    """A client at the server's root (no `/ns/NAME` path) that signs with the test's key as
    its access key id reaches the test's namespace, as a bearer key does."""
    fake_llm.add(reply("routed by key"))
    root = fake_llm.url.split("/ns/")[0]
    made = boto3.session.Session().client(
        "bedrock-runtime",
        region_name="eu-west-3",
        endpoint_url=root,
        aws_access_key_id=fake_llm.api_key,
        aws_secret_access_key="x",
    )
    try:
        answer = made.converse(modelId=MODEL, messages=HI)
    finally:
        made.close()
    assert answer["output"]["message"]["content"] == [{"text": "routed by key"}]


def test_patch_env_points_a_default_client_here(fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    fake_llm.add(reply("from the environment"))
    values = fake_llm.patch_env()
    assert values["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == fake_llm.url
    made = boto3.client("bedrock-runtime")
    try:
        events = stream_events(made)
    finally:
        made.close()
    assert streamed_text(events) == "from the environment"


def test_invoke_chunk_bytes_are_base64_on_the_wire(server: FakeServer) -> None:
    """botocore decodes the blob member; on the wire it is base64 inside the JSON payload."""
    from botocore.eventstream import EventStreamBuffer

    from tests.test_bedrock_wire import raw_post

    server.set_scenario(Scenario.of(reply("raw")))
    status, _, body = raw_post(server, f"/model/{MODEL}/invoke-with-response-stream", ANTHROPIC_BODY)
    assert status == 200
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    first = next(iter(buffer))
    assert first.headers[":event-type"] == "chunk"
    payload = json.loads(first.payload)
    assert json.loads(base64.b64decode(payload["bytes"]))["type"] == "message_start"
