"""What every Azure OpenAI route shares: its refusals, error shapes, headers, and the content
filter annotations. Each fact is written down with its source in docs/azure-openai.md.

Azure OpenAI answers in OpenAI's formats, with these differences a client meets:
- the deployment is in the path (`/openai/deployments/{deployment}/chat/completions`), and an
  `api-version` query parameter is required there: without it, `404 {"error": {"code": "404",
  "message": "Resource not found"}}`. The v1 routes (`/openai/v1/...`) need no version;
- the key comes in an `api-key` header (or `Authorization: Bearer`, as Entra ID tokens do);
- Azure's own errors are `{"error": {"code", "message"}}`: the 429 of a rate limit says how
  long to wait in its message and in `retry-after`/`retry-after-ms`; a prompt its content
  filter blocked is a 400 with `code: content_filter` and an `innererror`;
- answers carry `prompt_filter_results`, and each choice its `content_filter_results`;
- every response has `apim-request-id`, `x-request-id` and `x-ms-region`.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Frame, HttpError, InvalidRequest, ParsedRequest, Route, compact
from sparring.scenario.delivery import RateLimits
from sparring.scenario.model import ErrorReply

REGION = "East US"
# The categories every content filter result names, each judged `safe`.
_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
SAFE: dict[str, Any] = {c: {"filtered": False, "severity": "safe"} for c in _CATEGORIES}
PROMPT_FILTER_RESULTS: list[dict[str, Any]] = [{"prompt_index": 0, "content_filter_results": SAFE}]

RESOURCE_NOT_FOUND = "Resource not found"
ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)
DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
    "minutes, please wait a moment and try again."
)
RATE_LIMITED = (
    "Requests to the {operation} Operation under Azure OpenAI API version {version} have exceeded token rate limit "
    "of your current OpenAI S0 pricing tier. Please retry after {seconds} second{s}. Please go here: "
    "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
)
CONTENT_FILTERED = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please "
    "modify your prompt and retry. To learn more about our content filtering policies please read our "
    "documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


class AzureProblem(InvalidRequest):
    """A request Azure itself turns away, answered in its own shape: `{"error": {"code", "message"}}`."""


P = TypeVar("P", bound=ParsedRequest)


def with_version(parsed: ParsedRequest, kind: type[P], version: str | None) -> P:
    """`parsed` as `kind`: a subclass of its class with an `api_version` field, which the
    messages that name the version read."""
    values: dict[str, Any] = {f.name: getattr(parsed, f.name) for f in fields(parsed)}
    values["api_version"] = version
    return kind(**values)


def has_credentials(headers: Mapping[str, str]) -> bool:
    """An `api-key`, or a bearer token (what the SDK sends for an Entra ID token)."""
    auth = headers.get("Authorization", "")
    return bool(headers.get("api-key", "").strip()) or (auth[:7].lower() == "bearer " and bool(auth[7:].strip()))


def refusal(route: Route, headers: Mapping[str, str], *, needs_version: bool) -> AzureProblem | None:
    """The route without its `api-version` is no route at all (404); then, no key is a 401."""
    if needs_version and not route.query.get("api-version"):
        return AzureProblem(RESOURCE_NOT_FOUND, code="404", status=404)
    if not has_credentials(headers):
        return AzureProblem(ACCESS_DENIED, code="401", status=401)
    return None


def with_deployment(body: object, route: Route) -> object:
    """The body, with the deployment of the path as its `model` when it names none."""
    deployment = route.params.get("deployment")
    if deployment is not None and isinstance(body, dict) and body.get("model") in (None, ""):
        return {**body, "model": deployment}
    return body


def azure_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def content_filter_error(reply: ErrorReply) -> dict[str, Any]:
    """The 400 of a prompt the content filter blocked: OpenAI's fields, `status`, and the
    `innererror` that says which category was filtered (violence, here)."""
    result = {**SAFE, "jailbreak": {"filtered": False, "detected": False}}
    result["violence"] = {"filtered": True, "severity": "medium"}
    return {
        "error": {
            "message": reply.message or CONTENT_FILTERED,
            "type": reply.type,
            "param": reply.param if reply.param is not None else "prompt",
            "code": "content_filter",
            "status": reply.status or 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result},
        }
    }


def scripted_error(
    reply: ErrorReply, request: ParsedRequest | None, operation: str, fallback: Callable[[], HttpError]
) -> HttpError:
    """A scripted error in Azure's shape where Azure has its own: rate limits, a bad key, a
    missing deployment, the content filter. The rest Azure passes on from the model service in
    OpenAI's shape (`fallback`)."""
    if reply.body is not None:
        return fallback()
    preset = reply.preset or {429: "rate_limit", 401: "unauthorized", 404: "not_found"}.get(reply.status or 0)
    if reply.code == "content_filter":
        return HttpError(reply.status or 400, content_filter_error(reply), dict(reply.headers))
    if preset == "rate_limit":
        headers = _retry_headers(reply)
        seconds = _wait_seconds(headers)
        version = getattr(request, "api_version", None) or "v1"
        message = RATE_LIMITED.format(
            operation=operation, version=version, seconds=seconds, s="" if seconds == 1 else "s"
        )
        body = azure_error(reply.code or "429", reply.message or message)
        return HttpError(reply.status or 429, body, {**headers, **reply.headers})
    if preset == "unauthorized":
        body = azure_error(reply.code or "401", reply.message or ACCESS_DENIED)
        return HttpError(reply.status or 401, body, dict(reply.headers))
    if preset == "not_found":
        body = azure_error(reply.code or "DeploymentNotFound", reply.message or DEPLOYMENT_NOT_FOUND)
        return HttpError(reply.status or 404, body, dict(reply.headers))
    return fallback()


def _retry_headers(reply: ErrorReply) -> dict[str, str]:
    """`retry-after` and `retry-after-ms` as scripted (1 s of each by default), and the
    remaining counts at zero; none of OpenAI's `x-ratelimit-limit-*`/`reset-*`."""
    headers = {k: v for k, v in common.retry_headers(reply, "rate_limit").items() if not k.startswith("x-ratelimit")}
    headers.update({"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "0"})
    return headers


def _wait_seconds(headers: Mapping[str, str]) -> int:
    """Whole seconds to wait, as the message says it: the headers' wait, rounded up."""
    try:
        if "retry-after-ms" in headers:
            return max(1, math.ceil(float(headers["retry-after-ms"]) / 1000))
        return max(1, math.ceil(float(headers["retry-after"])))
    except (KeyError, ValueError):  # an HTTP date, or none
        return 1


def invalid(problem: InvalidRequest) -> HttpError:
    """Azure's own refusals in its shape; a body the model service rejects in OpenAI's."""
    if isinstance(problem, AzureProblem):
        return HttpError(problem.status, azure_error(str(problem.code), problem.message))
    return common.invalid(problem)


def response_headers(rng: random.Random) -> dict[str, str]:
    request_id = _uuid(rng)
    return {
        "apim-request-id": request_id,
        "x-request-id": _uuid(rng),
        "x-ms-client-request-id": request_id,
        "x-ms-region": REGION,
        "x-content-type-options": "nosniff",
        "x-ratelimit-remaining-requests": "79",
        "x-ratelimit-remaining-tokens": "79000",
    }


def _uuid(rng: random.Random) -> str:
    """A version 4 UUID drawn from `rng`, so a seeded server sends the same ids."""
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def rate_limit_headers(limits: RateLimits) -> dict[str, str]:
    """Azure sends the remaining counts only (no limits, no reset times)."""
    headers: dict[str, str] = {}
    if limits.remaining_requests is not None:
        headers["x-ratelimit-remaining-requests"] = str(limits.remaining_requests)
    if limits.remaining_tokens is not None:
        headers["x-ratelimit-remaining-tokens"] = str(limits.remaining_tokens)
    return headers


def annotated(frames: Iterator[Frame], has_text: Callable[[Mapping[str, Any]], bool]) -> Iterator[Frame]:
    """A stream as Azure sends it: first a chunk with no choices that carries the prompt's
    `prompt_filter_results`, then every chunk with each choice's `content_filter_results`
    (the categories, on a choice with text; empty on the role and finish chunks)."""
    prompt = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
    }
    yield Frame(b"data: " + compact(prompt) + b"\n\n", paced=False)
    for frame in frames:
        if not frame.data.startswith(b"data: {"):  # `[DONE]`
            yield frame
            continue
        chunk = json.loads(frame.data[6:])
        for choice in chunk.get("choices", ()):
            choice["content_filter_results"] = SAFE if has_text(choice) else {}
        yield frame._replace(data=b"data: " + compact(chunk) + b"\n\n")


def annotate_whole(body: dict[str, Any], has_text: Callable[[Mapping[str, Any]], bool]) -> dict[str, Any]:
    """A whole answer as Azure sends it: `prompt_filter_results`, and each choice's results."""
    for choice in body.get("choices", ()):
        choice["content_filter_results"] = SAFE if has_text(choice) else {}
    return {**body, "prompt_filter_results": PROMPT_FILTER_RESULTS}
