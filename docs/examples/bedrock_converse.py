"""Bedrock Runtime through boto3: ConverseStream and Converse, a tool call, a throttled
request retried, an exception in the stream, and InvokeModelWithResponseStream for Claude.

Needs boto3 (`pip install 'sparring[bedrock]'`).
"""

from __future__ import annotations

import json

import boto3
import botocore.config  # installed with boto3
import botocore.exceptions  # installed with boto3

from sparring import FakeServer, Fault, Scenario, error, reply, rule, tool_call

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SCENARIO = Scenario.of(
    # `message` matches the last user message's text blocks, whatever the API.
    rule(reply("It is sunny in Paris.", times=2), message="weather"),
    rule(reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})]), message="Paris"),
    # A 429 ThrottlingException once, then an answer: botocore retries it.
    rule(error("rate_limit"), reply("Answered after one retry."), message="busy"),
    # An exception message in the stream, after two events: EventStreamError, never retried.
    rule(reply("One two three four", fault=Fault("error_event", after_chunk=2, error="rate_limit")), message="fail"),
    rule(reply("Hello from Claude on Bedrock."), endpoint="bedrock_invoke_stream"),
)


def ask(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": [{"text": text}]}]


def main() -> None:
    with FakeServer(SCENARIO) as server:
        client = boto3.client(
            "bedrock-runtime",
            endpoint_url=server.url,  # botocore adds /model/{modelId}/converse-stream
            region_name="us-east-1",
            aws_access_key_id="AKIDSPARRING",  # any: the signature is not checked
            aws_secret_access_key="anything",
            config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3}),
        )
        # A stream of events: messageStart, contentBlockDelta..., contentBlockStop,
        # messageStop (the stop reason), metadata (usage and latency).
        stream = client.converse_stream(modelId=MODEL, messages=ask("What is the weather?"))["stream"]
        events = list(stream)
        text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
        assert text == "It is sunny in Paris."
        assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
        usage = events[-1]["metadata"]["usage"]
        assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]

        # Converse, whole.
        answer = client.converse(modelId=MODEL, messages=ask("And the weather tomorrow?"))
        assert answer["output"]["message"]["content"] == [{"text": "It is sunny in Paris."}]

        # A tool call: a toolUse block with its input as a dict.
        called = client.converse(modelId=MODEL, messages=ask("Paris?"))
        (block,) = called["output"]["message"]["content"]
        assert (block["toolUse"]["name"], block["toolUse"]["input"]) == ("get_weather", {"city": "Paris"})
        assert called["stopReason"] == "tool_use"

        # ThrottlingException is retried (botocore's standard mode sleeps up to 1 s first).
        retried = client.converse(modelId=MODEL, messages=ask("Are you busy?"))
        assert retried["ResponseMetadata"]["RetryAttempts"] == 1

        # An exception in the stream raises while you iterate, after the 200: not retried.
        stream = client.converse_stream(modelId=MODEL, messages=ask("fail please"))["stream"]
        try:
            list(stream)
        except botocore.exceptions.EventStreamError as exc:
            failed = exc
        else:
            raise AssertionError("the stream should have raised")
        finally:
            stream.close()  # a stream that raised keeps its connection until closed
        assert failed.response["Error"]["Code"] == "throttlingException"

        # InvokeModelWithResponseStream: each chunk's bytes is one Messages API event.
        messages = [{"role": "user", "content": "Hi"}]  # Anthropic's shape
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": messages}
        response = client.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(body))
        chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
        said = "".join(c["delta"].get("text", "") for c in chunks if c["type"] == "content_block_delta")
        assert said == "Hello from Claude on Bedrock."
        client.close()


if __name__ == "__main__":
    main()
