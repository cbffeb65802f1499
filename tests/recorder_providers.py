"""The clients and the record-then-replay round trip that tests/test_recorder_providers.py
and tests/test_recorder_provider_failures.py share: each client runs sync or async, and
returns every part it got with its arrival time, and what it raised.

Clients: `ollama.Client`/`AsyncClient` behind a proxy that wants a bearer token (Ollama itself
takes none), `openai.AzureOpenAI`/`AsyncAzureOpenAI` on a deployment's route with its
`api-key`, and google-genai's `Client` (and its `.aio`) with its `x-goog-api-key`. The
upstream is another sparring server, speaking the provider's dialect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from sparring import FakeServer, Recorder, Scenario, Timing, load_scenario, reply
from sparring.fake_server.journal import Entry

ollama = pytest.importorskip("ollama")

GAP_S = 0.2  # seconds between the upstream's events: they stay separate reads
TEXT = "One two three four"
USER = [{"role": "user", "content": "Count to four"}]
AZURE_KEY = "azure-secret-key-0123456789"
OLLAMA_TOKEN = "ollama-proxy-token-0123456789"
GEMINI_KEY = "gemini-secret-key-0123456789"
API_VERSION = "2024-10-21"

Parts = list[tuple[str, float]]  # each part's text, and when the client had it (from the call)
Run = tuple[Parts, BaseException | None]  # the parts, and what the client raised (None if none)


def _collect(parts: Parts, start: float, text: str) -> None:
    parts.append((text, round(time.monotonic() - start, 3)))


def _played(
    parts: Parts,
    kind: str,
    sync: Callable[[], None],
    run_async: Callable[[], Coroutine[Any, Any, None]],
    raised: tuple[type[BaseException], ...],
) -> Run:
    """Run the client `kind` says; what it raised among `raised` is returned, not raised."""
    try:
        if kind == "async":
            asyncio.run(run_async())
        else:
            sync()
    except raised as exc:
        return parts, exc
    return parts, None


def ollama_chat(url: str, kind: str) -> Run:
    """A streamed `/api/chat` through `ollama.Client` or `AsyncClient`, behind a proxy that wants
    a bearer token (Ollama itself takes none)."""
    parts: Parts = []
    headers = {"Authorization": f"Bearer {OLLAMA_TOKEN}"}

    async def run_async() -> None:
        async with ollama.AsyncClient(host=url, headers=headers) as client:
            start = time.monotonic()
            async for part in await client.chat(model="llama3.2", messages=USER, stream=True):
                _collect(parts, start, part.message.content or "")

    def sync() -> None:
        with ollama.Client(host=url, headers=headers) as client:
            start = time.monotonic()
            for part in client.chat(model="llama3.2", messages=USER, stream=True):
                _collect(parts, start, part.message.content or "")

    return _played(parts, kind, sync, run_async, (ollama.ResponseError, httpx.TransportError))


def ollama_generate(url: str, kind: str) -> Run:
    parts: Parts = []
    try:
        with ollama.Client(host=url) as client:
            start = time.monotonic()
            for part in client.generate(model="llama3.2", prompt="Count to four", stream=True):
                _collect(parts, start, part.response)
    except (ollama.ResponseError, httpx.TransportError) as exc:
        return parts, exc
    return parts, None


def azure_chat(url: str, kind: str) -> Run:
    """A streamed chat on a deployment's route through `AzureOpenAI` or `AsyncAzureOpenAI`."""
    parts: Parts = []
    options: dict[str, Any] = {"azure_endpoint": url, "api_version": API_VERSION, "api_key": AZURE_KEY}

    async def run_async() -> None:
        async with openai.AsyncAzureOpenAI(**options, max_retries=0) as client:
            start = time.monotonic()
            async for chunk in await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):  # type: ignore[arg-type]
                if chunk.choices:
                    _collect(parts, start, chunk.choices[0].delta.content or "")

    def sync() -> None:
        with openai.AzureOpenAI(**options, max_retries=0) as client:
            start = time.monotonic()
            for chunk in client.chat.completions.create(model="gpt-4o", messages=USER, stream=True):  # type: ignore[arg-type]
                if chunk.choices:
                    _collect(parts, start, chunk.choices[0].delta.content or "")

    return _played(parts, kind, sync, run_async, (openai.APIError, httpx.TransportError))


def gemini_stream(url: str, kind: str) -> Run:
    """A streamed `:streamGenerateContent` through google-genai's `Client` or its `.aio`."""
    from google import genai
    from google.genai import errors

    parts: Parts = []
    client = genai.Client(api_key=GEMINI_KEY, http_options=genai.types.HttpOptions(base_url=url))

    async def run_async() -> None:
        try:
            start = time.monotonic()
            async for chunk in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents=TEXT):
                _collect(parts, start, chunk.text or "")
        finally:
            await client.aio.aclose()

    def sync() -> None:
        with client:
            start = time.monotonic()
            for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents=TEXT):
                _collect(parts, start, chunk.text or "")

    return _played(parts, kind, sync, run_async, (errors.APIError, httpx.TransportError))


CLIENTS: dict[str, Callable[[str, str], Run]] = {
    "ollama_chat": ollama_chat,
    "ollama_generate": ollama_generate,
    "azure_chat": azure_chat,
    "gemini_stream": gemini_stream,
}


def record(scenario: Scenario, api: str, kind: str, file: Path) -> tuple[Run, Entry]:
    """What the client read through the recording proxy, and the proxy's journal entry; the
    recording saved to `file`."""
    with FakeServer(scenario) as upstream:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy:
            run = CLIENTS[api](proxy.url, kind)
            (entry,) = proxy.journal()
        recorder.close()
    recorder.save(file)
    return run, entry


def replay(file: Path, api: str, kind: str) -> tuple[Run, Entry]:
    with FakeServer(load_scenario(file)) as server:
        run = CLIENTS[api](server.url, kind)
        (entry,) = server.journal()
    return run, entry


def writes(entry: Entry) -> list[int]:
    return [chunk.nbytes for chunk in entry.chunks]


def paced(**options: Any) -> Scenario:
    return Scenario.of(reply(TEXT, timing=Timing(gap=GAP_S), repeat=True, **options))


def no_keys_in(path: Path) -> None:
    """No credential a client sent is in the recording (if one was written)."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        assert AZURE_KEY not in text
        assert OLLAMA_TOKEN not in text
        assert GEMINI_KEY not in text
