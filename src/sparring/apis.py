"""The APIs sparring speaks, each listed once: the model and the server both read this.

An entry names what `match: {endpoint: ...}` says, the route the server answers, and where
the dialect that renders the API lives, as `"module:Class"`: the server imports it by name,
so this module (below the scenario layer) knows nothing of the server. Adding an API is a
dialect module and one entry here (see docs/explanation/inside.md, "Adding an API").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Api:
    """One API: its `match: {endpoint: ...}` name, its route, and its dialect class."""

    endpoint: str
    path: str
    dialect: str  # "package.module:Class", a `sparring.fake_server.dialects.base.Dialect`


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
)

# `match: {endpoint: ...}` names, and the route each answers.
ENDPOINTS: dict[str, str] = {api.endpoint: api.path for api in APIS}
