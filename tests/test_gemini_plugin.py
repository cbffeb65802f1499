"""`fake_llm.genai()` and `patch_env()` for google-genai: a client pointed at the test, sync
and through `.aio`, and a `genai.Client()` made from the environment alone."""

from __future__ import annotations

import re
import sys

import pytest
from google import genai
from google.genai import types

from sparring import FakeLLM, reply

MODEL = "gemini-2.5-flash"


def test_genai_client_sync_and_closed_at_the_end(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply("Hello there", times=2))
    client = fake_llm.genai()
    assert client.models.generate_content(model=MODEL, contents="hi").text == "Hello there"
    chunks = client.models.generate_content_stream(model=MODEL, contents="hi")
    assert "".join(c.text or "" for c in chunks) == "Hello there"
    assert [e.path for e in fake_llm.journal] == [
        f"/v1/models/{MODEL}:generateContent",
        f"/v1/models/{MODEL}:streamGenerateContent",
    ]
    fake_llm.close()
    assert client._api_client._httpx_client.is_closed


@pytest.mark.asyncio
async def test_genai_client_async_with_http_options(fake_llm: FakeLLM) -> None:
    """`options` go to `HttpOptions`: here the API version."""
    fake_llm.add(reply("async hello"))
    client = fake_llm.genai(api_version="v1beta")
    try:
        chunks = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
        assert "".join([c.text or "" async for c in chunks]) == "async hello"
    finally:
        await client.aio.aclose()
    assert fake_llm.journal[0].path == f"/v1beta/models/{MODEL}:streamGenerateContent"


def test_patch_env_points_genai_made_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM) -> None:
    """`genai.Client()`, given nothing, reads `GOOGLE_GEMINI_BASE_URL` and `GOOGLE_API_KEY`
    (before `GEMINI_API_KEY`); a Vertex AI switch of yours is unset for the test. (`monkeypatch`
    comes first: set up before `fake_llm`, it is undone after `patch_env()` is.)"""
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_API_KEY", "a-real-key")
    fake_llm.add(reply("from the environment"))
    fake_llm.patch_env()
    with genai.Client() as client:
        assert client.models.generate_content(model=MODEL, contents="hi").text == "from the environment"
    assert fake_llm.journal[0].path == f"/v1/models/{MODEL}:generateContent"


def test_a_missing_sdk_names_the_extra_to_install(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.genai", None)  # what `import` meets when it is not installed
    expected = "fake_llm.genai() needs google.genai, which is not installed: pip install 'sparring[gemini]'"
    with pytest.raises(ImportError, match=re.escape(expected)):
        fake_llm.genai()


def test_retry_options_as_a_user_gives_them(fake_llm: FakeLLM) -> None:
    from sparring import error

    fake_llm.add(error("unavailable"), reply("second try"))
    retries = types.HttpRetryOptions(attempts=2, initial_delay=0.01, max_delay=0.01, jitter=0)
    client = fake_llm.genai(retry_options=retries)
    assert client.models.generate_content(model=MODEL, contents="hi").text == "second try"
    assert [e.status for e in fake_llm.journal] == [503, 200]
