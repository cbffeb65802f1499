"""Legacy Completions and Embeddings, through the real `openai` SDK (sync and async) and a raw
reader: wire shapes, usage, choices, faults, errors, validation and matching."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from sparring import FakeServer, Fault, Scenario, Usage, error, message, reply, rule, tool_call
from tests.sse import RawResponse, post

KEY = "sk-test-0123456789abcdefSECRET"
PROMPT = "Say this is a test"  # 5 tokens by sparring's (and tiktoken's) count
EMBED = "text-embedding-3-small"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def call(kind: str, server: FakeServer, api: str, *, max_retries: int = 0, **params: Any) -> Any:
    """One `completions.create` or `embeddings.create`: the object, or the streamed chunks."""
    if kind == "async":
        return asyncio.run(_call_async(server, api, max_retries, params))
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=max_retries) as client:
        result = getattr(client, api).create(**params)
        if not params.get("stream"):
            return result
        with result:
            return list(result)


async def _call_async(server: FakeServer, api: str, max_retries: int, params: dict[str, Any]) -> Any:
    async with AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=max_retries) as client:
        result = await getattr(client, api).create(**params)
        if not params.get("stream"):
            return result
        async with result:
            return [chunk async for chunk in result]


def complete(kind: str, server: FakeServer, **params: Any) -> Any:
    return call(kind, server, "completions", **{"model": "gpt-3.5-turbo-instruct", "prompt": PROMPT, **params})


def embed(kind: str, server: FakeServer, **params: Any) -> Any:
    return call(kind, server, "embeddings", **{"model": EMBED, "input": "hello world", **params})


def text_of(result: Any, index: int = 0) -> str:
    if isinstance(result, list):
        return "".join(c.text for chunk in result for c in chunk.choices if c.index == index)
    return str(result.choices[index].text)


def finish_of(result: Any, index: int = 0) -> str:
    if isinstance(result, list):
        reasons = [c.finish_reason for chunk in result for c in chunk.choices if c.index == index and c.finish_reason]
        assert len(reasons) == 1, f"choice {index} finished {len(reasons)} times"
        return str(reasons[0])
    return str(result.choices[index].finish_reason)


def raw(server: FakeServer, path: str, body: Any) -> RawResponse:
    return asyncio.run(post(f"{server.base_url}/{path}", body))


# -- completions --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
def test_completion_text(server: FakeServer, kind: str, stream: bool) -> None:
    """Scripted text comes back whole as `text_completion` objects, finish reason `stop`."""
    server.set_scenario(Scenario.of(reply("This is indeed a test")))
    result = complete(kind, server, stream=stream)
    assert text_of(result) == "This is indeed a test"
    assert finish_of(result) == "stop"
    first = result[0] if stream else result
    assert first.object == "text_completion"
    assert first.id.startswith("cmpl-")
    if stream:
        assert len(result) == 6, "one chunk per word, then the finish chunk"
        assert {c.id for c in result} == {first.id}
        assert result[-1].choices[0].text == ""


def test_completion_stream_wire_shape(server: FakeServer) -> None:
    """Exact chunk objects on the wire: key order, `logprobs: null`, `usage: null` on every chunk
    but the usage chunk (`choices: []`), then `[DONE]`."""
    server.set_scenario(Scenario.of(reply(chunks=["Hel", "lo"])))
    body = {"model": "m", "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}}
    response = raw(server, "completions", body)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = response.events()
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [list(c) for c in chunks] == [["id", "object", "created", "choices", "model", "usage"]] * 4
    assert [c["choices"] for c in chunks[:3]] == [
        [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "lo", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
    ]
    assert [c["usage"] for c in chunks[:3]] == [None] * 3
    assert chunks[3]["choices"] == []
    assert chunks[3]["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}


@pytest.mark.parametrize(
    ("prompt", "usage", "prompt_tokens", "completion_tokens"),
    [
        pytest.param(PROMPT, None, 5, 3, id="text"),
        pytest.param([1212, 318, 257, 1332], None, 4, 3, id="token-array"),
        # a batch: two prompts, so two choices of three tokens each
        pytest.param(["Say this", [9, 8, 7]], None, 2 + 3, 6, id="batch"),
        pytest.param(PROMPT, Usage(prompt_tokens=17, completion_tokens=5), 17, 5, id="scripted"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_completion_usage(
    server: FakeServer, stream: bool, prompt: Any, usage: Usage | None, prompt_tokens: int, completion_tokens: int
) -> None:
    """Usage on the whole object, or on the last chunk (`choices == []`) with include_usage:
    the prompt's own tokens (token arrays count their ids) and the text's, unless scripted."""
    server.set_scenario(Scenario.of(reply("Hi to you", usage=usage)))
    options = {"stream_options": {"include_usage": True}} if stream else {}
    result = complete("sync", server, prompt=prompt, stream=stream, **options)
    if stream:
        assert result[-1].choices == []
        assert all(chunk.usage is None for chunk in result[:-1])
    got = result[-1].usage if stream else result.usage
    assert (got.prompt_tokens, got.completion_tokens) == (prompt_tokens, completion_tokens)
    assert got.total_tokens == got.prompt_tokens + got.completion_tokens


def test_completion_stream_without_include_usage_has_no_usage(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("Hi there")))
    chunks = complete("sync", server, stream=True)
    assert all(len(chunk.choices) == 1 and chunk.usage is None for chunk in chunks)


@pytest.mark.parametrize("stream", [True, False])
def test_completion_two_choices(server: FakeServer, kind: str, stream: bool) -> None:
    """`n=2`: each index its own text and finish reason; streamed, the choices interleave."""
    server.set_scenario(Scenario.of(reply(choices=[message("First one."), message("Second", finish_reason="length")])))
    result = complete(kind, server, n=2, stream=stream)
    assert [text_of(result, 0), text_of(result, 1)] == ["First one.", "Second"]
    assert [finish_of(result, 0), finish_of(result, 1)] == ["stop", "length"]
    if stream:
        assert [c.choices[0].index for c in result] == [0, 1, 0, 1, 0]


def test_completion_batch_prompts_get_n_choices_each(server: FakeServer) -> None:
    """Two prompts with `n=2`: four choices, indexed prompt * n + choice."""
    server.set_scenario(Scenario.of(reply(choices=[message(f"answer {i}") for i in range(4)])))
    result = complete("sync", server, prompt=["first", "second"], n=2)
    assert [(c.index, c.text) for c in result.choices] == [(i, f"answer {i}") for i in range(4)]


@pytest.mark.parametrize("stream", [True, False])
def test_completion_renders_text_only(server: FakeServer, stream: bool) -> None:
    """No tool calls in this API: a tool-call-only reply is empty text finishing `stop`, and
    text beside a tool call comes through alone; a refusal is said as text."""
    call_ = tool_call("get_weather", {"city": "Oslo"})
    server.set_scenario(
        Scenario.of(reply(tool_calls=[call_]), reply("Let me check.", tool_calls=[call_]), reply(refusal="I can't."))
    )
    options = {"stream_options": {"include_usage": True}} if stream else {}
    only_call = complete("sync", server, stream=stream, **options)
    assert (text_of(only_call), finish_of(only_call)) == ("", "stop")
    assert (only_call[-1] if stream else only_call).usage.completion_tokens == 0
    with_text = complete("sync", server, stream=stream)
    assert (text_of(with_text), finish_of(with_text)) == ("Let me check.", "stop")
    refusal = complete("sync", server, stream=stream)
    assert text_of(refusal) == "I can't."


def test_completion_error_event_raises_api_error(server: FakeServer, kind: str) -> None:
    """The in-band error after two chunks: the SDK raises APIError (no status), text so far seen."""
    fault = Fault("error_event", after_chunk=2, error="rate_limit", message="slow down")
    server.set_scenario(Scenario.of(reply(chunks=["a", "b", "c", "d"], fault=fault)))
    with pytest.raises(openai.APIError) as caught:
        complete(kind, server, stream=True)
    assert not isinstance(caught.value, openai.APIStatusError)
    assert (caught.value.message, caught.value.code) == ("slow down", "rate_limit_exceeded")


def test_completion_no_done_ends_quietly(server: FakeServer) -> None:
    """Without `[DONE]` the SDK still returns every chunk; the wire lacks only the terminator."""
    server.set_scenario(Scenario.of(reply("All of it", fault="no_done"), reply("All of it", fault="no_done")))
    assert text_of(complete("sync", server, stream=True)) == "All of it"
    events = raw(server, "completions", {"model": "m", "prompt": "x", "stream": True}).events()
    assert "[DONE]" not in events
    assert json.loads(events[-1])["choices"][0]["finish_reason"] == "stop"


def test_completion_reset_mid_stream(server: FakeServer, kind: str) -> None:
    """A reset after a chunk is a transport failure (openai 3.x wraps it, 2.x does not)."""
    server.set_scenario(Scenario.of(reply(chunks=["a", "b", "c", "d"], fault=Fault("reset", after_chunk=2))))
    with pytest.raises((openai.APIConnectionError, httpx.TransportError)):
        complete(kind, server, stream=True)
    assert server.journal()[0].outcome == "fault"


@pytest.mark.parametrize(
    ("preset", "exc_class", "status"),
    [
        ("rate_limit", openai.RateLimitError, 429),
        ("server_error", openai.InternalServerError, 500),
        ("unauthorized", openai.AuthenticationError, 401),
        ("context_length_exceeded", openai.BadRequestError, 400),
    ],
)
def test_completion_error_presets(
    server: FakeServer, kind: str, preset: str, exc_class: type[openai.APIStatusError], status: int
) -> None:
    server.set_scenario(Scenario.of(error(preset)))
    with pytest.raises(exc_class) as caught:
        complete(kind, server, stream=True)
    assert caught.value.status_code == status
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")


# -- embeddings ---------------------------------------------------------------------------------


def test_embedding_default_encoding_is_base64_decoded_by_the_sdk(server: FakeServer, kind: str) -> None:
    """The SDK asks for base64 when the caller names no format and decodes it to the same
    float32 values that `encoding_format="float"` returns."""
    server.set_scenario(Scenario.of(reply(repeat=True)))
    default = embed(kind, server).data[0].embedding
    floats = embed(kind, server, encoding_format="float").data[0].embedding
    assert [e.body.get("encoding_format") for e in server.journal()] == ["base64", "float"]
    assert len(default) == len(floats) == 1536
    assert default == pytest.approx(floats, rel=1e-6, abs=1e-9)
    assert math.fsum(v * v for v in floats) == pytest.approx(1.0, abs=1e-5)


def test_embedding_explicit_base64_is_little_endian_float32(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(repeat=True)))
    encoded = embed("sync", server, encoding_format="base64").data[0].embedding
    floats = embed("sync", server, encoding_format="float").data[0].embedding
    assert isinstance(encoded, str)
    packed = base64.b64decode(encoded)
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == floats


@pytest.mark.parametrize(
    ("model", "dimensions", "size"),
    [
        ("text-embedding-3-small", None, 1536),
        ("text-embedding-3-large", None, 3072),
        ("text-embedding-ada-002", None, 1536),
        ("my-embedder", None, 1536),
        ("text-embedding-3-large", 256, 256),
        ("my-embedder", 4096, 4096),
    ],
)
def test_embedding_dimensions(server: FakeServer, model: str, dimensions: int | None, size: int) -> None:
    server.set_scenario(Scenario.of(reply(repeat=True)))
    extra = {"dimensions": dimensions} if dimensions else {}
    vector = embed("sync", server, model=model, **extra).data[0].embedding
    assert len(vector) == size
    assert math.fsum(v * v for v in vector) == pytest.approx(1.0, abs=1e-5)


def test_shortened_embedding_is_the_full_one_cut_and_renormalized(server: FakeServer) -> None:
    """As with the v3 models: `dimensions` keeps the direction of the vector's first components."""
    server.set_scenario(Scenario.of(reply(repeat=True)))
    full = embed("sync", server, encoding_format="float").data[0].embedding
    short = embed("sync", server, encoding_format="float", dimensions=64).data[0].embedding
    norm = math.sqrt(math.fsum(v * v for v in full[:64]))
    assert short == pytest.approx([v / norm for v in full[:64]], rel=1e-5, abs=1e-7)


def test_embedding_list_input_and_determinism(server: FakeServer, kind: str) -> None:
    """One vector per input, indexes in order; same text same vector (within and across
    requests), different texts and different models different vectors; similar texts closer."""
    server.set_scenario(Scenario.of(reply(repeat=True)))
    texts = ["The cat sat on the mat", "Quarterly revenue grew", "The cat sat on the mat", "The cat sat on a mat"]
    result = embed(kind, server, input=texts)
    assert [d.index for d in result.data] == [0, 1, 2, 3]
    cat, revenue, again, similar = (d.embedding for d in result.data)
    assert cat == again
    assert cat != revenue
    assert embed(kind, server, input="The cat sat on the mat").data[0].embedding == cat
    assert embed(kind, server, input="The cat sat on the mat", model="text-embedding-ada-002").data[0].embedding != cat

    def cos(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    assert cos(cat, similar) > 0.5 > abs(cos(cat, revenue))
    lower = embed(kind, server, input="the cat sat on the mat").data[0].embedding
    assert lower != cat, "every distinct text is distinct..."
    assert cos(cat, lower) > 0.8, "...but differing only in case, nearly the same"
    assert result.usage.prompt_tokens == 4 * 6, "six token-like pieces each"
    assert result.usage.total_tokens == result.usage.prompt_tokens
    assert result.model == EMBED
    assert result.object == "list"


def test_embedding_token_arrays(server: FakeServer) -> None:
    """Token arrays are accepted and counted by their length; one array or a list of them."""
    server.set_scenario(Scenario.of(reply(repeat=True)))
    one = embed("sync", server, input=[15339, 1917])
    many = embed("sync", server, input=[[15339, 1917], [1, 2, 3]])
    assert (len(one.data), one.usage.prompt_tokens) == (1, 2)
    assert (len(many.data), many.usage.prompt_tokens) == (2, 5)
    assert many.data[0].embedding == one.data[0].embedding


def test_embedding_rate_limit_retried_then_raised(server: FakeServer, kind: str) -> None:
    """A rule on `endpoint: embeddings` scripts 429s: the SDK retries (fast, `retry-after-ms`)
    and raises RateLimitError; a chat request does not hit that rule."""
    server.set_scenario(
        Scenario.of(
            rule(error("rate_limit", retry_after_ms=10, times=3), endpoint="embeddings"),
            rule(reply("chat answer"), endpoint="chat"),
        )
    )
    with OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        chat = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "chat answer"
    with pytest.raises(openai.RateLimitError) as caught:
        embed(kind, server, max_retries=2)
    assert caught.value.code == "rate_limit_exceeded"
    attempts = [(e.path, e.retry_count, e.status) for e in server.journal()[1:]]
    assert attempts == [("/v1/embeddings", n, 429) for n in range(3)]


def test_embedding_reset_before_headers_is_retried(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(fault="reset"), reply()))
    vector = embed("sync", server, max_retries=1).data[0].embedding
    assert len(vector) == 1536
    assert [e.outcome for e in server.journal()] == ["fault", "completed"]


def test_embedding_answers_by_default_fallback(server: FakeServer) -> None:
    """A scenario answering by default gives embeddings too (no text is needed for them)."""
    server.set_scenario(Scenario.of(fallback="default"))
    assert len(embed("sync", server, input=["a", "b"]).data) == 2


# -- unmatched and validation -------------------------------------------------------------------


@pytest.mark.parametrize("api", ["completions", "embeddings"])
def test_unmatched_is_a_404_never_retried(server: FakeServer, kind: str, api: str) -> None:
    server.set_scenario(Scenario.of(rule(reply("for chat only"), endpoint="chat")))
    with pytest.raises(openai.NotFoundError) as caught:
        (complete if api == "completions" else embed)(kind, server, max_retries=2)
    assert "sparring" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert [e.outcome for e in server.journal()] == ["unmatched"]


COMPLETION = {"model": "m", "prompt": "Hi"}
EMBEDDING = {"model": EMBED, "input": "Hi"}
BAD = [
    pytest.param("completions", {"prompt": "Hi"}, None, None, "you must provide a model", id="c-no-model"),
    pytest.param("completions", {"model": "m"}, "prompt", "missing_required_parameter", "'prompt'", id="c-no-prompt"),
    pytest.param(
        "completions", {**COMPLETION, "prompt": 5}, "prompt", "invalid_value", "'$.prompt'", id="c-prompt-int"
    ),
    pytest.param("completions", {**COMPLETION, "prompt": []}, "prompt", "invalid_value", "non-empty", id="c-empty"),
    pytest.param(
        "completions", {**COMPLETION, "prompt": ["a", {}]}, "prompt", "invalid_value", "prompt[1]", id="c-mix"
    ),
    pytest.param("completions", {**COMPLETION, "n": 0}, "n", "integer_below_min_value", "Invalid 'n'", id="c-n-0"),
    pytest.param(
        "completions", {**COMPLETION, "max_tokens": "9"}, "max_tokens", "invalid_type", "an integer", id="c-max"
    ),
    pytest.param("completions", {**COMPLETION, "stream": "yes"}, "stream", "invalid_type", "'stream'", id="c-stream"),
    pytest.param(
        "completions",
        {**COMPLETION, "stream_options": {"include_usage": True}},
        "stream_options",
        None,
        "only allowed when 'stream' is enabled",
        id="c-stream-options",
    ),
    pytest.param("embeddings", {"input": "Hi"}, None, None, "you must provide a model", id="e-no-model"),
    pytest.param("embeddings", {"model": EMBED}, "input", "missing_required_parameter", "'input'", id="e-no-input"),
    pytest.param("embeddings", {**EMBEDDING, "input": ""}, "input", "invalid_value", "empty string", id="e-empty-str"),
    pytest.param("embeddings", {**EMBEDDING, "input": []}, "input", "invalid_value", "'$.input'", id="e-empty-list"),
    pytest.param("embeddings", {**EMBEDDING, "input": [[]]}, "input", "invalid_value", "input[0]", id="e-empty-tokens"),
    pytest.param(
        "embeddings", {**EMBEDDING, "input": [1, -2]}, "input", "invalid_value", "token ids", id="e-neg-token"
    ),
    pytest.param(
        "embeddings", {**EMBEDDING, "input": ["a"] * 2049}, "input", "array_above_max_length", "2048", id="e-too-many"
    ),
    pytest.param(
        "embeddings", {**EMBEDDING, "encoding_format": "int8"}, "encoding_format", "invalid_value", "'int8'", id="e-fmt"
    ),
    pytest.param(
        "embeddings", {**EMBEDDING, "dimensions": 0}, "dimensions", "integer_below_min_value", "'dimensions'", id="e-d0"
    ),
    pytest.param(
        "embeddings", {**EMBEDDING, "dimensions": 2000}, "dimensions", "integer_above_max_value", "1536", id="e-dmax"
    ),
    pytest.param(
        "embeddings", {**EMBEDDING, "dimensions": 1.5}, "dimensions", "invalid_type", "an integer", id="e-d-float"
    ),
    pytest.param(
        "embeddings",
        {**EMBEDDING, "model": "text-embedding-ada-002", "dimensions": 512},
        "dimensions",
        None,
        "does not support specifying dimensions",
        id="e-ada-dimensions",
    ),
    pytest.param(
        "embeddings", {**EMBEDDING, "stream": True}, None, None, "Unrecognized request argument", id="e-stream"
    ),
]


@pytest.mark.parametrize(("api", "body", "param", "code", "words"), BAD)
def test_validation_errors(
    server: FakeServer, api: str, body: dict[str, Any], param: str | None, code: str | None, words: str
) -> None:
    """Bad bodies get a 400 in OpenAI's shape, are journaled as rejected, and the server goes on."""
    server.set_scenario(Scenario.of(reply("fine", repeat=True)))
    response = raw(server, api, body)
    assert response.status == 400
    problem = json.loads(response.body)["error"]
    assert (problem["type"], problem["param"], problem["code"]) == ("invalid_request_error", param, code)
    assert words in problem["message"]
    assert server.journal()[0].outcome == "rejected"
    good = COMPLETION if api == "completions" else EMBEDDING
    assert raw(server, api, good).status == 200


def test_validation_error_reaches_the_sdk_as_bad_request(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("fine", repeat=True)))
    with pytest.raises(openai.BadRequestError) as caught:
        embed("sync", server, encoding_format="float", dimensions=-1)
    assert caught.value.param == "dimensions"
