"""A namespace in the URL path: every route under `/ns/{namespace}` as well as at the root.

`http://HOST/ns/NAME/v1` is an OpenAI base URL into the namespace NAME, `http://HOST/ns/NAME`
an Anthropic one. A base URL per namespace is what lets clients that cache a connection pool
per URL (langchain-openai) start afresh in each test; tests/libraries/ shows that case.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from sparring import FakeServer, Scenario, reply, rule

NS = "x-sparring-namespace"


def body(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def http(server: FakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


def test_raw_http_through_the_prefix(server: FakeServer, http: httpx.Client) -> None:
    """Scripted, asked and read back through `/ns/alpha/...`; the journal and the rules see
    the API path, `/v1/chat/completions`, without the prefix."""
    scenario = "rules:\n  - match: {path: /v1/chat/completions}\n    replies:\n      - text: by path\n"
    put = http.put("/ns/alpha/_sparring/scenario", content=scenario)
    assert put.json() == {"namespace": "alpha", "rules": 1}
    answer = http.post("/ns/alpha/v1/chat/completions", json=body())
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "by path"
    [entry] = server.journal("alpha")
    assert (entry.namespace, entry.path, entry.outcome) == ("alpha", "/v1/chat/completions", "completed")
    journal = http.get("/ns/alpha/_sparring/journal").json()
    assert journal["namespace"] == "alpha"
    assert [e["path"] for e in journal["entries"]] == ["/v1/chat/completions"]
    assert http.get("/ns/alpha/_sparring/scenario").json()["replies"][0]["left"] == 0
    assert http.post("/ns/alpha/_sparring/reset").json() == {"namespace": "alpha", "reset": True}
    assert server.journal("alpha") == []
    assert server.journal() == []  # the default namespace saw nothing


def test_openai_sdk_through_the_prefix(server: FakeServer) -> None:
    """The SDK's base URL carries the namespace: chat (whole and streamed), Responses, and the
    model list all go there, and `endpoint` matching sees the API path."""
    server.set_scenario(
        Scenario.of(rule(reply("chat", repeat=True), endpoint="chat"), rule(reply("responses"), endpoint="responses")),
        "beta",
    )
    with openai.OpenAI(base_url=f"{server.url}/ns/beta/v1", api_key="sk-test", max_retries=0) as client:
        whole = client.chat.completions.create(model="gpt-4o", messages=body()["messages"])
        assert whole.choices[0].message.content == "chat"
        stream = client.chat.completions.create(model="gpt-4o", messages=body()["messages"], stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "chat"
        assert client.responses.create(model="gpt-4o", input="Hi").output_text == "responses"
        assert "gpt-4o" in [m.id for m in client.models.list()]
        assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    paths = [e.path for e in server.journal("beta")]
    assert paths == [
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/models",
        "/v1/models/gpt-4o-mini",
    ]


def test_anthropic_sdk_takes_the_namespace_root(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("Hello from Claude")), "gamma")
    with anthropic.Anthropic(base_url=f"{server.url}/ns/gamma", api_key="sk-ant-test", max_retries=0) as client:
        message = client.messages.create(
            model="claude-sparring-1", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        )
    assert [block.model_dump() for block in message.content] == [
        {"type": "text", "text": "Hello from Claude", "citations": None}
    ]
    assert [(e.namespace, e.path) for e in server.journal("gamma")] == [("gamma", "/v1/messages")]


def test_two_namespaces_by_path_are_isolated(server: FakeServer, http: httpx.Client) -> None:
    for name in ("alpha", "beta"):
        server.set_scenario(Scenario.of(reply(f"I am {name}", times=2)), name)
    said = [
        http.post(f"/ns/{name}/v1/chat/completions", json=body()).json()["choices"][0]["message"]["content"]
        for name in ("alpha", "beta", "alpha")
    ]
    assert said == ["I am alpha", "I am beta", "I am alpha"]
    assert len(server.journal("alpha")) == 2
    assert len(server.journal("beta")) == 1
    assert server.store.unused("alpha") == []
    assert server.store.unused("beta") == ["rule 1 [any request] reply 1: text 'I am beta', 1 of 2 uses left"]


def test_the_path_wins_over_header_and_key(server: FakeServer, http: httpx.Client) -> None:
    server.set_scenario(Scenario.of(reply("path")), "by-path")
    server.set_scenario(Scenario.of(reply("header", optional=True)), "by-header")
    server.set_scenario(Scenario.of(reply("key", optional=True)), "by-key")
    server.store.route("sk-routed", "by-key")
    headers = {NS: "by-header", "Authorization": "Bearer sk-routed"}
    answer = http.post("/ns/by-path/v1/chat/completions", json=body(), headers=headers, params={"namespace": "q"})
    assert answer.json()["choices"][0]["message"]["content"] == "path"
    assert [len(server.journal(n)) for n in ("by-path", "by-header", "by-key")] == [1, 0, 0]
    # Without a path namespace, the header and the key route as before.
    for headers, expected in (({NS: "by-header"}, "header"), ({"Authorization": "Bearer sk-routed"}, "key")):
        answer = http.post("/v1/chat/completions", json=body(), headers=headers)
        assert answer.json()["choices"][0]["message"]["content"] == expected


def test_an_unknown_namespace_is_made_empty(server: FakeServer, http: httpx.Client) -> None:
    """As with the header: a namespace first named in a path starts with nothing scripted, and
    the miss names the API path and the namespace."""
    answer = http.post("/ns/fresh/v1/chat/completions", json=body())
    assert answer.status_code == 404
    assert answer.headers["x-should-retry"] == "false"
    error = answer.json()["error"]
    assert error["code"] == "sparring_no_reply"
    assert error["message"].startswith(
        "sparring: no scripted reply answers POST /v1/chat/completions (model='gpt-4o', stream=False, "
        "last user message='Hi'"
    )
    assert ") in namespace 'fresh'. Nothing is scripted" in error["message"]
    assert [(e.path, e.outcome) for e in server.journal("fresh")] == [("/v1/chat/completions", "unmatched")]


def test_errors_under_the_prefix_keep_their_shape(server: FakeServer, http: httpx.Client) -> None:
    """An unknown API route is the API's 404, journaled in the namespace; an unknown control
    route is the control API's, journaled nowhere."""
    unknown = http.post("/ns/alpha/v1/chat/complete", json=body())
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (POST /v1/chat/complete)"
    wrong_method = http.get("/ns/alpha/v1/chat/completions")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["message"] == "Invalid method for URL (GET /v1/chat/completions)"
    anthropic_shape = http.post("/ns/alpha/v1/messages", content=b"{", headers={"anthropic-version": "2023-06-01"})
    assert anthropic_shape.status_code == 400
    assert anthropic_shape.json()["type"] == "error"
    outcomes = [(e.path, e.status, e.outcome) for e in server.journal("alpha")]
    assert outcomes == [
        ("/v1/chat/complete", 404, "rejected"),
        ("/v1/chat/completions", 405, "rejected"),
        ("/v1/messages", 400, "rejected"),
    ]
    control = http.get("/ns/alpha/_sparring/nope")
    assert control.status_code == 404
    assert "is not a control route" in control.json()["error"]["message"]
    assert len(server.journal("alpha")) == 3


def test_a_dropped_namespace_explains_late_requests(server: FakeServer, http: httpx.Client) -> None:
    """A request to a namespace the plugin has dropped (a client kept from a test that is over)
    gets a 404 that says so, and lands in the journal of the namespace running now."""
    server.set_scenario(Scenario.of(reply("once")), "test-old")
    assert http.post("/ns/test-old/v1/chat/completions", json=body()).status_code == 200
    server.drop_namespace("test-old")
    server.store.default = "test-now"
    late = http.post("/ns/test-old/v1/chat/completions", json=body())
    assert late.status_code == 404
    assert late.headers["x-should-retry"] == "false"
    message = late.json()["error"]["message"]
    assert message.startswith(
        "sparring: POST /v1/chat/completions was sent to namespace 'test-old', which has ended: "
        "the test it belonged to is over."
    )
    [entry] = server.journal("test-now")
    assert (entry.path, entry.status, entry.outcome, entry.detail) == (
        "/v1/chat/completions",
        404,
        "unmatched",
        message,
    )
    assert entry.answered_by == "nothing: sent to an ended namespace: test-old"
    assert entry.body == body()
    assert server.store.ended("test-old")
    # Scripting it again brings it back.
    server.set_scenario(Scenario.of(reply("again")), "test-old")
    assert not server.store.ended("test-old")
    assert http.post("/ns/test-old/v1/chat/completions", json=body()).status_code == 200
