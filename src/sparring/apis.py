"""The APIs sparring speaks, each listed once: the model and the server both read this.

An entry names what `match: {endpoint: ...}` says, the route the server answers, and where
the dialect that renders the API lives, as `"module:Class"`: the server imports it by name,
so this module (below the scenario layer) knows nothing of the server. Adding an API is a
dialect module and one entry here (see docs/explanation/inside.md, "Adding an API").

A route is a fixed path (`/v1/chat/completions`) or a pattern with `{name}` parts, in
aiohttp's syntax (`/openai/deployments/{deployment}/chat/completions`): each part matches one
path segment, and the dialect gets what it matched (`Route.params`). The server looks a
request's path up among the fixed paths first (one dict lookup), and tries the patterns only
when none is its path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A pattern's parameter: `{name}`, as aiohttp writes one; it matches one path segment.
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Api:
    """One API: its `match: {endpoint: ...}` name, its route (a fixed path, or a pattern with
    `{name}` parts), and its dialect class."""

    endpoint: str
    path: str
    dialect: str  # "package.module:Class", a `sparring.fake_server.dialects.base.Dialect`

    @property
    def is_pattern(self) -> bool:
        return "{" in self.path


def path_regex(path: str) -> re.Pattern[str]:
    """The regular expression of a route pattern: each `{name}` a named group of one path
    segment, as aiohttp matches it, so the server's routes and this agree. Anything else in
    braces (aiohttp's `{name:regex}`) is refused: one syntax, the same everywhere."""
    pieces = _PARAMETER.split(path)  # text, name, text, name, ..., text
    texts, names = pieces[::2], pieces[1::2]
    if any("{" in text or "}" in text for text in texts):
        raise ValueError(f"route {path!r}: write a parameter as {{name}} (letters, digits and _), alone in its braces")
    if "namespace" in names or len(set(names)) < len(names):
        raise ValueError(f"route {path!r}: each parameter once, and not {{namespace}} (the server's /ns/NAME prefix)")
    groups = [f"(?P<{name}>[^{{}}/]+)" for name in names]
    return re.compile("".join(re.escape(text) + group for text, group in zip(texts, [*groups, ""], strict=True)))


_DIALECTS = "sparring.fake_server.dialects"

# The first is the one a request to an unknown route gets the errors of, unless another
# dialect claims it by its headers.
APIS: tuple[Api, ...] = (
    Api("chat", "/v1/chat/completions", f"{_DIALECTS}.openai_chat:ChatCompletions"),
    Api("responses", "/v1/responses", f"{_DIALECTS}.openai_responses:Responses"),
    Api("messages", "/v1/messages", f"{_DIALECTS}.anthropic_messages:AnthropicMessages"),
    Api("completions", "/v1/completions", f"{_DIALECTS}.openai_completions:Completions"),
    Api("embeddings", "/v1/embeddings", f"{_DIALECTS}.openai_embeddings:Embeddings"),
    Api("ollama_chat", "/api/chat", f"{_DIALECTS}.ollama:OllamaChat"),
    Api("ollama_generate", "/api/generate", f"{_DIALECTS}.ollama:OllamaGenerate"),
    # Azure OpenAI: the deployment in the path (`api-version` required), and the v1 routes.
    Api("azure_chat", "/openai/deployments/{deployment}/chat/completions", f"{_DIALECTS}.azure_openai:AzureChat"),
    Api(
        "azure_completions",
        "/openai/deployments/{deployment}/completions",
        f"{_DIALECTS}.azure_openai:AzureCompletions",
    ),
    Api("azure_embeddings", "/openai/deployments/{deployment}/embeddings", f"{_DIALECTS}.azure_openai:AzureEmbeddings"),
    Api("azure_v1_chat", "/openai/v1/chat/completions", f"{_DIALECTS}.azure_openai:AzureV1Chat"),
    Api("azure_v1_responses", "/openai/v1/responses", f"{_DIALECTS}.azure_openai:AzureV1Responses"),
    # Bedrock Runtime: the model id in the path; streams in AWS's binary event-stream framing.
    Api("bedrock_converse", "/model/{modelId}/converse", f"{_DIALECTS}.bedrock_converse:BedrockConverse"),
    Api(
        "bedrock_converse_stream",
        "/model/{modelId}/converse-stream",
        f"{_DIALECTS}.bedrock_converse:BedrockConverseStream",
    ),
    Api("bedrock_invoke", "/model/{modelId}/invoke", f"{_DIALECTS}.bedrock_invoke:BedrockInvoke"),
    Api(
        "bedrock_invoke_stream",
        "/model/{modelId}/invoke-with-response-stream",
        f"{_DIALECTS}.bedrock_invoke:BedrockInvokeStream",
    ),
    # The Gemini API: `version` is v1 (google-genai's default), v1beta or v1alpha.
    Api("gemini_generate", "/{version}/models/{model}:generateContent", f"{_DIALECTS}.gemini:GeminiGenerate"),
    Api("gemini_stream", "/{version}/models/{model}:streamGenerateContent", f"{_DIALECTS}.gemini:GeminiStream"),
)

# `match: {endpoint: ...}` names, and the route each answers.
ENDPOINTS: dict[str, str] = {api.endpoint: api.path for api in APIS}
