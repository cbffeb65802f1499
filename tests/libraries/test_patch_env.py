"""`fake_llm.patch_env()` with the client libraries that build their own client from the
environment: each, given no base URL and no key, reaches this test's namespace.

langchain-openai reads `OPENAI_API_BASE` before `OPENAI_BASE_URL`, litellm reads
`ANTHROPIC_API_BASE` before `ANTHROPIC_BASE_URL`: a stale value of either in a developer's
shell would win, which is why `patch_env()` sets both. Each test sets the stale values first.
"""

from __future__ import annotations

import os

import pytest

from sparring import FakeLLM, reply, rule

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def stale_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell pointed somewhere else, as a developer's might be."""
    for name in ("OPENAI_API_BASE", "OPENAI_BASE_URL"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/v1")
    for name in ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "a-real-token")
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_API_BASE"):
        monkeypatch.setenv(name, "https://stale.openai.azure.com")
    for name in ("AZURE_OPENAI_AD_TOKEN", "AZURE_AD_TOKEN"):
        monkeypatch.setenv(name, "a-real-entra-token")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of litellm's price list


def answered(fake_llm: FakeLLM) -> list[tuple[str, int | None]]:
    return [(e.path, e.status) for e in fake_llm.journal]


@pytest.mark.usefixtures("stale_env")
def test_langchain_openai(fake_llm: FakeLLM) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    fake_llm.add(reply("from langchain"))
    fake_llm.patch_env()
    assert langchain_openai.ChatOpenAI(model="gpt-4o", max_retries=0).invoke("Hi").content == "from langchain"
    assert answered(fake_llm) == [("/v1/chat/completions", 200)]


@pytest.mark.usefixtures("stale_env")
def test_langchain_azure_openai(fake_llm: FakeLLM) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    fake_llm.add(rule(reply("from azure"), endpoint="azure_chat"))
    fake_llm.patch_env()
    chat = langchain_openai.AzureChatOpenAI(azure_deployment="gpt-4o-prod", max_retries=0)
    assert chat.invoke("Hi").content == "from azure"
    assert answered(fake_llm) == [("/openai/deployments/gpt-4o-prod/chat/completions", 200)]
    assert "authorization" not in {name.lower() for name in fake_llm.journal[0].headers}  # the key, no token


@pytest.mark.usefixtures("stale_env")
@pytest.mark.filterwarnings("ignore:.* the `ReadOnly` qualifier:UserWarning")  # litellm's own types
def test_litellm_azure(fake_llm: FakeLLM) -> None:
    litellm = pytest.importorskip("litellm")
    fake_llm.add(rule(reply("from azure"), endpoint="azure_chat"))
    fake_llm.patch_env()
    answer = litellm.completion(model="azure/gpt-4o-prod", messages=MESSAGES, num_retries=0)
    assert answer.choices[0].message.content == "from azure"
    assert answered(fake_llm) == [("/openai/deployments/gpt-4o-prod/chat/completions", 200)]


@pytest.mark.usefixtures("stale_env")
@pytest.mark.filterwarnings("ignore:.* the `ReadOnly` qualifier:UserWarning")  # litellm's own types
def test_litellm_openai_and_anthropic(fake_llm: FakeLLM) -> None:
    litellm = pytest.importorskip("litellm")
    fake_llm.add(rule(reply("from gpt"), endpoint="chat"), rule(reply("from claude"), endpoint="messages"))
    fake_llm.patch_env()
    gpt = litellm.completion(model="openai/gpt-4o", messages=MESSAGES, num_retries=0)
    claude = litellm.completion(model="anthropic/claude-sparring-1", messages=MESSAGES, num_retries=0)
    assert [gpt.choices[0].message.content, claude.choices[0].message.content] == ["from gpt", "from claude"]
    assert answered(fake_llm) == [("/v1/chat/completions", 200), ("/v1/messages", 200)]


@pytest.mark.usefixtures("stale_env")
@pytest.mark.parametrize(
    ("model", "path"), [("openai:gpt-4o", "/v1/responses"), ("anthropic:claude-sparring-1", "/v1/messages")]
)
@pytest.mark.asyncio
async def test_pydantic_ai(fake_llm: FakeLLM, model: str, path: str) -> None:
    pydantic_ai = pytest.importorskip("pydantic_ai")
    fake_llm.add(reply("from pydantic-ai"))
    fake_llm.patch_env()
    agent = pydantic_ai.Agent(model)
    try:
        assert (await agent.run("Hi")).output == "from pydantic-ai"
    finally:
        # The provider made its SDK client from the environment and never closes it: left to
        # the garbage collector, its sockets would warn in whichever later test collects them.
        await agent.model.client.close()
    assert answered(fake_llm) == [(path, 200)]


@pytest.mark.usefixtures("stale_env")
def test_openai_agents(fake_llm: FakeLLM) -> None:
    agents = pytest.importorskip("agents")
    fake_llm.add(reply("from the agent"))
    fake_llm.patch_env()
    agent = agents.Agent(name="helper", model="gpt-4o")
    # Traces would go to api.openai.com, with the test's key.
    result = agents.Runner.run_sync(agent, "Hi", run_config=agents.RunConfig(tracing_disabled=True))
    assert result.final_output == "from the agent"
    assert answered(fake_llm) == [("/v1/responses", 200)]
    assert "ANTHROPIC_AUTH_TOKEN" not in os.environ
