"""Golden wire output: for one scenario and one seed, the exact bytes each API sends.

These pin what a client receives, byte for byte, before the request path is reworked for
speed: every event's content, status and headers, streamed and whole, clean and broken,
and the write boundaries wherever wire shaping promises them. A change here is a change
users see: it belongs in the changelog, and `--snapshot-update` records it on purpose.

Only what varies by itself is masked: the `created` clocks, the `date` header and the
processing time. Unshaped streams are pinned by their bytes, not their writes, because how
many writes carry unshaped events is not a promise.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from sparring import FakeServer, parse_scenario

TEXT = "Paris is the capital of France."

ANSWERS: dict[str, dict[str, Any]] = {
    "text": {"text": TEXT, "usage": {"prompt_tokens": 9, "completion_tokens": 7}},
    "tool_call": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "split": "token"}]},
    "refusal": {"refusal": "I'm sorry, but I can't help with that."},
    "two_choices": {"choices": [{"text": TEXT}, {"text": "France's capital city is Paris."}]},
    "error_429": {"error": 429},
    "error_500": {"error": 500},
    "close": {"text": TEXT, "fault": {"kind": "close", "after_chunk": 2}},
    "truncate": {"text": TEXT, "fault": {"kind": "truncate", "after_chunk": 2}},
    "malformed_chunk": {"text": TEXT, "fault": {"kind": "malformed_chunk", "after_chunk": 2}},
    "garbage": {"text": TEXT, "fault": {"kind": "garbage", "after_chunk": 2, "size": 16, "seed": 0}},
    "error_event": {"text": TEXT, "fault": {"kind": "error_event", "after_chunk": 2, "error": "overloaded"}},
    "no_done": {"text": TEXT, "fault": "no_done"},
    "close_by_byte": {"text": TEXT, "fault": {"kind": "close", "after_byte": 200}},
}
SHAPED: dict[str, dict[str, Any]] = {
    "one_byte_crlf": {"text": "Grüße aus Köln 🎉", "wire": {"write_size": 1, "line_ending": "crlf"}},
    "cycled_sizes": {
        "text": "The same words, in odd pieces.",
        "wire": {"write_size": [1, 7, 3], "events_per_write": 2, "line_ending": "cr"},
    },
    "events_per_write": {"text": TEXT, "wire": {"events_per_write": 3}},
}

REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", {"model": "gpt-4o", "input": "hi"}),
    "completions": ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}),
    "anthropic": (
        "/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "ollama_chat": ("/api/chat", {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}),
    "ollama_generate": ("/api/generate", {"model": "llama3.2", "prompt": "hi"}),
    # Gemini: the route, not the body, says whether it streams (`{method}` below).
    "gemini": ("/v1beta/models/gemini-2.5-flash:{method}", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
}
# Headers that change by themselves from one run, or one machine (`server`), to the next.
_VARYING = {"date", "server", "openai-processing-ms", "x-envoy-upstream-service-time", "server-timing"}
_CLOCKS = re.compile(rb'"(created|created_at|completed_at)":\d+')
_TIMES = re.compile(rb'"created_at":"[\d\-T:.]*Z?')  # Ollama's RFC 3339 times, cut short ones too
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")  # Anthropic's rate-limit resets


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: "<timestamp>" if _TIMESTAMP.match(v) else v for k, v in response.headers.items() if k not in _VARYING}


def _exchange(answer: dict[str, Any], api: str, stream: bool) -> dict[str, Any]:
    path, body = REQUESTS[api]
    if "{method}" in path:
        path = path.format(method="streamGenerateContent?alt=sse" if stream else "generateContent")
    else:
        body = {**body, "stream": stream}
    scenario = parse_scenario(json.dumps({"replies": [answer]}))
    with FakeServer(scenario, seed=1) as server:
        received = bytearray()
        ending = "complete"
        with httpx.Client(timeout=10) as client:
            request = client.build_request(
                "POST",
                server.url + path,
                json=body,
                headers={"authorization": "Bearer sk-test", "x-api-key": "sk-test", "x-goog-api-key": "sk-test"},
            )
            response = client.send(request, stream=True)
            try:
                for piece in response.iter_raw():
                    received += piece
            except httpx.HTTPError as exc:
                ending = type(exc).__name__
            finally:
                response.close()
        entry = server.wait_until(lambda j: bool(j) and j[-1].outcome is not None)[-1]
    headers = _headers(response)
    body = _TIMES.sub(b'"created_at":"<time>', _CLOCKS.sub(rb'"\1":0', bytes(received)))
    return {
        "status": response.status_code,
        "headers": headers,
        "ending": ending,
        "outcome": entry.outcome,
        "body": body.decode("utf-8", "backslashreplace"),
        "writes": [(c.kind, c.nbytes) for c in entry.chunks],
        "received": len(received) - entry.bytes_omitted,  # the journal keeps the first writes' records
    }


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("api", list(REQUESTS))
@pytest.mark.parametrize("name", list(ANSWERS))
def test_golden_bytes(name: str, api: str, stream: bool, snapshot: Any) -> None:
    got = _exchange(ANSWERS[name], api, stream)
    del got["writes"], got["received"]  # unshaped: how many writes carry them is not a promise
    assert got == snapshot


@pytest.mark.parametrize("api", list(REQUESTS))
@pytest.mark.parametrize("name", list(SHAPED))
def test_golden_shaped_writes(name: str, api: str, snapshot: Any) -> None:
    got = _exchange(SHAPED[name], api, stream=True)
    assert sum(n for _, n in got["writes"]) == got.pop("received")  # the journal saw every byte
    assert got == snapshot


def test_golden_embeddings(snapshot: Any) -> None:
    scenario = parse_scenario(json.dumps({"replies": [{"text": TEXT}]}))
    with FakeServer(scenario, seed=1) as server:
        response = httpx.post(
            server.base_url + "/embeddings",
            json={"model": "text-embedding-3-small", "input": ["hi", "there"], "dimensions": 8},
            headers={"authorization": "Bearer sk-test"},
        )
    headers = _headers(response)
    assert {"status": response.status_code, "headers": headers, "body": response.json()} == snapshot
