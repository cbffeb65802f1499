"""Replies made by a callback of the request (`respond(...)`), over real sockets: what the
callback sees, what it may return, how its uses are counted, and what happens when it raises.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai import OpenAI

from sparring import FakeServer, Request, Scenario, error, reply, respond, rule, tool_call
from tests.inner_pytest import unmeasured

DOCS = Path(__file__).resolve().parents[1] / "docs" / "how-to" / "callbacks.md"
MODEL = "gpt-4o"
USER = [{"role": "user", "content": "Paris"}]


def ask(client: OpenAI, text: str = "Paris", **extra: Any) -> str:
    out = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}], **extra)
    return str(out.choices[0].message.content)


def client_of(server: FakeServer, **options: Any) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="sk-test", **{"max_retries": 0, **options})


def test_the_callback_sees_the_request_and_its_reply_is_streamed(server: FakeServer) -> None:
    seen: list[Request] = []

    def echo(request: Request) -> Any:
        seen.append(request)
        return reply(f"you said {request.last_user_text}", split="char")

    server.set_scenario(Scenario.of(respond(echo, times=2)))
    with client_of(server) as client:
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, temperature=0.5
        )
        pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        assert ask(client, "again") == "you said again"
    assert "".join(pieces) == "you said hi"
    assert len(pieces) == len("you said hi")  # the reply's own split applies
    first, second = seen
    assert (first.endpoint, first.path, first.model, first.stream) == ("chat", "/v1/chat/completions", MODEL, True)
    assert first.body["temperature"] == 0.5
    assert first.headers["x-stainless-retry-count"] == "0"
    assert first.retry_count == 0
    assert [m.role for m in first.messages] == ["user"]
    assert (first.index, second.index, second.stream) == (0, 1, False)
    assert server.journal()[0].answered_by == "rule 1, reply 1: callback echo -> text 'you said hi'"


def test_a_string_is_a_text_reply_and_the_responses_api_works_too(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(respond(lambda r: f"{r.endpoint}: {r.last_user_text.upper()}", repeat=True)))
    with client_of(server) as client:
        assert client.responses.create(model=MODEL, input="bonjour").output_text == "responses: BONJOUR"
        assert ask(client, "hola") == "chat: HOLA"


def test_an_error_reply_is_sent_in_the_api_shape_and_the_sdk_retries_it(server: FakeServer) -> None:
    """A callback can fail the first attempt and answer the retry: it reads the retry count."""

    def flaky(request: Request) -> Any:
        if request.retry_count == 0:
            return error("rate_limit", retry_after_ms=1)
        return reply(f"answered attempt {request.retry_count}")

    server.set_scenario(Scenario.of(respond(flaky, times=2)))
    with client_of(server, max_retries=2) as client:
        assert ask(client) == "answered attempt 1"
    assert [e.status for e in server.journal()] == [429, 200]
    assert server.journal()[0].response_headers["retry-after-ms"] == "1"


def test_none_hands_the_request_to_the_next_rule_and_keeps_the_use(server: FakeServer) -> None:
    calls: list[str] = []

    def only_weather(request: Request) -> Any:
        calls.append(request.last_user_text)
        if "weather" not in request.last_user_text:
            return None
        return reply(tool_calls=[tool_call("get_weather", {"city": "Paris"})])

    server.set_scenario(Scenario.of(rule(respond(only_weather), reply("never reached")), reply("other", times=2)))
    with client_of(server) as client:
        assert ask(client, "hello") == "other"
        assert ask(client, "bye") == "other"
        out = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "weather?"}])
        [call] = out.choices[0].message.tool_calls or []
        assert call.function.name == "get_weather"
    assert calls == ["hello", "bye", "weather?"]
    # The callback's one use went to the weather question; its rule's second reply is left.
    assert server.store.unused() == ["rule 1 [any request] reply 2: text 'never reached', never used"]


def test_a_miss_after_every_callback_declined_says_so(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(respond(lambda r: None, repeat=True)))
    with client_of(server) as client, pytest.raises(openai.NotFoundError) as caught:
        ask(client)
    message = caught.value.body["message"]  # type: ignore[index]
    assert message.endswith(
        "Why no rule answered: rule 1 [any request] (callback <lambda>): its callback handed the request on."
    )


def test_uses_are_counted_like_any_reply(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(respond(lambda r: "from the callback", times=2), reply("then this")))
    with client_of(server) as client:
        assert [ask(client) for _ in range(3)] == ["from the callback", "from the callback", "then this"]
    server.set_scenario(Scenario.of(respond(lambda r: "x", times=3), respond(lambda r: "y", optional=True)))
    with client_of(server) as client:
        assert ask(client) == "x"
    assert server.store.unused() == ["rule 1 [any request] reply 1: callback <lambda>, 2 of 3 uses left"]


def test_an_async_callback_is_awaited_on_the_server_loop(server: FakeServer) -> None:
    threads: list[str] = []

    async def slow(request: Request) -> Any:
        threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return reply(f"{request.endpoint}: {request.system}")

    server.set_scenario(Scenario.of(respond(slow)))
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=0) as claude:
        out = claude.messages.create(
            model="claude-sparring-1",
            max_tokens=64,
            system="Be brief.",
            messages=USER,  # type: ignore[arg-type]
        )
    assert out.content[0].type == "text"
    assert out.content[0].text == "messages: Be brief."
    assert threads == ["sparring-server"]  # the server's own thread and loop


def test_a_client_that_gives_up_on_a_slow_callback_is_journaled(server: FakeServer) -> None:
    """The handler waiting on an async callback is cancelled like any other: the journal
    says the client went away, and the server goes on serving."""

    async def never(request: Request) -> Any:
        await asyncio.Event().wait()  # until the client gives up

    server.set_scenario(Scenario.of(respond(never), reply("next")))
    with httpx.Client(base_url=server.base_url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/chat/completions", json={"model": MODEL, "messages": USER})
        journal = server.wait_until(lambda entries: bool(entries) and entries[0].outcome is not None)
        assert journal[0].outcome == "client_disconnected"
        response = client.post("/chat/completions", json={"model": MODEL, "messages": USER})
    assert response.json()["choices"][0]["message"]["content"] == "next"


def boom(request: Request) -> Any:
    raise ValueError(f"no city called {request.last_user_text}")


def test_a_callback_that_raises_gets_a_500_the_sdk_does_not_retry(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(respond(boom), reply("the server still serves")))
    with client_of(server, max_retries=2) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            ask(client, "Atlantis")
        assert ask(client) == "the server still serves"
    failure = caught.value
    assert failure.response.headers["x-should-retry"] == "false"
    body: Any = failure.body
    assert body["type"] == "server_error"
    assert body["code"] == "sparring_callback_error"
    message = body["message"]
    assert message.startswith(
        "sparring: the callback boom (rule 1, reply 1) raised ValueError: no city called Atlantis"
    )
    assert "(at test_callbacks.py:" in message
    assert message.endswith(" in boom)")
    first, second = server.journal()
    assert (first.outcome, first.status, first.detail) == ("callback_error", 500, message)
    assert first.answered_by == "rule 1, reply 1: callback boom"
    assert "callback_error (sparring: the callback boom" in first.describe()
    assert (second.outcome, second.status) == ("completed", 200)


def test_pytest_fail_in_a_callback_is_a_failure_too(server: FakeServer) -> None:
    """`pytest.fail` raises a BaseException: the server reports it like any other."""

    def strict(request: Request) -> str:
        pytest.fail(f"unexpected question {request.last_user_text!r}")

    server.set_scenario(Scenario.of(respond(strict), reply("still serving")))
    with client_of(server) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            ask(client, "why?")
        assert ask(client) == "still serving"
    message = caught.value.body["message"]  # type: ignore[index]
    assert "raised Failed: unexpected question 'why?'" in message


@pytest.mark.parametrize("returned", [42, reply("a").content, rule(reply("a"))], ids=["int", "content", "rule"])
def test_a_callback_that_returns_no_reply_gets_a_500_too(server: FakeServer, returned: object) -> None:
    server.set_scenario(Scenario.of(respond(lambda r: returned)))
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post("/chat/completions", json={"model": MODEL, "messages": USER})
    assert response.status_code == 500
    assert response.headers["x-should-retry"] == "false"
    message = response.json()["error"]["message"]
    assert message.startswith(f"sparring: the callback <lambda> (rule 1, reply 1) returned {type(returned).__name__} ")
    assert "return reply(...), error(...), a string, or None" in message
    assert server.journal()[0].outcome == "callback_error"


def test_an_anthropic_client_gets_the_failure_in_anthropic_shape(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(respond(boom)))
    claude = anthropic.Anthropic(base_url=server.url, api_key="sk-ant", max_retries=2)
    with claude, pytest.raises(anthropic.InternalServerError) as caught:
        claude.messages.create(model="claude-sparring-1", max_tokens=64, messages=USER)  # type: ignore[arg-type]
    body: Any = caught.value.body
    assert body["type"] == "error"
    assert body["error"]["type"] == "api_error"
    assert body["error"]["message"].startswith("sparring: the callback boom (rule 1, reply 1) raised ValueError")
    assert len(server.journal()) == 1  # x-should-retry: false, so no retry


def test_the_callback_gets_its_own_copy_of_the_body(server: FakeServer) -> None:
    def meddle(request: Request) -> str:
        messages: Any = request.body["messages"]
        messages[0]["content"] = "changed"
        return "ok"

    server.set_scenario(Scenario.of(respond(meddle)))
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post("/chat/completions", json={"model": MODEL, "messages": USER})
    assert response.json()["choices"][0]["message"]["content"] == "ok"
    assert server.journal()[0].body["messages"][0]["content"] == "Paris"


def test_a_raw_client_without_sdk_headers(server: FakeServer) -> None:
    seen: list[Request] = []
    server.set_scenario(Scenario.of(respond(lambda r: seen.append(r) or "hi")))
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post(
            "/chat/completions",
            json={"model": MODEL, "messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}]},
        )
    assert response.status_code == 200
    [request] = seen
    assert request.retry_count is None
    assert request.tools == ("f",)
    assert request.has_tools


def test_respond_needs_a_function() -> None:
    from sparring import ScenarioError

    with pytest.raises(ScenarioError, match="respond: needs a function of the request, got 'hello'"):
        respond("hello")  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="times: must be an integer >= 1"):
        respond(lambda r: None, times=0)


# -- the pytest plugin: a callback that raised fails a strict test at teardown ---------------------

STRICT_FILE = """
import openai
import pytest
from sparring import reply, respond


def answer(request):
    return {"not": "a reply"} if request.last_user_text == "bad" else 1 / 0


def ask(fake_llm, text):
    client = fake_llm.openai(max_retries=0)
    return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])


def test_swallowed(fake_llm):
    fake_llm.add(respond(answer))
    with pytest.raises(openai.InternalServerError):
        ask(fake_llm, "hi")


def test_bad_return(fake_llm):
    fake_llm.add(respond(answer))
    with pytest.raises(openai.InternalServerError):
        ask(fake_llm, "bad")


@pytest.mark.sparring(strict=False)
def test_not_strict(fake_llm):
    fake_llm.add(respond(answer))
    with pytest.raises(openai.InternalServerError):
        ask(fake_llm, "hi")
"""


def test_strict_teardown_fails_a_test_whose_callback_raised(tmp_path: Path) -> None:
    (tmp_path / "test_agent.py").write_text(STRICT_FILE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_agent.py"],
        cwd=tmp_path,
        env=unmeasured(os.environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    out = result.stdout
    assert "3 passed, 2 errors" in out, out
    shown = DOCS.read_text(encoding="utf-8").rsplit("```text\n", 1)[1].split("```", 1)[0]
    assert shown.startswith("sparring: 1 callback failed.\n")
    assert shown in out, "docs/how-to/callbacks.md shows what the report does not say"
    assert "returned dict {'not': 'a reply'}; return reply(...)" in out
    assert "ERROR at teardown of test_not_strict" not in out
