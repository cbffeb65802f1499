"""Azure OpenAI, driven by the openai SDK's `AzureOpenAI` and `AsyncAzureOpenAI` over real
sockets: the deployment routes (`?api-version=`), the v1 routes, Azure's errors, headers and
content filter annotations. Runs under openai 3.x and 2.x (Makefile `OPENAI2_TESTS`)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import httpx
import openai
import pytest

from sparring import FakeServer, Fault, Scenario, check_retries, error, reply, rule, tool_call
from sparring.errors import ScenarioError
from sparring.plugin.fake_llm import FakeLLM
from sparring.scenario.model import Match

VERSION = "2024-10-21"
HI = [{"role": "user", "content": "Hi"}]
SAFE = {c: {"filtered": False, "severity": "safe"} for c in ("hate", "self_harm", "sexual", "violence")}


def azure(server: FakeServer, **options: Any) -> openai.AzureOpenAI:
    options = {"api_version": VERSION, "api_key": "azure-key", "max_retries": 0, **options}
    return openai.AzureOpenAI(azure_endpoint=server.url, **options)


def async_azure(server: FakeServer, **options: Any) -> openai.AsyncAzureOpenAI:
    options = {"api_version": VERSION, "api_key": "azure-key", "max_retries": 0, **options}
    return openai.AsyncAzureOpenAI(azure_endpoint=server.url, **options)


def extra(model: Any, key: str) -> Any:
    """A field Azure adds and the SDK's types do not declare."""
    return (model.model_extra or {}).get(key)


# -- streamed and whole chat ------------------------------------------------------------------


def test_sync_stream_starts_with_the_prompt_filter_chunk(server: FakeServer) -> None:
    """The first chunk has no choices and carries `prompt_filter_results`; each chunk with text
    carries its choice's `content_filter_results`; the text is the scripted one."""
    server.set_scenario(Scenario.of(reply("Hello from Azure")))
    with azure(server, azure_deployment="my-gpt4o") as client:
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=HI, stream=True))
    first, rest = chunks[0], chunks[1:]
    assert first.choices == []
    assert first.id == ""
    assert extra(first, "prompt_filter_results") == [{"prompt_index": 0, "content_filter_results": SAFE}]
    assert "".join(c.choices[0].delta.content or "" for c in rest) == "Hello from Azure"
    with_text = [c for c in rest if c.choices[0].delta.content]
    assert with_text
    assert all(extra(c.choices[0], "content_filter_results") == SAFE for c in with_text)
    assert extra(rest[0].choices[0], "content_filter_results") == {}  # the role chunk
    assert rest[-1].choices[0].finish_reason == "stop"
    (entry,) = server.journal()
    assert entry.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert entry.outcome == "completed"


@pytest.mark.asyncio
async def test_async_whole_answer_with_azure_headers(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("A whole answer")))
    async with async_azure(server) as client:
        raw = await client.chat.completions.with_raw_response.create(model="my-deployment", messages=HI)
    completion = raw.parse()
    assert completion.choices[0].message.content == "A whole answer"
    assert extra(completion.choices[0], "content_filter_results") == SAFE
    assert extra(completion, "prompt_filter_results") == [{"prompt_index": 0, "content_filter_results": SAFE}]
    assert raw.headers["x-ms-region"] == "East US"
    assert raw.headers["apim-request-id"] == raw.headers["x-ms-client-request-id"]
    assert "openai-organization" not in raw.headers
    assert server.journal()[0].path == "/openai/deployments/my-deployment/chat/completions"


@pytest.mark.asyncio
async def test_async_streamed_tool_call(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})])))
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    async with async_azure(server, azure_deployment="dep") as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=HI, tools=tools, stream=True)
        calls: dict[int, dict[str, str]] = {}
        finish = None
        async for chunk in stream:
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or []:
                    got = calls.setdefault(call.index, {"name": "", "arguments": ""})
                    got["name"] += call.function.name or "" if call.function else ""
                    got["arguments"] += call.function.arguments or "" if call.function else ""
                finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}


def test_sync_whole_tool_call(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(tool_calls=[tool_call("lookup", {"q": "sparring"})])))
    with azure(server) as client:
        completion = client.chat.completions.create(model="dep", messages=HI)
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "sparring"})
    assert extra(completion.choices[0], "content_filter_results") == {}  # no text to judge


# -- the deployment is the model --------------------------------------------------------------


def test_rules_match_the_deployment_when_the_body_names_no_model(server: FakeServer) -> None:
    """Azure needs no `model` on a deployment route: the deployment is the model rules see."""
    server.set_scenario(Scenario.of(rule(reply("from the deployment"), model="prod-gpt4o")))
    answer = httpx.post(
        f"{server.url}/openai/deployments/prod-gpt4o/chat/completions?api-version={VERSION}",
        json={"messages": HI},
        headers={"api-key": "azure-key"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "from the deployment"


def test_the_sdk_without_a_deployment_puts_the_model_in_the_path(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(rule(reply("by model"), model="gpt-4o-mini", endpoint="azure_chat")))
    with azure(server) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert completion.choices[0].message.content == "by model"
    assert server.journal()[0].path == "/openai/deployments/gpt-4o-mini/chat/completions"


def test_endpoint_names_tell_azure_from_openai(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(rule(reply("azure"), endpoint="azure_chat"), rule(reply("openai"), endpoint="chat"))
    )
    with azure(server) as client:
        assert client.chat.completions.create(model="d", messages=HI).choices[0].message.content == "azure"
    with openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0) as plain:
        assert plain.chat.completions.create(model="d", messages=HI).choices[0].message.content == "openai"


def test_an_unknown_endpoint_suggests_the_azure_name() -> None:
    with pytest.raises(ScenarioError, match="did you mean 'azure_chat'"):
        Match(endpoint="azure-chat")


# -- Azure's own refusals -------------------------------------------------------------------


def test_no_api_version_is_resource_not_found(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never sent", optional=True)))
    answer = httpx.post(
        f"{server.url}/openai/deployments/dep/chat/completions",
        json={"messages": HI},
        headers={"api-key": "azure-key"},
        timeout=10,
    )
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "404", "message": "Resource not found"}}
    assert "apim-request-id" in answer.headers
    assert server.journal()[0].outcome == "rejected"


def test_the_v1_routes_need_no_api_version(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("v1 chat"), reply("v1 responses")))
    with openai.OpenAI(base_url=f"{server.url}/openai/v1", api_key="azure-key", max_retries=0) as client:
        chat = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in chat if c.choices) == "v1 chat"
        response = client.responses.create(model="gpt-4o", input="Hi")
    assert response.output_text == "v1 responses"
    assert [e.path for e in server.journal()] == ["/openai/v1/chat/completions", "/openai/v1/responses"]


@pytest.mark.asyncio
async def test_no_key_is_access_denied(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never sent", optional=True)))
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{server.url}/openai/deployments/dep/chat/completions?api-version={VERSION}", json={"messages": HI}
        )
        bearer = await client.post(
            f"{server.url}/openai/deployments/dep/chat/completions?api-version={VERSION}",
            json={"messages": HI},
            headers={"Authorization": "Bearer an-entra-id-token"},
        )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "401"
    assert answer.json()["error"]["message"].startswith("Access denied due to invalid subscription key")
    assert bearer.status_code == 200, "a bearer token (Entra ID) is credentials too"


# -- errors and retries -------------------------------------------------------------------------


def test_the_sdk_retries_a_429_after_its_retry_after(server: FakeServer) -> None:
    """Azure's 429: its own body, `retry-after-ms`; the SDK waits it out and retries once."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after_ms=200), reply("after the wait")))
    with azure(server, max_retries=2) as client:
        assert client.chat.completions.create(model="dep", messages=HI).choices[0].message.content == "after the wait"
    entries = server.journal()
    assert [(e.status, e.retry_count) for e in entries] == [(429, 0), (200, 1)]
    report = check_retries(entries, attempts=2)
    (first, second) = report.attempts
    assert first.retry_after == pytest.approx(0.2)
    assert second.gap_before is not None
    assert second.gap_before >= 0.2 - 0.05


def test_a_429_in_azures_shape(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("rate_limit", retry_after=6)))
    with azure(server) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="dep", messages=HI)
    body, headers = caught.value.body, caught.value.response.headers
    assert isinstance(body, dict)
    assert body["code"] == "429"
    assert (
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {VERSION}" in body["message"]
    )
    assert "Please retry after 6 seconds." in body["message"]
    assert headers["retry-after"] == "6"
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert "x-ratelimit-limit-requests" not in headers


@pytest.mark.asyncio
async def test_a_content_filter_error(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error(400, code="content_filter")))
    async with async_azure(server) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="dep", messages=HI, stream=True)
    exc = caught.value
    assert exc.code == "content_filter"
    assert exc.param == "prompt"
    assert isinstance(exc.body, dict)
    inner = exc.body["innererror"]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    assert inner["content_filter_result"]["violence"] == {"filtered": True, "severity": "medium"}
    assert "content management policy" in exc.message


def test_a_mid_stream_cut_reaches_the_caller_without_a_retry(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("one two three four", fault=Fault("reset", after_chunk=3))))
    got: list[str] = []

    def read(client: openai.AzureOpenAI) -> None:
        for chunk in client.chat.completions.create(model="dep", messages=HI, stream=True):
            got.extend(c.delta.content or "" for c in chunk.choices)

    with azure(server, max_retries=2) as client, pytest.raises(Exception) as caught:  # noqa: PT011
        read(client)
    assert type(caught.value).__name__ in ("APIConnectionError", "ReadError"), repr(caught.value)
    assert "".join(got) == "one"  # the prompt filter chunk, the role chunk, then `one`
    (entry,) = server.journal()  # after the headers, the SDK does not retry
    assert entry.outcome == "fault"


def test_other_presets_keep_openais_shape(server: FakeServer) -> None:
    """What the model service itself refuses Azure passes on in OpenAI's shape."""
    server.set_scenario(Scenario.of(error("context_length_exceeded")))
    with azure(server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="dep", messages=HI)
    assert caught.value.code == "context_length_exceeded"
    assert "apim-request-id" in caught.value.response.headers


# -- completions and embeddings on their deployment routes ----------------------------------


def test_completions_and_embeddings(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("completed text", times=2)))
    with azure(server) as client:
        completion = client.completions.create(model="instruct", prompt="Say it")
        embedding = client.embeddings.create(model="embedder", input="hello")
    assert completion.choices[0].text == "completed text"
    assert extra(completion, "prompt_filter_results") is not None
    assert len(embedding.data[0].embedding) > 0
    assert [e.path for e in server.journal()] == [
        "/openai/deployments/instruct/completions",
        "/openai/deployments/embedder/embeddings",
    ]


# -- the plugin's clients ------------------------------------------------------------------------


def test_fake_llm_azure_openai_lands_in_the_tests_namespace(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("in my namespace"))
    client = fake_llm.azure_openai(azure_deployment="dep")
    stream = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "in my namespace"
    (entry,) = fake_llm.journal
    assert entry.path == "/openai/deployments/dep/chat/completions"


@pytest.mark.asyncio
async def test_fake_llm_async_azure_openai(fake_llm: FakeLLM) -> None:
    fake_llm.add(rule(reply("async azure"), endpoint="azure_chat", model="dep"))
    async with fake_llm.async_azure_openai() as client:
        completion = await client.chat.completions.create(model="dep", messages=HI)
    assert completion.choices[0].message.content == "async azure"


def test_the_api_key_header_routes_to_a_namespace(server: FakeServer) -> None:
    """A request to the server's root with an `api-key` routed to a namespace lands there, as
    `Authorization: Bearer` and `x-api-key` do."""
    server.store.create("team-a", api_keys=["key-of-team-a"])
    server.store.extend(Scenario.of(reply("team a answers")), "team-a")
    with azure(server, api_key="key-of-team-a") as client:
        assert client.chat.completions.create(model="d", messages=HI).choices[0].message.content == "team a answers"
    assert [e.path for e in server.journal("team-a")] == ["/openai/deployments/d/chat/completions"]


@pytest.mark.parametrize("method", ["azure_openai", "async_azure_openai"])
def test_a_missing_sdk_names_the_extra_to_install(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # what `import` meets when the SDK is not installed
    expected = f"fake_llm.{method}() needs openai, which is not installed: pip install 'sparring[openai]'"
    with pytest.raises(ImportError, match=re.escape(expected)):
        getattr(fake_llm, method)()
