"""Malformed requests get OpenAI-shaped errors, are journaled as rejected, and never hurt the server."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest

from sparring import FakeServer, Scenario, reply
from tests.sse import RawResponse, post

USER = [{"role": "user", "content": "Hi"}]
OK = {"model": "gpt-4o", "messages": USER}
LIMIT = 32 * 1024 * 1024  # the real API's request size limit, which the fake copies


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


# (raw body, status, param, code, a piece of the message)
BAD_BODIES = [
    pytest.param(b'{"model": "gpt-4o", "messages": [', 400, None, None, "could not parse the JSON body", id="bad-json"),
    pytest.param(json_body([OK]), 400, None, "invalid_type", "expected an object", id="array-body"),
    pytest.param(
        json_body({"messages": USER}), 400, None, None, "you must provide a model parameter", id="missing-model"
    ),
    pytest.param(
        json_body({"model": "gpt-4o"}),
        400,
        "messages",
        "missing_required_parameter",
        "Missing required parameter: 'messages'.",
        id="missing-messages",
    ),
    pytest.param(
        json_body({"model": "gpt-4o", "messages": "Hi"}),
        400,
        "messages",
        "invalid_type",
        "Invalid type for 'messages'",
        id="messages-string",
    ),
    pytest.param(
        json_body({"model": "gpt-4o", "messages": []}), 400, "messages", "empty_array", "empty array", id="no-messages"
    ),
    pytest.param(
        json_body({"model": "gpt-4o", "messages": [{"content": "Hi"}]}),
        400,
        "messages[0].role",
        "missing_required_parameter",
        "messages[0].role",
        id="message-without-role",
    ),
    pytest.param(
        json_body({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "Hi"}]}),
        400,
        "messages[0].role",
        "invalid_value",
        "'wizard'",
        id="invalid-role",
    ),
    pytest.param(
        json_body({**OK, "stream": "yes"}), 400, "stream", "invalid_type", "Invalid type for 'stream'", id="stream-str"
    ),
    pytest.param(json_body({**OK, "n": 0}), 400, "n", "integer_below_min_value", "Invalid 'n'", id="n-zero"),
    pytest.param(
        json_body({**OK, "stream_options": {"include_usage": True}}),
        400,
        "stream_options",
        None,
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        id="stream-options-without-stream",
    ),
]


async def request(server: FakeServer, method: str, path: str, data: bytes) -> RawResponse:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, server.url + path, data=io.BytesIO(data), headers={"Content-Type": "application/json"}
        ) as r,
    ):
        return RawResponse(r.status, dict(r.headers), await r.read())


# (method, path, body, status, the exact message or a piece of it)
BAD_REQUESTS = [
    *[pytest.param("POST", "/v1/chat/completions", *p.values, id=p.id) for p in BAD_BODIES],
    pytest.param("POST", "/v1/nope", json_body(OK), 404, None, None, "Invalid URL (POST /v1/nope)", id="unknown-path"),
    pytest.param("GET", "/v1/chat/completions", b"", 405, None, None, "GET /v1/chat/completions", id="wrong-method"),
    pytest.param(
        "POST",
        "/v1/chat/completions",
        b'{"model":"gpt-4o","messages":[{"role":"user","content":"' + b"x" * LIMIT + b'"}]}',
        413,
        None,
        None,
        "too large",
        id="over-32-MiB",
    ),
]


def assert_openai_error(raw: RawResponse, status: int, param: str | None, code: str | None, text: str) -> None:
    assert raw.status == status
    assert raw.headers["Content-Type"].split(";")[0] == "application/json"
    payload = json.loads(raw.body)
    assert list(payload) == ["error"]
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert text in error["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "data", "status", "param", "code", "text"), BAD_REQUESTS)
async def test_bad_request_gets_openai_error_and_is_journaled(
    server: FakeServer, method: str, path: str, data: bytes, status: int, param: str | None, code: str | None, text: str
) -> None:
    """Each malformed request: its status, an OpenAI-shaped body, one `rejected` journal entry;
    then the server still answers a good request."""
    server.set_scenario(Scenario.of(reply("still here")))
    raw = await request(server, method, path, data)
    assert_openai_error(raw, status, param, code, text)
    [entry] = server.journal()
    assert (entry.method, entry.path, entry.outcome, entry.status) == (method, path, "rejected", status)

    good = await post(f"{server.base_url}/chat/completions", OK)
    assert good.status == 200
    assert json.loads(good.body)["choices"][0]["message"]["content"] == "still here"


@pytest.mark.asyncio
async def test_stream_options_message_is_exact(server: FakeServer) -> None:
    """The real API's words for `stream_options` without `stream` (wire-format.md §1.1)."""
    raw = await post(f"{server.base_url}/chat/completions", {**OK, "stream_options": {"include_usage": True}})
    message = json.loads(raw.body)["error"]["message"]
    assert message == "The 'stream_options' parameter is only allowed when 'stream' is enabled."


@pytest.mark.asyncio
async def test_stream_false_with_stream_options_is_rejected(server: FakeServer) -> None:
    """`stream: false` counts as not enabled."""
    raw = await post(f"{server.base_url}/chat/completions", {**OK, "stream": False, "stream_options": {}})
    assert_openai_error(raw, 400, "stream_options", None, "only allowed when 'stream' is enabled")


@pytest.mark.asyncio
async def test_server_survives_every_bad_request(server: FakeServer) -> None:
    """All of the malformed requests in a row, on one server; then a normal request succeeds."""
    cases = [p.values for p in BAD_REQUESTS]
    for method, path, data, status, *_ in cases:
        assert (await request(server, method, path, data)).status == status
    server.set_scenario(Scenario.of(reply("alive and well")))
    good = await post(f"{server.base_url}/chat/completions", {**OK, "stream": True})
    assert good.status == 200
    assert good.events()[-1] == "[DONE]"
    entries = server.journal()
    assert [e.outcome for e in entries[:-1]] == ["rejected"] * len(cases)
    assert [e.status for e in entries] == [c[3] for c in cases] + [200]
