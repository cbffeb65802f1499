"""The clients of the contract matrix, each reduced to one outcome string.

`aiohttp` and `httpx` are minimal hand-written SSE readers, as teams write them: read lines,
parse each `data:` payload as JSON until `[DONE]`, report an in-band `error`. The `openai`
client is the official SDK with its default retries (2), streaming.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import aiohttp
import httpx

TIMEOUT = 1.0  # seconds; long enough for any healthy loopback answer, short for hangs and stalls
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
HEADERS = {"Authorization": "Bearer sk-contract", "Content-Type": "application/json"}


def _judge(payloads: list[str]) -> str:
    """What a reader that got these `data:` payloads concludes."""
    for payload in payloads:
        if payload == "[DONE]":
            return "ok"
        if "error" in json.loads(payload):
            return "in-band error"
    return "ok, no [DONE]"


def _payloads(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line[5:].lstrip(" ") for line in lines if line.startswith("data:")]


def _name(exc: BaseException) -> str:
    """The exception as code catches it: `package.Name` (`httpx2.ReadError`), importable as
    written; builtins bare. The table then leaves out the column's own library."""
    cls = type(exc)
    package = cls.__module__.split(".")[0]
    if package == "builtins":
        return cls.__name__
    if getattr(sys.modules.get(package), cls.__name__, None) is cls:
        return f"{package}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


async def run_aiohttp(url: str) -> str:
    try:
        timeout = aiohttp.ClientTimeout(sock_read=TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(f"{url}/chat/completions", json=BODY, headers=HEADERS) as response,
        ):
            if response.status != 200:
                return f"HTTP {response.status}"
            text = (await response.read()).decode("utf-8")
            return _judge(_payloads(text))
    except Exception as exc:
        return _name(exc)


async def run_httpx(url: str) -> str:
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT) as client,
            client.stream("POST", f"{url}/chat/completions", json=BODY, headers=HEADERS) as response,
        ):
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            payloads = [line[5:].lstrip(" ") async for line in response.aiter_lines() if line.startswith("data:")]
            return _judge(payloads)
    except Exception as exc:
        return _name(exc)


async def run_openai(url: str) -> str:
    import openai

    return await _chat_through(openai.AsyncOpenAI(base_url=url, api_key="sk-contract", timeout=TIMEOUT, max_retries=2))


async def _chat_through(sdk: Any) -> str:
    """A streamed chat completion through an openai SDK client (plain or Azure), read to its end."""
    try:
        async with sdk as client:
            stream: Any = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _ in stream:
                pass
            return "ok"
    except Exception as exc:
        return _name(exc)


CLIENTS = {"aiohttp": run_aiohttp, "httpx": run_httpx, "openai": run_openai}


async def run_responses(url: str) -> str:
    """The official SDK's Responses API, streaming, default retries."""
    import openai

    try:
        async with openai.AsyncOpenAI(base_url=url, api_key="sk-contract", timeout=TIMEOUT, max_retries=2) as client:
            stream: Any = await client.responses.create(model="gpt-4o", input="hi", stream=True)
            async for _ in stream:
                pass
            return "ok"
    except Exception as exc:
        return _name(exc)


async def run_anthropic(url: str) -> str:
    """The official anthropic SDK's Messages API, streaming, default retries."""
    import anthropic

    root = url.removesuffix("/v1")
    try:
        async with anthropic.AsyncAnthropic(
            base_url=root, api_key="sk-contract", timeout=TIMEOUT, max_retries=2
        ) as client:
            stream: Any = await client.messages.create(
                model="claude-sparring-1", max_tokens=64, messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _ in stream:
                pass
            return "ok"
    except Exception as exc:
        return _name(exc)


async def run_ollama(url: str) -> str:
    """The official ollama client's `AsyncClient` on Ollama's `/api/chat`, streaming. It never
    retries; its HTTP errors are `ResponseError`, shown with their status code (-1 in-band)."""
    import ollama

    root = url.removesuffix("/v1")
    try:
        async with ollama.AsyncClient(host=root, timeout=TIMEOUT) as client:
            done = False
            messages = [{"role": "user", "content": "hi"}]
            async for part in await client.chat(model="llama3.2", messages=messages, stream=True):
                done = bool(part.done)
            return "ok" if done else "ok, no done"
    except ollama.ResponseError as exc:
        return f"{_name(exc)} {exc.status_code}"
    except Exception as exc:
        return _name(exc)


async def run_azure(url: str) -> str:
    """The official SDK's `AsyncAzureOpenAI` on a deployment's Chat Completions, streaming,
    default retries."""
    import openai

    root = url.removesuffix("/v1")
    return await _chat_through(
        openai.AsyncAzureOpenAI(
            azure_endpoint=root, api_version="2024-10-21", api_key="azure-contract", timeout=TIMEOUT, max_retries=2
        )
    )


async def run_bedrock(url: str) -> str:
    """boto3's `bedrock-runtime` client, `converse_stream`, botocore's standard retries (3
    attempts in all, its default): sync, so run in a thread. Its `ClientError`s (and the
    `EventStreamError` of an exception in the stream) are shown with their code; a stream
    that ends without `messageStop` is `ok, no messageStop`."""
    import asyncio

    return await asyncio.to_thread(_bedrock, url.removesuffix("/v1"))


def _bedrock(root: str) -> str:
    import boto3
    import botocore.config
    import botocore.exceptions

    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=TIMEOUT, connect_timeout=TIMEOUT
    )
    client = boto3.session.Session().client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=root,
        aws_access_key_id="AKIDCONTRACT",
        aws_secret_access_key="contract",
        config=config,
    )
    stream: Any = None
    try:
        messages: Any = [{"role": "user", "content": [{"text": "hi"}]}]
        stream = client.converse_stream(modelId="anthropic.claude-3-5-sonnet-20240620-v1:0", messages=messages)[
            "stream"
        ]
        stopped = False
        for event in stream:
            stopped = stopped or "messageStop" in event
        return "ok" if stopped else "ok, no messageStop"
    except botocore.exceptions.ClientError as exc:  # the class botocore makes per code, or EventStreamError
        kind = "EventStreamError" if isinstance(exc, botocore.exceptions.EventStreamError) else "ClientError"
        return f"botocore.{kind} {exc.response['Error']['Code']}"
    except Exception as exc:  # botocore's own named bare (its classes live in submodules)
        package = type(exc).__module__.split(".")[0]
        return f"botocore.{type(exc).__name__}" if package == "botocore" else _name(exc)
    finally:
        if stream is not None:  # a stream that raised keeps its connection until closed
            stream.close()
        client.close()


async def run_genai(url: str) -> str:
    """google-genai's async client (`client.aio`, aiohttp underneath) streaming from the Gemini
    API's `streamGenerateContent?alt=sse`. The SDK retries nothing unless told: here it is
    told as a user would, `HttpRetryOptions(attempts=3)` (the openai SDK's 3 tries), with
    10 ms delays so the table stays fast. Its HTTP errors are `ClientError`/`ServerError`,
    shown with their code; an in-band `{"error": ...}` event is raised the same way."""
    from google import genai
    from google.genai import errors, types

    retries = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.01, jitter=0)
    options = types.HttpOptions(base_url=url.removesuffix("/v1"), timeout=int(TIMEOUT * 1000), retry_options=retries)
    client = genai.Client(api_key="genai-contract", http_options=options)
    try:
        finished = False
        async for chunk in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
            finished = finished or any(c.finish_reason for c in chunk.candidates or ())
        return "ok" if finished else "ok, no finishReason"
    except errors.APIError as exc:
        return f"{_name(exc)} {exc.code}"
    except Exception as exc:
        return _name(exc)
    finally:
        await client.aio.aclose()
