"""The Gemini API (`:generateContent`, `:streamGenerateContent?alt=sse`) against Google's
google-genai SDK, sync (httpx) and async (`client.aio`, aiohttp), and a raw reader.

Pins docs/gemini.md: SSE events of `GenerateContentResponse` objects with CRLF line endings,
text and function calls in `candidates[].content.parts`, the last event's `finishReason` and
usage, the `google.rpc.Status` errors, prompt blocks, and the same scenario answering it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from sparring import FakeServer, Scenario, Usage, Wire, error, parse_scenario, reply, rule, tool_call
from sparring.scenario.text import count_tokens

MODEL = "gemini-2.5-flash"
KEY = {"x-goog-api-key": "sk-gemini"}


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client(server: FakeServer, **options: Any) -> genai.Client:
    return genai.Client(api_key="sk-gemini", http_options=types.HttpOptions(base_url=server.url, **options))


def generate(kind: str, server: FakeServer, *, stream: bool = False, **params: Any) -> Any:
    """One call: the response, or every streamed chunk as a list."""
    params = {"model": MODEL, "contents": "Say hello", **params}
    options = params.pop("http_options", {})

    async def run_async() -> Any:
        sdk = client(server, **options)
        try:
            if stream:
                return [c async for c in await sdk.aio.models.generate_content_stream(**params)]
            return await sdk.aio.models.generate_content(**params)
        finally:
            await sdk.aio.aclose()

    if kind == "async":
        return asyncio.run(run_async())
    with client(server, **options) as sdk:
        if stream:
            return list(sdk.models.generate_content_stream(**params))
        return sdk.models.generate_content(**params)


def events(body: bytes) -> list[dict[str, Any]]:
    """Each SSE event's JSON, checking the framing: `data: ` and one line of JSON as Google
    prints it (`": "` after a key, `,` alone between items), each line ending in CRLF, a
    blank CRLF line after each event, nothing else."""
    text = body.decode()
    assert text.endswith("\r\n\r\n")
    found = []
    for block in text[: -len("\r\n\r\n")].split("\r\n\r\n"):
        assert block.startswith("data: "), block
        assert "\n" not in block, block
        assert "\r" not in block, block
        event = json.loads(block[len("data: ") :])
        assert block[len("data: ") :] == json.dumps(event, separators=(",", ": "), ensure_ascii=False)
        found.append(event)
    return found


def raw(
    server: FakeServer, body: Any, *, method: str = "streamGenerateContent?alt=sse", **headers: str
) -> httpx.Response:
    url = f"{server.url}/v1beta/models/{MODEL}:{method}"
    return httpx.post(url, json=body, headers={**KEY, **headers}, timeout=10)


HI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

# -- content ------------------------------------------------------------------------------------


def test_stream_equals_whole_answer(server: FakeServer, kind: str) -> None:
    """The streamed pieces join to the whole answer's text; the last chunk has the finish
    reason and the usage the whole answer has (prompt counted from the turns, output from the
    text)."""
    server.set_scenario(Scenario.of(reply("Hello world, how are you?", times=2)))
    chunks = generate(kind, server, stream=True)
    whole = generate(kind, server)
    assert [c.text for c in chunks[:-1]] == ["Hello", " world,", " how", " are", " you?"]
    assert [c.candidates[0].finish_reason for c in chunks] == [None] * 5 + [types.FinishReason.STOP]
    assert whole.text == "Hello world, how are you?"
    assert whole.candidates[0].finish_reason == types.FinishReason.STOP
    assert whole.candidates[0].content.role == "model"
    usage = whole.usage_metadata
    assert usage.candidates_token_count == count_tokens("Hello world, how are you?")
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert chunks[-1].usage_metadata == usage
    assert chunks[0].usage_metadata.candidates_token_count is None  # the prompt only, before the end
    assert whole.model_version == chunks[0].model_version == MODEL
    assert whole.response_id
    assert chunks[0].response_id == chunks[-1].response_id


def test_both_api_versions_and_models_prefix(server: FakeServer) -> None:
    """google-genai calls `v1` by default; `api_version="v1beta"` (and `v1alpha`) answer the
    same; a model given as `models/NAME` is the same model."""
    server.set_scenario(Scenario.of(reply("Same", repeat=True)))
    assert generate("sync", server).text == "Same"
    assert generate("sync", server, http_options={"api_version": "v1beta"}, model=f"models/{MODEL}").text == "Same"
    assert generate("async", server, http_options={"api_version": "v1alpha"}, stream=True)[0].text == "Same"
    assert [e.path for e in server.journal()] == [
        f"/v1/models/{MODEL}:generateContent",
        f"/v1beta/models/{MODEL}:generateContent",
        f"/v1alpha/models/{MODEL}:streamGenerateContent",
    ]


def test_function_calls_streamed_and_whole(server: FakeServer, kind: str) -> None:
    """A function call is a `functionCall` part with its arguments as an object; it carries an
    `id` only when the scenario gives one (the Gemini API sends none of its own)."""
    calls = [tool_call("get_weather", {"city": "Paris"}), tool_call("get_time", {"tz": "CET"}, id="call-7")]
    server.set_scenario(Scenario.of(reply(tool_calls=calls, times=2)))
    whole = generate(kind, server)
    chunks = generate(kind, server, stream=True)
    for said in (whole.function_calls, [c.function_calls[0] for c in chunks[:-1]]):
        assert [(f.name, f.args, f.id) for f in said] == [
            ("get_weather", {"city": "Paris"}, None),
            ("get_time", {"tz": "CET"}, "call-7"),
        ]
    assert whole.candidates[0].finish_reason == types.FinishReason.STOP


def test_finish_reasons(server: FakeServer) -> None:
    """`length` is MAX_TOKENS; `content_filter` is SAFETY, with the rating that blocked it."""
    server.set_scenario(
        Scenario.of(reply("cut", finish_reason="length"), reply("unsafe", finish_reason="content_filter"))
    )
    assert generate("sync", server).candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    blocked = generate("sync", server).candidates[0]
    assert blocked.finish_reason == types.FinishReason.SAFETY
    assert [(r.category, r.probability, r.blocked) for r in blocked.safety_ratings] == [
        (types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT, types.HarmProbability.HIGH, True)
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_blocked_prompt(server: FakeServer, kind: str, stream: bool) -> None:
    """`error(400, code="content_filter")`, Azure's prompt filter, is a prompt Google's filters
    block: no HTTP error but a 200 with `promptFeedback.blockReason` and no candidates (a stream's only event); the
    reply's `type` names another reason."""
    server.set_scenario(
        Scenario.of(
            error(400, code="content_filter"), error("bad_request", code="content_filter", type="PROHIBITED_CONTENT")
        )
    )
    for reason in (types.BlockedReason.SAFETY, types.BlockedReason.PROHIBITED_CONTENT):
        answer = generate(kind, server, stream=stream)
        answer = answer[0] if stream else answer
        assert answer.candidates is None
        assert answer.text is None
        assert answer.prompt_feedback.block_reason == reason
    assert [e.status for e in server.journal()] == [200, 200]


def test_scripted_usage_and_two_candidates(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(reply("counted", usage=Usage(prompt_tokens=11, completion_tokens=3)), reply("both", repeat=True))
    )
    usage = generate("sync", server).usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (11, 3, 14)
    two = generate("sync", server, config=types.GenerateContentConfig(candidate_count=2))
    assert [(c.index, c.content.parts[0].text) for c in two.candidates] == [(0, "both"), (1, "both")]


# -- matching -------------------------------------------------------------------------------------

ONE_FILE = """
rules:
  - replies:
      - text: Same words
        repeat: true
"""


def test_one_scenario_answers_gemini_and_openai(server: FakeServer) -> None:
    import openai

    server.set_scenario(parse_scenario(ONE_FILE))
    assert generate("sync", server).text == "Same words"
    assert "".join(c.text for c in generate("async", server, stream=True)) == "Same words"
    with openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as sdk:
        said = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert said.choices[0].message.content == "Same words"


def test_match_on_endpoint_system_model_and_tools(server: FakeServer) -> None:
    """`endpoint` tells the two routes apart; `system` reads `systemInstruction`, `tools` the
    `functionDeclarations` (whose names the journal shows), `model` the model of the path."""
    server.set_scenario(
        Scenario.of(
            rule(reply("streamed", repeat=True), endpoint="gemini_stream"),
            rule(reply("terse", repeat=True), endpoint="gemini_generate", system="terse", model="gemini-2.5-pro"),
            rule(reply("tooled", repeat=True), endpoint="gemini_generate", tools=True),
        )
    )
    weather = types.Tool(
        function_declarations=[types.FunctionDeclaration(name="get_weather", description="The weather")]
    )
    terse = types.GenerateContentConfig(system_instruction="Be terse.")
    assert generate("sync", server, stream=True)[0].text == "streamed"
    assert generate("sync", server, model="gemini-2.5-pro", config=terse).text == "terse"
    assert generate("sync", server, config=types.GenerateContentConfig(tools=[weather])).text == "tooled"
    asked = server.journal()[2].asked
    assert "tools get_weather" in asked


GEMINI_LOOP = """
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
    match: {tool_name: get_time, tool_result_regex: '12:00', message_count: 5}
    replies:
      - text: Sunny, and it is noon.
"""


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_a_tool_loop_matched_by_function_response(server: FakeServer, order: str) -> None:
    """An agent loop as a user writes it with google-genai: the model's `functionCall` parts
    go back in a `model` turn, each result in a `functionResponse` part of a `user` turn,
    matched to its call by name (the SDK sends no ids back) and by what it says."""
    scenario = parse_scenario(GEMINI_LOOP)
    server.set_scenario(scenario if order == "as written" else Scenario(rules=scenario.rules[::-1]))
    results = {"get_weather": {"forecast": "sunny in Paris"}, "get_time": {"time": "12:00"}}
    config = types.GenerateContentConfig(system_instruction="You are terse.")
    contents: list[Any] = [types.Content(role="user", parts=[types.Part(text="Weather and time in Paris?")])]
    with client(server) as sdk:
        for _ in range(5):
            answer = sdk.models.generate_content(model=MODEL, contents=contents, config=config)
            if not answer.function_calls:
                break
            contents.append(answer.candidates[0].content)
            contents.append(
                types.Content(
                    role="user",
                    parts=[
                        types.Part.from_function_response(name=c.name, response=results[c.name])
                        for c in answer.function_calls
                    ],
                )
            )
    assert answer.text == "Sunny, and it is noon."
    names = [r.name for r in scenario.rules]
    names = names if order == "as written" else names[::-1]
    assert [names[e.rule] for e in server.journal() if e.rule is not None] == [
        "the question",
        "the weather came back",
        "the time came back",
    ]


# -- the wire ---------------------------------------------------------------------------------------


def test_sse_framing_on_the_wire(server: FakeServer) -> None:
    """`text/event-stream` (no charset) and `content-disposition: attachment`, each event
    `data: {...}` and CRLF line endings, no `[DONE]`; Google's headers; the last event has the
    finish reason and the whole usage."""
    server.set_scenario(Scenario.of(reply("One two", usage=Usage(prompt_tokens=4, completion_tokens=2))))
    response = raw(server, HI)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["content-disposition"] == "attachment"
    assert response.headers["server-timing"].startswith("gfet4t7; dur=")
    found = events(response.content)
    assert [e["candidates"][0]["content"]["parts"][0]["text"] for e in found] == ["One", " two", ""]
    assert "finishReason" not in found[0]["candidates"][0]
    assert found[-1]["candidates"][0]["finishReason"] == "STOP"
    assert found[-1]["usageMetadata"] == {
        "promptTokenCount": 4,
        "candidatesTokenCount": 2,
        "totalTokenCount": 6,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
    }
    assert {e["responseId"] for e in found} == {found[0]["responseId"]}


def test_a_whole_answer_on_the_wire(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("f", {"a": [1, 2]})])))
    response = raw(server, HI, method="generateContent")
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert body["candidates"] == [
        {
            "content": {"parts": [{"functionCall": {"name": "f", "args": {"a": [1, 2]}}}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ]
    assert set(body) == {"candidates", "usageMetadata", "modelVersion", "responseId"}


@pytest.mark.parametrize(
    "wire",
    [{"write_size": 1}, {"write_size": [1, 7, 3], "events_per_write": 2}, {"line_ending": "lf"}, {"line_ending": "cr"}],
    ids=["one byte", "cycled", "lf", "cr"],
)
def test_wire_shaping_reaches_the_sdk_intact(server: FakeServer, kind: str, wire: dict[str, Any]) -> None:
    """Torn events and every line ending: the SDK's SSE reader puts the same chunks together,
    but for CR alone on the async client: its aiohttp reader splits lines at LF only, so the
    whole stream reads as one line it cannot parse. `lf` is the API's own endings (CRLF for
    Gemini); `cr` ends every line in CR."""
    server.set_scenario(Scenario.of(reply("Grüße aus Köln 🎉", wire=Wire(**wire))))
    if kind == "async" and wire.get("line_ending") == "cr":
        with pytest.raises(errors.UnknownApiResponseError, match="Failed to parse response as JSON"):
            generate(kind, server, stream=True)
        return
    chunks = generate(kind, server, stream=True)
    assert "".join(c.text or "" for c in chunks) == "Grüße aus Köln 🎉"


def test_line_endings_on_the_wire(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("a b", wire=Wire(line_ending="cr")), reply("a b", wire=Wire(write_size=5))))
    assert b"\n" not in raw(server, HI).content
    shaped = raw(server, HI).content
    assert shaped.count(b"\r\n\r\n") == 3
    assert events(shaped)[0]["candidates"][0]["content"]["parts"] == [{"text": "a"}]


# -- requests the API refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "contents is not specified"),
        ({"contents": "hi"}, "expected a list of Content"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "Please use a valid role"),
        ({"contents": [{"role": "user", "parts": []}]}, "parts must not be empty"),
        ({**HI, "generationConfig": {"candidateCount": 9}}, "candidate_count"),
    ],
)
def test_validation_errors(server: FakeServer, body: Any, message: str) -> None:
    response = raw(server, body)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert response.json()["error"]["code"] == 400
    assert message in response.json()["error"]["message"]


def test_refusals_by_route_and_key(server: FakeServer) -> None:
    """No key is Google's 403; `?key=` is a key too; a version Google does not serve is a 404;
    a stream without `?alt=sse` is refused (sparring sends no JSON-array streams)."""
    server.set_scenario(Scenario.of(reply("ok", repeat=True)))
    url = f"{server.url}/v1beta/models/{MODEL}:streamGenerateContent"
    no_key = httpx.post(url + "?alt=sse", json=HI)
    assert (no_key.status_code, no_key.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert httpx.post(url + "?alt=sse&key=sk-in-url", json=HI).status_code == 200
    array = httpx.post(url, json=HI, headers=KEY)
    assert array.status_code == 400
    assert "?alt=sse" in array.json()["error"]["message"]
    v2 = httpx.post(f"{server.url}/v2/models/{MODEL}:generateContent", json=HI, headers=KEY)
    assert (v2.status_code, v2.json()["error"]["status"]) == (404, "NOT_FOUND")
    bad = httpx.post(url + "?alt=sse", content=b"{not json", headers=KEY)
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("Invalid JSON payload received.")


def test_unmatched_request_is_a_404_naming_sparring(server: FakeServer, kind: str) -> None:
    with pytest.raises(errors.ClientError) as caught:
        generate(kind, server)
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert caught.value.message.startswith(
        f"sparring: no scripted reply answers POST /v1/models/{MODEL}:generateContent (model='{MODEL}'"
    )


def test_a_route_sparring_does_not_serve_gets_googles_shape(server: FakeServer) -> None:
    """`countTokens` and the like: a 404 `NOT_FOUND` status, as google-genai raises it. Under
    `/v1` it is a 405: sparring serves `GET /v1/models/{id}` to OpenAI's clients."""
    with client(server, api_version="v1beta") as sdk, pytest.raises(errors.ClientError) as caught:
        sdk.models.count_tokens(model=MODEL, contents="hi")
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert caught.value.message == f"Invalid URL (POST /v1beta/models/{MODEL}:countTokens)"
    with client(server) as sdk, pytest.raises(errors.ClientError) as v1:
        sdk.models.count_tokens(model=MODEL, contents="hi")
    assert v1.value.code == 405


def test_the_key_is_redacted_and_routes_to_a_namespace(server: FakeServer) -> None:
    """`x-goog-api-key` routes like the other APIs' keys, and the journal never keeps it."""
    server.store.create("team-a", api_keys=["sk-gemini"])
    server.store.extend(Scenario.of(reply("routed")), "team-a")
    assert generate("sync", server).text == "routed"
    entry = server.journal("team-a")[0]
    assert "sk-gemini" not in entry.headers["x-goog-api-key"]


def test_call_ids_pair_a_result_with_its_call(server: FakeServer) -> None:
    """A `functionCall` and its `functionResponse` that carry an `id` (newer models send one
    back) pair by it, not by the latest call of the name (`fc-2` here); a bare string
    `systemInstruction` is the system prompt."""
    server.set_scenario(Scenario.of(rule(reply("paired"), tool_call_id="fc-1", tool_name="get_weather", system="Be")))
    body = {
        "systemInstruction": "Be brief.",
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"id": "fc-1", "name": "get_weather", "args": {"c": "P"}}},
                    {"functionCall": {"id": "fc-2", "name": "get_weather", "args": {"c": "R"}}},
                ],
            },
            {"role": "user", "parts": [{"functionResponse": {"id": "fc-1", "name": "get_weather", "response": {}}}]},
        ],
    }
    response = raw(server, body, method="generateContent")
    assert response.json()["candidates"][0]["content"]["parts"] == [{"text": "paired"}]


def test_a_namespace_in_the_base_url(server: FakeServer) -> None:
    """google-genai keeps the base URL's path: `/ns/NAME` reaches that namespace."""
    server.store.create("team-b")
    server.set_scenario(Scenario.of(reply("from team b")), "team-b")
    with genai.Client(api_key="k", http_options=types.HttpOptions(base_url=f"{server.url}/ns/team-b")) as sdk:
        assert sdk.models.generate_content(model=MODEL, contents="hi").text == "from team b"
    assert [e.path for e in server.journal("team-b")] == [f"/v1/models/{MODEL}:generateContent"]
