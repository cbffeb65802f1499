"""`fake_llm.bedrock()`: boto3's bedrock-runtime client pointed at this test."""

from __future__ import annotations

import boto3

from sparring import FakeLLM, reply

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def test_bedrock_streams(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello from Bedrock"))
    client = fake_llm.bedrock()  # closed when the test ends
    answer = client.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    events = list(answer["stream"])
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "Hello from Bedrock"
    assert fake_llm.journal[0].path == f"/model/{MODEL}/converse-stream"


def test_code_that_makes_its_own_client(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Found through the environment"))
    fake_llm.patch_env()  # AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ACCESS_KEY_ID, ... until the test ends
    client = boto3.client("bedrock-runtime")
    answer = client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert answer["output"]["message"]["content"] == [{"text": "Found through the environment"}]
    client.close()
