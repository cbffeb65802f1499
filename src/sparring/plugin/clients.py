"""SDK clients and environment variables that point at one test's fake server.

The SDKs are optional: each is imported when first asked for, and a missing one says which
extra installs it.
"""

from __future__ import annotations

import functools
import importlib
import ssl
from typing import TYPE_CHECKING, Any

from sparring._optional import require

if TYPE_CHECKING:
    import anthropic
    import ollama
    import openai
    from google import genai


def openai_client(base_url: str, api_key: str, options: dict[str, Any]) -> openai.OpenAI:
    sdk = require("openai", feature="fake_llm.openai()")
    client: openai.OpenAI = sdk.OpenAI(base_url=base_url, api_key=api_key, **_http(sdk.DefaultHttpxClient, options))
    return client


def async_openai_client(base_url: str, api_key: str, options: dict[str, Any]) -> openai.AsyncOpenAI:
    sdk = require("openai", feature="fake_llm.async_openai()")
    options = _http(sdk.DefaultAsyncHttpxClient, options)
    client: openai.AsyncOpenAI = sdk.AsyncOpenAI(base_url=base_url, api_key=api_key, **options)
    _give_platform(client, sdk.__name__)
    return client


AZURE_API_VERSION = "2024-10-21"  # the latest GA version of the deployment routes' data plane


def azure_openai_client(root: str, api_key: str, options: dict[str, Any]) -> openai.AzureOpenAI:
    """`azure_endpoint` is the test's root: the SDK adds `/openai/deployments/{model}/...`."""
    sdk = require("openai", feature="fake_llm.azure_openai()")
    options = {"api_version": AZURE_API_VERSION, **_http(sdk.DefaultHttpxClient, options)}
    client: openai.AzureOpenAI = sdk.AzureOpenAI(azure_endpoint=root, api_key=api_key, **options)
    return client


def async_azure_openai_client(root: str, api_key: str, options: dict[str, Any]) -> openai.AsyncAzureOpenAI:
    sdk = require("openai", feature="fake_llm.async_azure_openai()")
    options = {"api_version": AZURE_API_VERSION, **_http(sdk.DefaultAsyncHttpxClient, options)}
    client: openai.AsyncAzureOpenAI = sdk.AsyncAzureOpenAI(azure_endpoint=root, api_key=api_key, **options)
    _give_platform(client, sdk.__name__)
    return client


def anthropic_client(root: str, api_key: str, options: dict[str, Any]) -> anthropic.Anthropic:
    sdk = require("anthropic", feature="fake_llm.anthropic()")
    client: anthropic.Anthropic = sdk.Anthropic(
        base_url=root, api_key=api_key, **_http(sdk.DefaultHttpxClient, options)
    )
    return client


def async_anthropic_client(root: str, api_key: str, options: dict[str, Any]) -> anthropic.AsyncAnthropic:
    sdk = require("anthropic", feature="fake_llm.async_anthropic()")
    options = _http(sdk.DefaultAsyncHttpxClient, options)
    client: anthropic.AsyncAnthropic = sdk.AsyncAnthropic(base_url=root, api_key=api_key, **options)
    _give_platform(client, sdk.__name__)
    return client


def ollama_client(root: str, options: dict[str, Any]) -> ollama.Client:
    """Ollama's client at the test's root (it adds `/api/chat` itself, keeping the root's
    `/ns/NAME` path): it sends no API key, so its URL is what routes it to the test."""
    sdk = require("ollama", feature="fake_llm.ollama()")
    client: ollama.Client = sdk.Client(host=root, **{"verify": tls(), **options})
    return client


def async_ollama_client(root: str, options: dict[str, Any]) -> ollama.AsyncClient:
    sdk = require("ollama", feature="fake_llm.async_ollama()")
    client: ollama.AsyncClient = sdk.AsyncClient(host=root, **{"verify": tls(), **options})
    return client


AWS_REGION = "us-east-1"
AWS_SECRET = "sparring-secret"  # botocore signs with it; the fake server never checks a signature


def bedrock_client(root: str, api_key: str, options: dict[str, Any]) -> Any:
    """A boto3 `bedrock-runtime` client at the test's root (botocore keeps the endpoint's
    `/ns/NAME` path and adds `/model/...`), signing with the test's key as its access key id.
    Retries are botocore's standard mode with its 3 attempts in all (`total_max_attempts`;
    `max_attempts` counts retries only), pinned so that the developer's
    `AWS_RETRY_MODE`, `AWS_MAX_ATTEMPTS` or `~/.aws/config` do not change what a test sees;
    `config=` (a `botocore.config.Config`) is merged over these."""
    boto3 = require("boto3", feature="fake_llm.bedrock()")
    config_module = importlib.import_module("botocore.config")
    config = config_module.Config(retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=60)
    if options.get("config") is not None:
        config = config.merge(options["config"])
    settings = {
        "region_name": AWS_REGION,
        "endpoint_url": root,
        "aws_access_key_id": api_key,
        "aws_secret_access_key": AWS_SECRET,
        "aws_session_token": None,
        **options,
        "config": config,
    }
    return boto3.session.Session().client("bedrock-runtime", **settings)


def genai_client(root: str, api_key: str, options: dict[str, Any]) -> genai.Client:
    """google-genai's client at the test's root (it adds `/v1/models/...:generateContent`
    itself, keeping the root's `/ns/NAME` path); the key goes in `x-goog-api-key`. `options`
    go to `HttpOptions` (`api_version=`, `retry_options=`, `timeout=` in ms, ...)."""
    sdk = require("google.genai", feature="fake_llm.genai()")
    http_options = sdk.types.HttpOptions(**{"base_url": root, **options})
    client: genai.Client = sdk.Client(api_key=api_key, http_options=http_options)
    return client


def _http(factory: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The SDK's own HTTP client, with the shared TLS context, unless the caller brings one."""
    if "http_client" in options:
        return options
    return {**options, "http_client": factory(verify=tls())}


def _give_platform(client: Any, sdk: str) -> None:
    """Tell a new async client the OS it runs on, found once per process. Left to find it
    itself (for its `X-Stainless-OS` header), it does so on its first request in a worker
    thread: that starts the event loop's thread pool, which pytest-asyncio then shuts down
    with the loop at the end of every test, a few ms a test. Only where the SDK keeps the
    answer where we expect (`_platform`, unset); otherwise the client finds it as before."""
    if getattr(client, "_platform", False) is None:
        found = _platform(sdk)
        if found is not None:
            client._platform = found


@functools.cache
def _platform(sdk: str) -> object:
    """The SDK's own answer (`get_platform()` in its `_base_client`), or None without one."""
    try:
        get_platform = importlib.import_module(f"{sdk}._base_client").get_platform
        return get_platform()
    except (ImportError, AttributeError):
        return None


def environment(base_url: str, root: str, api_key: str) -> dict[str, str | None]:
    """The variables clients read their base URL and key from, and their values for one test;
    `None` is a variable to unset."""
    return {
        "OPENAI_BASE_URL": base_url,  # the openai SDK, and pydantic-ai, openai-agents, litellm through it
        "OPENAI_API_BASE": base_url,  # langchain-openai and litellm read it before OPENAI_BASE_URL
        "OPENAI_API_KEY": api_key,
        "ANTHROPIC_BASE_URL": root,  # the anthropic SDK adds /v1/messages itself
        "ANTHROPIC_API_BASE": root,  # litellm reads it before ANTHROPIC_BASE_URL
        "ANTHROPIC_API_KEY": api_key,
        "ANTHROPIC_AUTH_TOKEN": None,  # a real token of yours: litellm would send it instead of the key
        "OLLAMA_HOST": root,  # the ollama client adds /api/chat itself
        "AZURE_OPENAI_ENDPOINT": root,  # `AzureOpenAI()`, langchain's `AzureChatOpenAI`: /openai/... is theirs
        "AZURE_OPENAI_API_KEY": api_key,
        "OPENAI_API_VERSION": AZURE_API_VERSION,  # AzureOpenAI() refuses to start without one
        "AZURE_OPENAI_AD_TOKEN": None,  # a real token of yours: the SDK would prefer it to the key
        "AZURE_API_BASE": root,  # litellm's azure/ models
        "AZURE_API_KEY": api_key,
        "AZURE_API_VERSION": AZURE_API_VERSION,
        "AZURE_AD_TOKEN": None,  # litellm would send it beside the key
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": root,  # boto3's bedrock-runtime clients (botocore adds /model/...)
        "AWS_ACCESS_KEY_ID": api_key,  # the access key id routes a signed request to this test
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_SESSION_TOKEN": None,  # a real session token of yours would be sent along
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_REGION": AWS_REGION,
        "GOOGLE_GEMINI_BASE_URL": root,  # google-genai (_base_url.py) adds /v1/models/... itself
        "GEMINI_API_KEY": api_key,
        "GOOGLE_API_KEY": api_key,  # google-genai reads it before GEMINI_API_KEY
        "GOOGLE_GENAI_USE_VERTEXAI": None,  # yours would send the client to Vertex AI's paths instead
    }


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client made here. The fake server speaks plain HTTP, but each
    new SDK client builds a context anyway: about 20 ms a test, most of a streaming test's cost."""
    return ssl.create_default_context()
