"""Bedrock Runtime's InvokeModel, for Anthropic models: `POST /model/{modelId}/invoke` and
`/invoke-with-response-stream`.

The body is the model's own: for Anthropic models, the Messages API's body with
`anthropic_version` (`bedrock-2023-05-31`) in place of `model` and `stream`, which the path
says. The answer is the Messages API's, rendered by the `messages` dialect: a whole answer is
its JSON; a stream is one `chunk` event per Messages event, whose `bytes` is that event's JSON
(base64 in the frame's JSON payload, decoded by botocore). Bedrock sends no `ping`, and its
`message_stop` carries `amazon-bedrock-invocationMetrics`. Other models' bodies are refused
with a ValidationException naming what sparring answers.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from typing import Any

from sparring.fake_server.dialects import bedrock_eventstream as eventstream
from sparring.fake_server.dialects.anthropic_messages import AnthropicMessages
from sparring.fake_server.dialects.base import Frame, InvalidRequest, ParsedRequest, Route, compact
from sparring.fake_server.dialects.bedrock_common import Bedrock, model_id
from sparring.fake_server.dialects.bedrock_converse import latency_ms
from sparring.fake_server.resolve import Resolved

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_MESSAGES = AnthropicMessages()
_DATA = b"\ndata: "


class _Invoke(Bedrock):
    streams: bool
    tool_call_prefix = "toolu_bdrk_01"
    tool_call_length = 22
    in_stream = frozenset(
        {
            "internalServerException",
            "modelStreamErrorException",
            "validationException",
            "throttlingException",
            "modelTimeoutException",
            "serviceUnavailableException",
        }
    )

    def parse_at(self, body: object, route: Route) -> ParsedRequest:
        model = model_id(route)
        if "anthropic." not in model:
            raise InvalidRequest(
                f"sparring answers InvokeModel for Anthropic models only (a model id with 'anthropic.'), not"
                f" {model!r}: use the Converse API for other models"
            )
        if not isinstance(body, dict):
            raise InvalidRequest("Malformed input request, please reformat your input and try again.")
        if "anthropic_version" not in body:
            raise InvalidRequest(
                "Malformed input request: #: required key [anthropic_version] not found, please reformat your"
                " input and try again."
            )
        for key in ("model", "stream"):
            if key in body:
                raise InvalidRequest(
                    f"Malformed input request: #: extraneous key [{key}] is not permitted, please reformat your"
                    " input and try again."
                )
        fields = {k: v for k, v in body.items() if k != "anthropic_version"}
        parsed = _MESSAGES.parse({**fields, "model": model, "stream": self.streams})
        return ParsedRequest(
            body=body, model=model, messages=parsed.messages, stream=self.streams, has_tools=parsed.has_tools
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        frames = _MESSAGES.stream(resolved, request, rng)

        def chunks() -> Iterator[Frame]:
            for frame in frames:
                name, _, rest = frame.data.partition(_DATA)
                if name == b"event: ping":
                    continue
                data = rest.rstrip(b"\n")
                if name == b"event: message_stop":
                    data = compact({**json.loads(data), "amazon-bedrock-invocationMetrics": _metrics(resolved)})
                payload = b'{"bytes":"' + base64.b64encode(data) + b'"}'
                chunk = eventstream.event("chunk", payload)
                yield Frame(chunk, frame.paced, frame.terminal, frame.content, malform=eventstream.malformed)

        return chunks()

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        return _MESSAGES.paced_events(resolved, request)

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        return _MESSAGES.complete(resolved, request, rng)

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        # The stream's `contentType` member, which botocore reads from this header.
        return {
            **super().response_headers(rng, processing_ms=processing_ms),
            "X-Amzn-Bedrock-Content-Type": "application/json",
        }


class BedrockInvoke(_Invoke):
    name = "bedrock_invoke"
    path = "/model/{modelId}/invoke"
    streams = False


class BedrockInvokeStream(_Invoke):
    name = "bedrock_invoke_stream"
    path = "/model/{modelId}/invoke-with-response-stream"
    streams = True


def _metrics(resolved: Resolved) -> dict[str, int]:
    """What Bedrock adds to the last chunk: token counts and made-up latencies."""
    latency = latency_ms(resolved)
    return {
        "inputTokenCount": resolved.prompt_tokens,
        "outputTokenCount": resolved.completion_tokens,
        "invocationLatency": latency,
        "firstByteLatency": min(latency, 100),
    }
