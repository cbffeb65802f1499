"""What the Bedrock Runtime routes share: the model id in the path, SigV4 auth, errors, headers.

The facts, from botocore's model of the service (`botocore/data/bedrock-runtime/2023-09-30/
service-2.json`) and its parsers, as docs/bedrock.md lists them with their sources:
- Every route is `POST /model/{modelId}/<operation>`; botocore URL-encodes the model id (its
  `:` as `%3A`), which the server decodes before matching.
- An HTTP error is JSON `{"message": "..."}` with its code in the `x-amzn-ErrorType` header
  (`ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/`); botocore's
  rest-json parser reads the code from that header, up to the first `:`. Every response has
  an `x-amzn-RequestId`.
- A stream is `application/vnd.amazon.eventstream` (`bedrock_eventstream.py`); an error once it
  is under way is an exception message whose `:exception-type` is a member of the stream's
  union (`throttlingException`, `modelStreamErrorException`, ...), which botocore raises as
  `EventStreamError` after the 200, and never retries.

Requests are signed with SigV4; the signature is not checked. A request without any
`Authorization` gets AWS's 403 `MissingAuthenticationTokenException`.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sparring.fake_server.dialects import bedrock_eventstream as eventstream
from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Dialect, Frame, HttpError, InvalidRequest, ParsedRequest, Route, compact
from sparring.scenario.delivery import Fault, RateLimits
from sparring.scenario.model import ErrorReply

# The namespace AWS appends to a Bedrock error code in `x-amzn-ErrorType`.
_ERROR_NAMESPACE = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_THROTTLED = "Too many requests, please wait before trying again."
# preset: (status, error code, message); `{model}` comes from the request.
PRESETS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "ThrottlingException", _THROTTLED),
    "insufficient_quota": (
        400,
        "ServiceQuotaExceededException",
        "Your request exceeds the service quota for your account.",
    ),
    "server_error": (500, "InternalServerException", "The server encountered an internal error. Try again later."),
    "bad_gateway": (502, "InternalServerException", "Bad gateway."),
    "unavailable": (503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
    "overloaded": (503, "ServiceUnavailableException", "Model is getting throttled. Try your request again."),
    "timeout": (408, "ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    "bad_request": (400, "ValidationException", "Malformed input request, please reformat your input and try again."),
    "context_length_exceeded": (400, "ValidationException", "Input is too long for requested model."),
    "unauthorized": (403, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "forbidden": (403, "AccessDeniedException", "You don't have access to the model with the specified model ID."),
    "not_found": (404, "ResourceNotFoundException", "Could not resolve the foundation model from model id {model}."),
    "conflict": (409, "ConflictException", "The request conflicts with the current state of the resource."),
}
# A bare status gets the code the service model gives that status.
_CODE_BY_STATUS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_PRESET_BY_STATUS = {429: "rate_limit", 500: "server_error", 502: "bad_gateway", 503: "unavailable", 408: "timeout"}
# A preset's error in a stream: the union member it becomes (ConverseStreamOutput and
# ResponseStream both have these); the rest are the model's stream error.
_IN_STREAM = {
    "ThrottlingException": "throttlingException",
    "ServiceQuotaExceededException": "throttlingException",
    "InternalServerException": "internalServerException",
    "ServiceUnavailableException": "serviceUnavailableException",
    "ValidationException": "validationException",
}
_UNSEEDED = random.SystemRandom()


def request_id(rng: random.Random | None) -> str:
    """A request id, a UUID as AWS sends them, drawn from the server's seeded generator."""
    return str(uuid.UUID(int=(rng or _UNSEEDED).getrandbits(128), version=4))


class Bedrock(Dialect):
    """A Bedrock Runtime operation at `/model/{modelId}/...`: errors, headers, auth."""

    tool_call_prefix = "tooluse_"
    tool_call_length = 22
    stream_content_type = eventstream.CONTENT_TYPE
    keepalive = False  # the event stream has no message a client skips
    text_lines = False  # binary frames: `wire.line_ending` would corrupt them
    bad_json = "Malformed input request, please reformat your input and try again."
    in_stream: frozenset[str] = frozenset()  # the exception members this operation's stream has

    def parse(self, body: object) -> ParsedRequest:
        return self.parse_at(body, Route())

    def refuse(self, route: Route, headers: Mapping[str, str]) -> InvalidRequest | None:
        if not headers.get("authorization", "").strip():
            return InvalidRequest(
                "Missing Authentication Token", code="MissingAuthenticationTokenException", status=403
            )
        return None

    def claims(self, headers: Mapping[str, str]) -> bool:
        return headers.get("authorization", "").startswith("AWS4-HMAC-SHA256") or "x-amz-date" in headers

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        status, code, message = PRESETS[fault.error]
        text = fault.message or message.format(model=request.model)
        return [exception_frame(self._in_stream(code), text, status)]

    def _in_stream(self, code: str) -> str:
        member = _IN_STREAM.get(code) or code[0].lower() + code[1:]
        return member if member in self.in_stream else "modelStreamErrorException"

    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        """Bedrock sends none: scripted `rate_limits` go out under OpenAI's `x-ratelimit-*` names."""
        return common.rate_limit_headers(limits)

    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        preset = reply.preset or _PRESET_BY_STATUS.get(reply.status or 0)
        status, code, message = PRESETS[preset] if preset else (0, "", "")
        status = reply.status or status
        if not preset:
            code, message = code_for(status), f"Error {status}, scripted by sparring."
        code = reply.type or code  # `code` is OpenAI's finer field: Bedrock has one name for both
        body: dict[str, Any] | str
        if reply.body is not None:
            body = dict(reply.body) if not isinstance(reply.body, str) else reply.body
        else:
            body = {"message": reply.message or message.format(model=request.model if request else "the model")}
        headers = {**error_headers(code, rng), **self._retry_headers(reply)}
        return HttpError(status, body, {**headers, **reply.headers})

    def _retry_headers(self, reply: ErrorReply) -> dict[str, str]:
        """Scripted retry advice in the one header botocore reads, `x-amz-retry-after` (in
        milliseconds); Bedrock itself sends none, so nothing unless scripted."""
        headers: dict[str, str] = {}
        after_ms = reply.retry_after_ms
        if after_ms is None and isinstance(reply.retry_after, (int, float)):
            after_ms = reply.retry_after * 1000
        if after_ms is not None:
            headers["x-amz-retry-after"] = str(round(after_ms))
        elif isinstance(reply.retry_after, str):
            headers["retry-after"] = reply.retry_after
        if reply.rate_limits is not None:
            headers.update(self.rate_limit_headers(reply.rate_limits))
        return headers

    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        code = problem.code if problem.code and problem.code.endswith("Exception") else code_for(problem.status)
        return HttpError(problem.status, {"message": problem.message}, error_headers(code, rng))

    def unmatched(self, message: str, rng: random.Random | None = None) -> HttpError:
        error = self.invalid(InvalidRequest(message, code="ResourceNotFoundException", status=404), rng)
        return dataclasses.replace(error, headers={**error.headers, "x-should-retry": "false"})

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        return {"x-amzn-RequestId": request_id(rng)}


def code_for(status: int) -> str:
    return _CODE_BY_STATUS.get(status) or ("InternalServerException" if status >= 500 else "ValidationException")


def error_headers(code: str, rng: random.Random | None) -> dict[str, str]:
    return {"x-amzn-RequestId": request_id(rng), "x-amzn-ErrorType": code + _ERROR_NAMESPACE}


def exception_frame(member: str, message: str, status: int) -> Frame:
    """An exception message in a stream: `{"message"}`, and for the model's stream error the
    status and message of the error it stands for, as the service model has them."""
    payload: dict[str, Any] = {"message": message}
    if member == "modelStreamErrorException":
        payload.update(originalStatusCode=status, originalMessage=message)
    return Frame(eventstream.exception(member, compact(payload)), malform=eventstream.malformed)


def model_id(route: Route) -> str:
    """The model id the path names (decoded), or a ValidationException without one."""
    model = route.params.get("modelId", "")
    if not model:
        raise InvalidRequest("1 validation error detected: Value at 'modelId' failed to satisfy constraint")
    return model
