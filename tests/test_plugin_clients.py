"""`fake_llm`'s ready-made clients and environment: `anthropic()`, `async_anthropic()`,
`patch_env()`, and what a missing SDK says."""

from __future__ import annotations

import os
import re
import sys

import anthropic
import ollama
import openai
import pytest

from sparring import FakeLLM, reply, rule
from sparring.plugin.clients import AZURE_API_VERSION

pytest_plugins = ["pytester"]

MESSAGES = [{"role": "user", "content": "Hi"}]
ENV = (
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_BASE",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "OLLAMA_HOST",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_API_BASE",
    "AZURE_API_KEY",
    "AZURE_API_VERSION",
    "AZURE_AD_TOKEN",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "GOOGLE_GEMINI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
)


def test_anthropic_client_streams_and_is_closed_at_the_end(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=["Hel", "lo"]))
    client = fake_llm.anthropic(max_retries=0)
    assert str(client.base_url) == fake_llm.url + "/"
    assert client.api_key == fake_llm.api_key
    with client.messages.stream(model="claude-sparring-1", max_tokens=100, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello"
    assert [(e.path, e.outcome) for e in fake_llm.journal] == [("/v1/messages", "completed")]
    assert not client.is_closed()
    fake_llm.close()  # what the fixture does when the test ends
    assert client.is_closed()


@pytest.mark.asyncio
async def test_async_anthropic_client(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello from Claude"))
    async with fake_llm.async_anthropic(max_retries=0) as client:
        message = await client.messages.create(model="claude-sparring-1", max_tokens=100, messages=MESSAGES)
    assert [block.model_dump()["text"] for block in message.content] == ["Hello from Claude"]
    assert [e.path for e in fake_llm.journal] == ["/v1/messages"]


@pytest.mark.asyncio
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
async def test_async_clients_know_their_platform_without_a_thread(fake_llm: FakeLLM, sdk: str) -> None:
    """Left to itself, an async SDK client finds the OS for its `X-Stainless-OS` header in a
    worker thread of the event loop, which pytest-asyncio then shuts down with the loop at the
    end of every test. The clients made here are told it, and send the same header."""
    import asyncio

    fake_llm.add(reply("one"))
    loop = asyncio.get_running_loop()
    assert loop._default_executor is None  # type: ignore[attr-defined]
    if sdk == "openai":
        async with fake_llm.async_openai(max_retries=0) as client:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    else:
        async with fake_llm.async_anthropic(max_retries=0) as claude:
            await claude.messages.create(model="claude-sparring-1", max_tokens=100, messages=MESSAGES)
    assert loop._default_executor is None  # type: ignore[attr-defined]
    module = openai if sdk == "openai" else anthropic
    own = str(module._base_client.get_platform())  # what a client left to itself finds
    assert fake_llm.journal[0].headers["x-stainless-os"] == own


def test_ollama_client_streams_and_is_closed_at_the_end(fake_llm: FakeLLM) -> None:
    """The ollama client sends no API key: its URL (`/ns/NAME`) routes it to the test."""
    fake_llm.add(rule(reply(chunks=["Hel", "lo"]), endpoint="ollama_chat"))
    client = fake_llm.ollama()
    assert str(client._client.base_url) == fake_llm.url + "/"
    parts = list(client.chat(model="llama3.2", messages=MESSAGES, stream=True))
    assert "".join(p.message.content or "" for p in parts) == "Hello"
    assert [(e.path, e.outcome) for e in fake_llm.journal] == [("/api/chat", "completed")]
    assert "authorization" not in fake_llm.journal[0].headers
    assert not client._client.is_closed
    fake_llm.close()  # what the fixture does when the test ends
    assert client._client.is_closed


@pytest.mark.asyncio
async def test_async_ollama_client(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello from llama"))
    async with fake_llm.async_ollama(timeout=5) as client:
        answer = await client.generate(model="llama3.2", prompt="Hi", stream=False)
    assert answer.response == "Hello from llama"
    assert [e.path for e in fake_llm.journal] == ["/api/generate"]


def test_the_clients_share_one_tls_context(fake_llm: FakeLLM) -> None:
    """Building a TLS context costs about 20 ms; every client made here reuses one."""
    made = [fake_llm.openai(), fake_llm.anthropic()]
    contexts = {id(c._client._transport._pool._ssl_context) for c in made}
    contexts.add(id(fake_llm.ollama()._client._transport._pool._ssl_context))
    assert len(contexts) == 1


def test_patch_env_points_clients_made_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM) -> None:
    """`openai.OpenAI()`, `openai.AzureOpenAI()`, `anthropic.Anthropic()` and `ollama.Client()`,
    given nothing, reach this test; a real Anthropic or Azure token in the environment is
    neither used nor sent."""
    # monkeypatch comes first so it is torn down last: patch_env's undo puts back what it
    # found, this test's stale values, and monkeypatch's own undo must come after it.
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "a-real-token")
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "a-real-entra-token")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_llm.add(
        rule(reply("from openai"), endpoint="chat"),
        rule(reply("from anthropic"), endpoint="messages"),
        rule(reply("from ollama"), endpoint="ollama_chat"),
        rule(reply("from azure"), endpoint="azure_chat"),
    )
    values = fake_llm.patch_env()
    assert values == {
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_BASE": fake_llm.base_url,
        "OPENAI_API_KEY": fake_llm.api_key,
        "ANTHROPIC_BASE_URL": fake_llm.url,
        "ANTHROPIC_API_BASE": fake_llm.url,
        "ANTHROPIC_API_KEY": fake_llm.api_key,
        "ANTHROPIC_AUTH_TOKEN": None,
        "OLLAMA_HOST": fake_llm.url,
        "AZURE_OPENAI_ENDPOINT": fake_llm.url,
        "AZURE_OPENAI_API_KEY": fake_llm.api_key,
        "OPENAI_API_VERSION": AZURE_API_VERSION,
        "AZURE_OPENAI_AD_TOKEN": None,
        "AZURE_API_BASE": fake_llm.url,
        "AZURE_API_KEY": fake_llm.api_key,
        "AZURE_API_VERSION": AZURE_API_VERSION,
        "AZURE_AD_TOKEN": None,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake_llm.url,
        "AWS_ACCESS_KEY_ID": fake_llm.api_key,
        "AWS_SECRET_ACCESS_KEY": "sparring-secret",
        "AWS_SESSION_TOKEN": None,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "GOOGLE_GEMINI_BASE_URL": fake_llm.url,
        "GEMINI_API_KEY": fake_llm.api_key,
        "GOOGLE_API_KEY": fake_llm.api_key,
        "GOOGLE_GENAI_USE_VERTEXAI": None,
    }
    assert {name: os.environ.get(name) for name in ENV} == values
    with openai.OpenAI(max_retries=0) as gpt, anthropic.Anthropic(max_retries=0) as claude:
        assert (gpt.api_key, claude.api_key, claude.auth_token) == (fake_llm.api_key, fake_llm.api_key, None)
        answer = gpt.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        message = claude.messages.create(model="claude-sparring-1", max_tokens=100, messages=MESSAGES)
    with ollama.Client() as llama:
        said = llama.chat(model="llama3.2", messages=MESSAGES)
    with openai.AzureOpenAI(max_retries=0) as azure:
        deployed = azure.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES)
    assert deployed.choices[0].message.content == "from azure"
    assert fake_llm.journal[-1].headers.get("api-key") is not None  # the key, not the token
    assert "authorization" not in {name.lower() for name in fake_llm.journal[-1].headers}
    assert answer.choices[0].message.content == "from openai"
    assert [block.model_dump()["text"] for block in message.content] == ["from anthropic"]
    assert said.message.content == "from ollama"
    assert [e.path for e in fake_llm.journal] == [
        "/v1/chat/completions",
        "/v1/messages",
        "/api/chat",
        "/openai/deployments/gpt-4o-prod/chat/completions",
    ]


def test_patch_env_after_the_end_is_refused(fake_llm: FakeLLM) -> None:
    fake_llm.close()
    with pytest.raises(RuntimeError, match=r"patch_env\(\) after the test ended: nothing would undo it"):
        fake_llm.patch_env()
    assert os.environ.get("OPENAI_API_KEY") != fake_llm.api_key


RESTORED = """
import os

import pytest

NAMES = {names!r}


def test_1_patches(fake_llm):
    fake_llm.patch_env()
    assert os.environ["OPENAI_API_KEY"] == fake_llm.api_key
    assert "ANTHROPIC_AUTH_TOKEN" not in os.environ


def test_2_patches_and_fails(fake_llm):
    fake_llm.patch_env()
    fake_llm.patch_env()  # twice: still restored to what was there before the test
    raise AssertionError("the test failed")


def test_3_sees_the_environment_as_it_was():
    assert {{name: os.environ.get(name) for name in NAMES}} == {before!r}
"""


def test_patch_env_is_undone_when_the_test_ends(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Undone after a test that passed and after one that failed: the next test sees the
    environment it would have seen."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "a-real-token")
    before = {name: os.environ.get(name) for name in ENV}
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    pytester.makepyfile(test_env=RESTORED.format(names=ENV, before=before))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_env.py::test_2_patches_and_fails - AssertionError: the test failed"])


@pytest.mark.parametrize(
    ("method", "sdk"),
    [("openai", "openai"), ("async_openai", "openai"), ("anthropic", "anthropic"), ("async_anthropic", "anthropic")],
)
def test_a_missing_sdk_names_the_extra_to_install(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, method: str, sdk: str
) -> None:
    monkeypatch.setitem(sys.modules, sdk, None)  # what `import` meets when the SDK is not installed
    expected = f"fake_llm.{method}() needs {sdk}, which is not installed: pip install 'sparring[{sdk}]'"
    with pytest.raises(ImportError, match=re.escape(expected)):
        getattr(fake_llm, method)()
