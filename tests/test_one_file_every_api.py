"""One scenario file answers the same text through every API sparring serves, each in its own
SDK and wire format (issue 14's acceptance test): OpenAI's Chat, Responses and Completions,
Anthropic Messages, Ollama, Azure OpenAI, the Gemini API and Bedrock Runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from sparring import FakeServer
from sparring.scenario.loader import load_file

ollama = pytest.importorskip("ollama")
genai = pytest.importorskip("google.genai")
boto3 = pytest.importorskip("boto3")

ANSWER = "The capital of France is Paris."
QUESTION = "What is the capital of France?"
USER = [{"role": "user", "content": QUESTION}]
ONE_FILE = f"""\
# One rule, no match: every request on every route gets the same answer, streamed or whole.
replies:
  - text: {ANSWER}
    repeat: true
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeServer]:
    path = tmp_path / "one.yaml"
    path.write_text(ONE_FILE, encoding="utf-8")
    with FakeServer(load_file(path)) as fake:
        yield fake


def test_one_scenario_file_answers_every_api_through_its_sdk(server: FakeServer) -> None:
    texts: dict[str, str] = {}
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)  # type: ignore[arg-type]
        texts["chat"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        with client.responses.stream(model="gpt-4o", input=QUESTION) as events:
            texts["responses"] = events.get_final_response().output_text
        legacy = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=QUESTION, stream=True)
        texts["completions"] = "".join(c.choices[0].text for c in legacy if c.choices)
    with (
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as claude,
        claude.messages.stream(model="claude-sparring-1", max_tokens=64, messages=USER) as message,  # type: ignore[arg-type]
    ):
        texts["messages"] = message.get_final_text()
    with ollama.Client(host=server.url) as local:
        texts["ollama_chat"] = "".join(
            part.message.content or "" for part in local.chat(model="llama3.2", messages=USER, stream=True)
        )
        texts["ollama_generate"] = "".join(
            part.response for part in local.generate(model="llama3.2", prompt=QUESTION, stream=True)
        )
    with openai.AzureOpenAI(
        azure_endpoint=server.url, api_version="2024-10-21", api_key="azure-key", max_retries=0
    ) as azure:
        stream = azure.chat.completions.create(model="gpt-4o", messages=USER, stream=True)  # type: ignore[arg-type]
        texts["azure_chat"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    with openai.OpenAI(base_url=f"{server.url}/openai/v1", api_key="azure-key", max_retries=0) as v1:
        stream = v1.chat.completions.create(model="gpt-4o", messages=USER, stream=True)  # type: ignore[arg-type]
        texts["azure_v1_chat"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    gemini = genai.Client(api_key="gemini-key", http_options=genai.types.HttpOptions(base_url=server.url))
    with gemini:
        chunks = gemini.models.generate_content_stream(model="gemini-2.5-flash", contents=QUESTION)
        texts["gemini_stream"] = "".join(c.text or "" for c in chunks)
        texts["gemini_generate"] = gemini.models.generate_content(model="gemini-2.5-flash", contents=QUESTION).text
    bedrock = boto3.session.Session().client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDSPARRING",
        aws_secret_access_key="not-checked",
    )
    claude_id = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    try:
        asked = [{"role": "user", "content": [{"text": QUESTION}]}]
        events = bedrock.converse_stream(modelId=claude_id, messages=asked)["stream"]
        texts["bedrock_converse_stream"] = "".join(
            e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
        )
        whole = bedrock.converse(modelId=claude_id, messages=asked)["output"]["message"]
        texts["bedrock_converse"] = whole["content"][0]["text"]
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": USER}
        chunks = bedrock.invoke_model_with_response_stream(modelId=claude_id, body=json.dumps(body))["body"]
        invoked = [json.loads(chunk["chunk"]["bytes"]) for chunk in chunks]
        texts["bedrock_invoke_stream"] = "".join(
            e["delta"]["text"] for e in invoked if e["type"] == "content_block_delta"
        )
    finally:
        bedrock.close()
    assert texts == dict.fromkeys(texts, ANSWER)
    assert len(texts) == 13
    paths = [entry.path for entry in server.journal()]
    assert paths == [
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/completions",
        "/v1/messages",
        "/api/chat",
        "/api/generate",
        "/openai/deployments/gpt-4o/chat/completions",
        "/openai/v1/chat/completions",
        "/v1/models/gemini-2.5-flash:streamGenerateContent",
        "/v1/models/gemini-2.5-flash:generateContent",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse-stream",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse",
        "/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke-with-response-stream",
    ]
    assert all(entry.outcome == "completed" for entry in server.journal())
