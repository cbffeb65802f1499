"""The Gemini API's errors, retries and faults through google-genai, sync and async.

Pins docs/gemini.md: every preset as a `google.rpc.Status` with Google's status name, the
429's `RetryInfo` (and no `Retry-After` header), what google-genai retries (nothing by
default; with `HttpRetryOptions`, 408/429/5xx and connection errors before the headers, never
a stream cut under way), in-band errors as `{"error": ...}` events, and each fault.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from sparring import ERROR_PRESETS, FakeServer, Fault, Scenario, Timing, error, reply
from sparring.fake_server.dialects.gemini_common import PRESETS

MODEL = "gemini-2.5-flash"
HI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
FAST = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.01, jitter=0)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def generate(kind: str, server: FakeServer, *, stream: bool = True, **options: Any) -> list[str]:
    """The texts of one call's chunks (of its one answer, not streamed)."""
    sdk = genai.Client(api_key="sk-gemini", http_options=types.HttpOptions(base_url=server.url, **options))

    async def run_async() -> list[str]:
        try:
            if stream:
                chunks = await sdk.aio.models.generate_content_stream(model=MODEL, contents="hi")
                return [c.text or "" async for c in chunks]
            return [(await sdk.aio.models.generate_content(model=MODEL, contents="hi")).text or ""]
        finally:
            await sdk.aio.aclose()

    if kind == "async":
        return asyncio.run(run_async())
    with sdk:
        if stream:
            return [c.text or "" for c in sdk.models.generate_content_stream(model=MODEL, contents="hi")]
        return [sdk.models.generate_content(model=MODEL, contents="hi").text or ""]


STATUSES = {
    "rate_limit": (429, "RESOURCE_EXHAUSTED"),
    "insufficient_quota": (429, "RESOURCE_EXHAUSTED"),
    "server_error": (500, "INTERNAL"),
    "bad_gateway": (502, "UNAVAILABLE"),
    "unavailable": (503, "UNAVAILABLE"),
    "overloaded": (503, "UNAVAILABLE"),
    "timeout": (504, "DEADLINE_EXCEEDED"),
    "bad_request": (400, "INVALID_ARGUMENT"),
    "context_length_exceeded": (400, "INVALID_ARGUMENT"),
    "unauthorized": (401, "UNAUTHENTICATED"),
    "forbidden": (403, "PERMISSION_DENIED"),
    "not_found": (404, "NOT_FOUND"),
    "conflict": (409, "ABORTED"),
}


def test_every_preset_has_a_status() -> None:
    assert set(PRESETS) == set(ERROR_PRESETS) == set(STATUSES)


@pytest.mark.parametrize("preset", ERROR_PRESETS)
def test_error_presets_raise_the_sdks_errors(server: FakeServer, kind: str, preset: str) -> None:
    """4xx is `ClientError`, 5xx `ServerError`, each with the code, Google's status name and
    the message; with no retry options, one request."""
    server.set_scenario(Scenario.of(error(preset)))
    code, status = STATUSES[preset]
    with pytest.raises(errors.ClientError if code < 500 else errors.ServerError) as caught:
        generate(kind, server)
    assert (caught.value.code, caught.value.status) == (code, status)
    assert caught.value.message == PRESETS[preset][1].format(model=MODEL, version="v1")
    assert len(server.journal()) == 1


def test_a_429_on_the_wire(server: FakeServer) -> None:
    """`retry_after` becomes the `RetryInfo` detail's `retryDelay` (a protobuf duration); Google
    sends no `Retry-After` header; a scripted `code` is an `ErrorInfo` reason."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after=20), error("insufficient_quota", code="QUOTA")))
    url = f"{server.url}/v1beta/models/{MODEL}:generateContent"
    first = httpx.post(url, json=HI, headers={"x-goog-api-key": "k"})
    assert first.status_code == 429
    assert "retry-after" not in first.headers
    assert first.json() == {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"},
            ],
        }
    }
    details = httpx.post(url, json=HI, headers={"x-goog-api-key": "k"}).json()["error"]["details"]
    assert details[0] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "QUOTA",
        "domain": "googleapis.com",
    }
    assert details[-1]["retryDelay"] == "1s"  # the default wait


def test_scripted_message_status_name_and_body(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            error(503, message="Try later", type="UNAVAILABLE_SOON"),
            error(418, body={"error": {"code": 418, "message": "teapot"}}),
        )
    )
    with pytest.raises(errors.ServerError) as caught:
        generate("sync", server, stream=False)
    assert (caught.value.message, caught.value.status) == ("Try later", "UNAVAILABLE_SOON")
    with pytest.raises(errors.ClientError) as teapot:
        generate("sync", server, stream=False)
    assert (teapot.value.code, teapot.value.message) == (418, "teapot")


# -- retries ------------------------------------------------------------------------------------------


def test_no_retries_by_default(server: FakeServer, kind: str) -> None:
    """google-genai retries nothing unless `HttpOptions.retry_options` says so
    (`retry_args(None)` in _api_client.py stops after one attempt)."""
    server.set_scenario(Scenario.of(error("rate_limit", repeat=True)))
    with pytest.raises(errors.ClientError):
        generate(kind, server)
    assert len(server.journal()) == 1


def test_retry_options_retry_a_429_at_their_own_pace(server: FakeServer, kind: str) -> None:
    """With `HttpRetryOptions`, a 429 is retried up to `attempts` times, on the options'
    exponential backoff: the `RetryInfo` delay (30 s here) is not read. The three attempts
    come well inside those 30 s (their delays are 10 ms; the bound allows a slow machine)."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after=30, times=2), reply("at last")))
    assert "".join(generate(kind, server, retry_options=FAST)) == "at last"
    journal = server.journal()
    assert [e.status for e in journal] == [429, 429, 200]
    assert journal[-1].arrived - journal[0].arrived < 10


def test_retry_options_do_not_retry_a_4xx(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("bad_request", repeat=True)))
    with pytest.raises(errors.ClientError):
        generate("async", server, retry_options=FAST)
    assert len(server.journal()) == 1


@pytest.mark.parametrize("cut", ["reset", "close", "truncate"])
def test_a_stream_cut_under_way_is_never_retried(server: FakeServer, kind: str, cut: str) -> None:
    """Retries wrap the request up to its headers; a stream cut after two chunks raises the
    transport's error from the iteration, once, whatever the retry options: httpx2's (httpx's
    without httpx2) on the sync client, aiohttp's on the async one."""
    server.set_scenario(Scenario.of(reply("one two three four", fault=Fault(cut, after_chunk=2), repeat=True)))
    with pytest.raises(Exception) as caught:  # noqa: PT011 - which transport's error is the finding
        generate(kind, server, retry_options=FAST)
    transport = type(caught.value).__module__.split(".")[0]
    assert transport in (("httpx2", "httpx") if kind == "sync" else ("aiohttp",)), repr(caught.value)
    assert len(server.journal()) == 1


def test_a_reset_before_the_headers(server: FakeServer, kind: str) -> None:
    """With retry options, the async client retries a reset before the headers (aiohttp's
    `ClientOSError` is among the errors it retries); the sync one does not: it retries only
    httpx's `TimeoutException` and `ConnectError`, and a reset is a `ReadError`."""
    server.set_scenario(Scenario.of(reply("x", fault=Fault("reset")), reply("after the reset")))
    if kind == "async":
        assert "".join(generate(kind, server, retry_options=FAST)) == "after the reset"
        assert len(server.journal()) == 2
        return
    with pytest.raises(Exception, match="reset") as caught:
        generate(kind, server, retry_options=FAST)
    assert type(caught.value).__name__ == "ReadError"
    assert len(server.journal()) == 1


# -- faults in the stream --------------------------------------------------------------------------


def test_an_in_band_error_raises_after_the_text(server: FakeServer, kind: str) -> None:
    """`error_event` sends `data: {"error": {...}}` after two chunks: the SDK yields the two
    and raises the status's error (`ServerError` 503 for `overloaded`)."""
    server.set_scenario(
        Scenario.of(reply("one two three four", fault=Fault("error_event", after_chunk=2, error="overloaded")))
    )
    seen: list[str] = []

    async def run_async() -> None:
        sdk = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url))
        try:
            async for chunk in await sdk.aio.models.generate_content_stream(model=MODEL, contents="hi"):
                seen.append(chunk.text or "")
        finally:
            await sdk.aio.aclose()

    def run_sync() -> None:
        with genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url)) as sdk:
            seen.extend(chunk.text or "" for chunk in sdk.models.generate_content_stream(model=MODEL, contents="hi"))

    with pytest.raises(errors.ServerError) as caught:
        asyncio.run(run_async()) if kind == "async" else run_sync()
    assert seen == ["one", " two"]
    assert (caught.value.code, caught.value.status) == (503, "UNAVAILABLE")
    assert caught.value.message == PRESETS["overloaded"][1]


def test_in_band_error_on_the_wire(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("a b", fault=Fault("error_event", after_chunk=1, message="boom"))))
    body = httpx.post(
        f"{server.url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", json=HI, headers={"x-goog-api-key": "k"}
    ).content
    assert body.endswith(b'\r\n\r\ndata: {"error": {"code": 500,"message": "boom","status": "INTERNAL"}}\r\n\r\n')


def test_a_malformed_chunk(server: FakeServer, kind: str) -> None:
    server.set_scenario(Scenario.of(reply("one two three", fault=Fault("malformed_chunk", after_chunk=1))))
    with pytest.raises(errors.UnknownApiResponseError):
        generate(kind, server)


def test_no_done_leaves_out_the_finish(server: FakeServer, kind: str) -> None:
    """Gemini has no terminator: `no_done` leaves out the last event, the one with the finish
    reason and the whole usage. The SDK cannot tell; the text is all there."""
    server.set_scenario(Scenario.of(reply("one two", fault=Fault("no_done"))))
    assert generate(kind, server) == ["one", " two"]
    assert "no_done" in str(server.journal()[0].fault)


def test_a_stall_and_a_client_timeout(server: FakeServer, kind: str) -> None:
    """A stall longer than the client's `timeout` (ms) ends the call with the transport's
    timeout, once: retries never reach into a stream under way."""
    server.set_scenario(Scenario.of(reply("one two three", fault=Fault("stall", after_chunk=1), repeat=True)))
    with pytest.raises(Exception) as caught:  # noqa: PT011 - which transport's timeout is the finding
        generate(kind, server, timeout=300, retry_options=FAST)
    assert type(caught.value).__name__ in ("ReadTimeout", "TimeoutError"), repr(caught.value)
    assert len(server.journal()) == 1


def test_keepalive_waits_silently(server: FakeServer, kind: str) -> None:
    """google-genai fails on an SSE comment line, which Google never sends: `keepalive` sends
    nothing on a Gemini stream, and the journal says so."""
    server.set_scenario(Scenario.of(reply("a b", timing=Timing(first_chunk=0.25, keepalive=0.05))))
    assert generate(kind, server) == ["a", " b", ""]
    entry = server.journal()[0]
    assert "gemini_stream streams have no keep-alive line; waits were silent" in str(entry.detail)
    assert all(chunk.kind != "keepalive" for chunk in entry.chunks)
