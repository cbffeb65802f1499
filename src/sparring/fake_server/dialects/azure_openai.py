"""Azure OpenAI: OpenAI's Chat Completions, Completions, Embeddings and Responses as an Azure
resource serves them (`azure_common.py` has what differs, docs/azure-openai.md the sources).

Each class is the OpenAI dialect with `AzureApi` in front of it: the route's refusals, the
deployment as the model, Azure's errors and headers; Chat and Completions add the content
filter annotations to what the OpenAI dialect renders.

- `/openai/deployments/{deployment}/chat/completions?api-version=...`: `azure_chat`
- `/openai/deployments/{deployment}/completions?api-version=...`: `azure_completions`
- `/openai/deployments/{deployment}/embeddings?api-version=...`: `azure_embeddings`
- `/openai/v1/chat/completions` (no version needed): `azure_v1_chat`
- `/openai/v1/responses` (no version needed): `azure_v1_responses`
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sparring.fake_server.dialects import azure_common as azure
from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Frame, HttpError, InvalidRequest, ParsedRequest, Route
from sparring.fake_server.dialects.openai_chat import ChatCompletions, ChatRequest
from sparring.fake_server.dialects.openai_completions import Completions, CompletionsRequest
from sparring.fake_server.dialects.openai_embeddings import Embeddings, EmbeddingsRequest
from sparring.fake_server.dialects.openai_responses import Responses, ResponsesRequest
from sparring.fake_server.resolve import Resolved
from sparring.scenario.delivery import RateLimits
from sparring.scenario.model import ErrorReply


class AzureApi(common.OpenAIDialect):
    """Azure in front of the OpenAI dialect that comes next in a subclass's bases."""

    operation: str  # what Azure's rate-limit message calls the call: `ChatCompletions_Create`
    needs_version = True  # the deployment routes require `?api-version=`; the v1 routes do not
    request_kind: type[ParsedRequest]  # the OpenAI dialect's parsed request, with `api_version`

    def refuse(self, route: Route, headers: Mapping[str, str]) -> InvalidRequest | None:
        return azure.refusal(route, headers, needs_version=self.needs_version)

    def parse_at(self, body: object, route: Route) -> ParsedRequest:
        parsed = self.parse(azure.with_deployment(body, route))
        return azure.with_version(parsed, self.request_kind, route.query.get("api-version"))

    def error(
        self, reply: ErrorReply, request: ParsedRequest | None, api_key: str | None, rng: random.Random | None = None
    ) -> HttpError:
        return azure.scripted_error(
            reply, request, self.operation, lambda: super(AzureApi, self).error(reply, request, api_key, rng)
        )

    def invalid(self, problem: InvalidRequest, rng: random.Random | None = None) -> HttpError:
        return azure.invalid(problem)

    def claims(self, headers: Mapping[str, str]) -> bool:
        return "api-key" in headers

    def response_headers(self, rng: random.Random, *, processing_ms: int) -> dict[str, str]:
        return azure.response_headers(rng)

    def rate_limit_headers(self, limits: RateLimits) -> dict[str, str]:
        return azure.rate_limit_headers(limits)


class Filtered(AzureApi):
    """Azure's content-filter annotations on what the OpenAI dialect after it renders: on the
    choices that carry text (`has_text`), and the prompt's results up front. A concrete
    dialect always follows it in a class's bases: its `super()` calls are safe."""

    has_text: Callable[[Mapping[str, Any]], bool]

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        return azure.annotated(super().stream(resolved, request, rng), self.has_text)  # type: ignore[safe-super]

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        return azure.annotate_whole(super().complete(resolved, request, rng), self.has_text)  # type: ignore[safe-super]


def _chat_text(choice: Mapping[str, Any]) -> bool:
    return bool((choice.get("delta") or choice.get("message") or {}).get("content"))


def _completion_text(choice: Mapping[str, Any]) -> bool:
    return bool(choice.get("text"))


@dataclass(frozen=True)
class AzureChatRequest(ChatRequest):
    api_version: str | None = None


class AzureChat(Filtered, ChatCompletions):
    name = "azure_chat"
    path = "/openai/deployments/{deployment}/chat/completions"
    operation = "ChatCompletions_Create"
    request_kind = AzureChatRequest
    has_text = staticmethod(_chat_text)


class AzureV1Chat(AzureChat):
    name = "azure_v1_chat"
    path = "/openai/v1/chat/completions"
    needs_version = False


@dataclass(frozen=True)
class AzureCompletionsRequest(CompletionsRequest):
    api_version: str | None = None


class AzureCompletions(Filtered, Completions):
    name = "azure_completions"
    path = "/openai/deployments/{deployment}/completions"
    operation = "Completions_Create"
    request_kind = AzureCompletionsRequest
    has_text = staticmethod(_completion_text)


@dataclass(frozen=True)
class AzureEmbeddingsRequest(EmbeddingsRequest):
    api_version: str | None = None


class AzureEmbeddings(AzureApi, Embeddings):
    name = "azure_embeddings"
    path = "/openai/deployments/{deployment}/embeddings"
    operation = "Embeddings_Create"
    request_kind = AzureEmbeddingsRequest


@dataclass(frozen=True)
class AzureResponsesRequest(ResponsesRequest):
    api_version: str | None = None


class AzureV1Responses(AzureApi, Responses):
    name = "azure_v1_responses"
    path = "/openai/v1/responses"
    operation = "Responses_Create"
    needs_version = False
    request_kind = AzureResponsesRequest
