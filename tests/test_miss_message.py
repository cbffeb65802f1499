"""The miss message and the request description: what a request asked, said once and the same
everywhere (`Request.describe`, kept as `Entry.asked`), and for each scripted rule why it did
not answer (`Match.explain`, the same checks as `Match.holds`)."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai import OpenAI

from sparring import Entry, FakeServer, Match, Request, Scenario, reply, respond, rule

CALL = {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "c1", "content": "noon"},
]


def request_of(messages: list[dict[str, Any]] = CONVERSATION, **body: Any) -> Request:
    return Request.of(
        endpoint="chat",
        path="/v1/chat/completions",
        model="gpt-4.1",
        messages=messages,
        body={"model": "gpt-4.1", "messages": messages, **body},
        headers={"X-Team": "red", "x-stainless-retry-count": "1"},
        stream=False,
        retry_count=1,
    )


WHY_NOT = [
    ({"model": "gpt-4o"}, "model is 'gpt-4.1', the rule wants 'gpt-4o'"),
    ({"endpoint": "responses"}, "endpoint chat, the rule wants responses"),
    ({"path": "/v1/responses"}, "path is '/v1/chat/completions', the rule wants '/v1/responses'"),
    ({"message": "hi"}, "last user message 'What is the weather in Paris?' does not contain 'hi'"),
    ({"message_regex": "^hi"}, "last user message 'What is the weather in Paris?' does not match the pattern '^hi'"),
    ({"tools": True}, "the request offers no tools, the rule wants tools"),
    ({"stream": True}, "the request is not streamed, the rule wants a stream"),
    ({"retry_count": 0}, "retry count is 1, the rule wants 0"),
    ({"headers": {"X-Team": "blue"}}, "header X-Team is 'red', the rule wants 'blue'"),
    ({"headers": {"x-tenant": "acme"}}, "no x-tenant header, the rule wants 'acme'"),
    ({"system": "pirate"}, "system prompt 'Be brief.' does not contain 'pirate'"),
    ({"system_regex": "pirate$"}, "system prompt 'Be brief.' does not match the pattern 'pirate$'"),
    ({"message_count": 1}, "3 messages, the rule wants 1"),
    ({"last_role": "user"}, "the last message is from tool, the rule wants user"),
    ({"tool_name": "get_weather"}, "the tool result is from 'get_time', the rule wants 'get_weather'"),
    ({"tool_call_id": "c2"}, "the tool result answers call 'c1', the rule wants 'c2'"),
    ({"tool_result": "sunny"}, "the tool result 'noon' does not contain 'sunny'"),
    ({"tool_result_regex": "^sun"}, "the tool result 'noon' does not match the pattern '^sun'"),
    ({"body": {"temperature": 0}}, "body temperature is missing, the rule wants 0"),
    ({"body": {"seed": None, "top_p": 1}}, "body top_p is 0.5, the rule wants 1"),
    (
        {"body": {"response_format": {"type": "json_object"}}},
        "body response_format.type is 'text', the rule wants 'json_object'",
    ),
    ({"body": {"n": None}}, "body n is 2, the rule wants null or missing"),
    # The first key that fails is the one named, in a fixed order whatever order they are given in.
    ({"last_role": "user", "model": "gpt-4o"}, "model is 'gpt-4.1', the rule wants 'gpt-4o'"),
]


@pytest.mark.parametrize(("keys", "why"), WHY_NOT, ids=[str(k) for k, _ in WHY_NOT])
def test_explain_names_the_first_key_that_does_not_hold(keys: dict[str, Any], why: str) -> None:
    request = request_of(top_p=0.5, n=2, response_format={"type": "text"})
    match = Match(**keys)
    assert match.explain(request) == why
    assert match.holds(request) is False


def test_explain_is_none_when_every_key_holds() -> None:
    match = Match(model="gpt-4.1", message="weather", tool_name="get_time", tool_result="noon", last_role="tool")
    assert match.explain(request_of()) is None
    assert match.holds(request_of())
    assert Match().explain(request_of()) is None


def test_explain_of_tool_keys_with_no_or_many_results() -> None:
    match = Match(tool_name="get_weather", tool_result="sunny")
    asked = request_of(CONVERSATION[:2])
    assert match.explain(asked) == (
        "no tool results sent back, the rule wants one with tool_name='get_weather', tool_result='sunny'"
    )
    two = [*CONVERSATION, {"role": "tool", "tool_call_id": "c1", "content": "rain"}]
    assert match.explain(request_of(two)) == (
        "none of the 2 tool results sent back has tool_name='get_weather', tool_result='sunny'"
        " (sent: c1 (get_time) 'noon'; c1 (get_time) 'rain')"
    )


def test_long_texts_are_cut_in_the_reason() -> None:
    request = request_of([{"role": "user", "content": "x" * 500}])
    assert Match(message="y").explain(request) == f"last user message '{'x' * 39}…' does not contain 'y'"


def test_the_description_of_a_request() -> None:
    assert request_of(tools=[{"type": "function", "function": {"name": "get_time"}}]).describe() == (
        "POST /v1/chat/completions (model='gpt-4.1', stream=False,"
        " last user message='What is the weather in Paris?', retry count 1, 3 messages, the last from tool,"
        " system prompt 'Be brief.', tool result c1 (get_time) 'noon', tools get_time)"
    )


def post(server: FakeServer, **body: Any) -> httpx.Response:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)


def test_the_miss_message_says_why_each_rule_did_not_answer(server: FakeServer) -> None:
    """Rules whose match holds (here: used up) first, then the rest in order."""
    server.set_scenario(
        Scenario.of(
            rule(reply("for 4.1"), model="gpt-4.1", name="the big model"),
            rule(reply("weather"), message="weather"),
            rule(reply("once"), reply("twice")),
        )
    )
    assert [post(server).status_code for _ in range(3)] == [200, 200, 404]
    message = post(server).json()["error"]["message"]
    assert message == (
        "sparring: no scripted reply answers POST /v1/chat/completions (model='gpt-4o', stream=False,"
        " last user message='hi', 1 message, the last from user). Why no rule answered:"
        " rule 3 [any request] (text 'once', then 1 more): used up: 2 of 2 replies sent;"
        " rule 1 'the big model' [model='gpt-4.1'] (text 'for 4.1'): model is 'gpt-4o', the rule wants 'gpt-4.1';"
        " rule 2 [message='weather'] (text 'weather'): last user message 'hi' does not contain 'weather'."
    )
    assert server.journal()[-1].detail == message


def test_many_rules_are_capped(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(*(rule(reply("x"), model=f"model-{i}") for i in range(10))))
    message = post(server).json()["error"]["message"]
    assert message.count("the rule wants 'model-") == 6
    assert message.endswith(
        "rule 6 [model='model-5'] (text 'x'): model is 'gpt-4o', the rule wants 'model-5'; and 4 more rules."
    )


def test_a_callback_that_handed_it_on(server: FakeServer) -> None:
    def decide(request: Request) -> None:
        return None

    server.set_scenario(Scenario.of(respond(decide, repeat=True)))
    message = post(server).json()["error"]["message"]
    assert message.endswith(
        "Why no rule answered: rule 1 [any request] (callback decide): its callback handed the request on."
    )


def test_every_api_describes_the_last_user_message(server: FakeServer) -> None:
    """The same words whatever API the request came through: Responses input items and
    Anthropic content blocks included (the teardown used to read the raw last message)."""
    server.set_scenario(Scenario.of(rule(reply("x"), model="never")))
    with OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client, pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input=[{"role": "user", "content": "hi from responses"}])
    blocks = [{"type": "text", "text": "hi from blocks"}]
    with (
        anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as claude,
        pytest.raises(anthropic.NotFoundError),
    ):
        claude.messages.create(model="claude-sparring-1", max_tokens=50, messages=[{"role": "user", "content": blocks}])
    asked = [entry.asked for entry in server.journal()]
    assert asked == [
        "POST /v1/responses (model='gpt-4o', stream=False, last user message='hi from responses', retry count 0,"
        " 1 message, the last from user)",
        "POST /v1/messages (model='claude-sparring-1', stream=False, last user message='hi from blocks',"
        " retry count 0, 1 message, the last from user)",
    ]
    for entry in server.journal():
        assert f"no scripted reply answers {entry.asked}." in str(entry.detail)
        assert Entry.from_json(entry.to_json()).asked == entry.asked


def test_a_request_refused_before_it_was_read_has_no_description(server: FakeServer) -> None:
    answer = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json", timeout=10)
    assert answer.status_code == 400
    assert server.journal()[-1].asked is None
