"""Matching on what the agent sent: the body, the system prompt, how many messages, who spoke
last, and the tool results it sends back, the same through every API that has messages.

Over real sockets: the openai SDK (Chat and Responses), the anthropic SDK and raw httpx. The
same scenario file scripts a two-tool loop through all three APIs, in any rule order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai import OpenAI

from sparring import FakeServer, Match, Request, Scenario, parse_scenario, reply, rule

MODEL = "gpt-4o"
QUESTION = "What is the weather and the time in Paris?"
SYSTEM = "You are a terse travel assistant."
WEATHER = {"city": "Paris"}


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    return {"get_weather": f"sunny in {arguments['city']}", "get_time": "12:00"}[name]


def chat_tools() -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("get_weather", "get_time")
    ]


# -- one agent loop per API, written as a user would over each SDK -------------------------------


def chat_loop(server: FakeServer) -> str:
    with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        messages: list[Any] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
        for _ in range(5):
            out = client.chat.completions.create(model=MODEL, messages=messages, tools=chat_tools())
            said = out.choices[0].message
            if not said.tool_calls:
                return str(said.content)
            messages.append(said.model_dump(exclude_none=True))
            for call in said.tool_calls:
                result = run_tool(call.function.name, json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise AssertionError("the loop did not end")


def responses_loop(server: FakeServer) -> str:
    tools: Any = [
        {"type": "function", "name": n, "parameters": {"type": "object"}} for n in ("get_weather", "get_time")
    ]
    with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        items: list[Any] = [{"role": "user", "content": QUESTION}]
        for _ in range(5):
            out = client.responses.create(model=MODEL, input=items, tools=tools, instructions=SYSTEM)
            calls = [item for item in out.output if item.type == "function_call"]
            if not calls:
                return out.output_text
            for call in calls:
                items.append(
                    {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments}
                )
                result = run_tool(call.name, json.loads(call.arguments))
                items.append({"type": "function_call_output", "call_id": call.call_id, "output": result})
    raise AssertionError("the loop did not end")


def messages_loop(server: FakeServer) -> str:
    tools: Any = [{"name": n, "input_schema": {"type": "object"}} for n in ("get_weather", "get_time")]
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as client:
        messages: list[Any] = [{"role": "user", "content": QUESTION}]
        for _ in range(5):
            out = client.messages.create(
                model="claude-sparring-1", max_tokens=256, system=SYSTEM, messages=messages, tools=tools
            )
            uses = [block for block in out.content if block.type == "tool_use"]
            if not uses:
                return "".join(block.text for block in out.content if block.type == "text")
            messages.append({"role": "assistant", "content": [{**b.model_dump(exclude_none=True)} for b in uses]})
            results = [
                {"type": "tool_result", "tool_use_id": b.id, "content": run_tool(b.name, dict(b.input))} for b in uses
            ]
            messages.append({"role": "user", "content": results})
    raise AssertionError("the loop did not end")


LOOPS: dict[str, Callable[[FakeServer], str]] = {
    "chat": chat_loop,
    "responses": responses_loop,
    "messages": messages_loop,
}

AGENT_LOOP = """
rules:
  - name: the question
    match: {last_role: user, message_count: 1, system: terse}
    replies:
      - tool_calls: [{name: get_weather, arguments: {city: Paris}, id: call_weather}]
  - name: the weather came back
    match: {tool_call_id: call_weather, tool_result: sunny}
    replies:
      - tool_calls: [{name: get_time, arguments: {city: Paris}}]
  - name: the time came back
    match: {tool_name: get_time, tool_result_regex: '^\\d+:\\d+$', message_count: 5, last_role: tool}
    replies:
      - text: Sunny, and it is noon.
"""


@pytest.mark.parametrize("api", list(LOOPS))
@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_one_scenario_scripts_a_two_tool_loop_through_every_api(api: str, order: str) -> None:
    """The replies follow what the agent sends, not the order of the rules."""
    scenario = parse_scenario(AGENT_LOOP, source="agent-loop.yaml")
    if order == "reversed":
        scenario = Scenario(rules=scenario.rules[::-1])
    with FakeServer(scenario, seed=1) as server:
        assert LOOPS[api](server) == "Sunny, and it is noon."
        journal = server.journal()
    names = [rule.name for rule in scenario.rules]
    answered = [names[e.rule] for e in journal if e.rule is not None]
    assert answered == ["the question", "the weather came back", "the time came back"]
    assert [e.outcome for e in journal] == ["completed"] * 3


def test_the_loop_misses_when_a_tool_result_is_not_what_was_scripted() -> None:
    """A wrong tool result is not answered by order: the miss shows what the agent sent."""
    scenario = parse_scenario(AGENT_LOOP)
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        first = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
            tools=chat_tools(),  # type: ignore[arg-type]
        )
        [call] = first.choices[0].message.tool_calls or []
        assert call.id == "call_weather"
        sent: Any = [
            {"role": "user", "content": QUESTION},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "raining"},
        ]
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model=MODEL, messages=sent)
    message = str(caught.value.body["message"])  # type: ignore[index]
    assert "3 messages, the last from tool" in message
    assert "tool result call_weather (get_weather) 'raining'" in message
    assert "[tool_call_id='call_weather', tool_result='sunny']" in message


# -- each key, through the SDKs ------------------------------------------------------------------


def chat(client: OpenAI, messages: list[Any], **extra: Any) -> str:
    return str(client.chat.completions.create(model=MODEL, messages=messages, **extra).choices[0].message.content)


def test_body_fields_by_subset_and_by_dotted_path(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("cold", repeat=True), body={"temperature": 0}),
            rule(reply("json", repeat=True), body={"response_format.type": "json_object"}),
            rule(reply("forced", repeat=True), body={"tool_choice": {"function": {"name": "get_time"}}}),
            rule(reply("first tool", repeat=True), body={"tools.0.function.name": "get_weather", "tool_choice": None}),
            rule(reply("anything else", repeat=True)),
        )
    )
    user = [{"role": "user", "content": "hi"}]
    with OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        assert chat(client, user, temperature=0) == "cold"
        assert chat(client, user, temperature=0.0) == "cold"  # JSON numbers: 0 is 0.0
        assert chat(client, user, temperature=0.5) == "anything else"
        assert chat(client, user, response_format={"type": "json_object"}) == "json"
        assert chat(client, user, response_format={"type": "text"}) == "anything else"
        forced = {"type": "function", "function": {"name": "get_time"}}
        assert chat(client, user, tools=chat_tools(), tool_choice=forced) == "forced"
        # `null` holds for a field that is missing: no tool_choice here.
        assert chat(client, user, tools=chat_tools()) == "first tool"
        assert chat(client, user, tools=chat_tools(), tool_choice="auto") == "anything else"


def test_body_matches_true_only_for_true_and_lists_item_by_item(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("logprobs", repeat=True), body={"logprobs": True}),
            rule(reply("stops", repeat=True), body={"stop": ["\n", "END"]}),
            rule(reply("other", repeat=True)),
        )
    )
    user = [{"role": "user", "content": "hi"}]
    with httpx.Client(base_url=server.base_url) as client:

        def send(**extra: Any) -> str:
            response = client.post("/chat/completions", json={"model": MODEL, "messages": user, **extra})
            return str(response.json()["choices"][0]["message"]["content"])

        assert send(logprobs=True) == "logprobs"
        assert send(logprobs=1) == "other"  # 1 is not true
        assert send(stop=["\n", "END"]) == "stops"
        assert send(stop=["\n"]) == "other"
        assert send(stop=["\n", "END", "x"]) == "other"


def test_system_prompt_of_each_api(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("pirate", repeat=True), system="pirate"),
            rule(reply("formal", repeat=True), system_regex=r"(?i)^be formal"),
            rule(reply("no system", repeat=True)),
        )
    )
    with OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        assert (
            chat(client, [{"role": "system", "content": "Talk like a pirate."}, {"role": "user", "content": "hi"}])
            == "pirate"
        )
        developer = [{"role": "developer", "content": [{"type": "text", "text": "BE FORMAL."}]}]
        assert chat(client, [*developer, {"role": "user", "content": "hi"}]) == "formal"
        assert chat(client, [{"role": "user", "content": "a pirate says hi"}]) == "no system"
        assert client.responses.create(model=MODEL, input="hi", instructions="Be formal.").output_text == "formal"
    with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as claude:

        def ask(system: Any) -> str:
            out = claude.messages.create(
                model="claude-sparring-1", max_tokens=64, system=system, messages=[{"role": "user", "content": "hi"}]
            )
            return "".join(b.text for b in out.content if b.type == "text")

        assert ask("You are a pirate.") == "pirate"
        assert ask([{"type": "text", "text": "Be formal, please."}]) == "formal"


def test_message_count_and_last_role(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("prefilled", repeat=True), last_role="assistant"),
            rule(reply("first turn", repeat=True), message_count=1),
            rule(reply("later turn", repeat=True), last_role="user"),
        )
    )
    with OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        system = {"role": "system", "content": "Be brief."}  # system messages are not counted
        assert chat(client, [system, {"role": "user", "content": "hi"}]) == "first turn"
        turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"}]
        assert chat(client, [*turns, {"role": "user", "content": "again"}]) == "later turn"
    with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as claude:
        out = claude.messages.create(
            model="claude-sparring-1",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Well,"}],
        )
        assert out.content[0].type == "text"
        assert out.content[0].text == "prefilled"


def test_legacy_completions_count_prompts(server: FakeServer) -> None:
    """A legacy completion is one user message per prompt; its body can be matched too."""
    server.set_scenario(
        Scenario.of(
            rule(reply("two", repeat=True), endpoint="completions", message_count=2, last_role="user"),
            rule(reply("short", repeat=True), endpoint="completions", body={"max_tokens": 5}),
        )
    )
    with OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        assert client.completions.create(model="gpt-3.5-turbo-instruct", prompt=["a", "b"]).choices[0].text == "two"
        assert (
            client.completions.create(model="gpt-3.5-turbo-instruct", prompt="a", max_tokens=5).choices[0].text
            == "short"
        )


def test_tool_results_are_those_sent_since_the_assistant_last_spoke(server: FakeServer) -> None:
    """An earlier turn's tool result does not match again once the assistant has answered it."""
    server.set_scenario(
        Scenario.of(rule(reply("weather again?", repeat=True), tool_name="get_weather"), reply("other"))
    )
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    earlier: list[Any] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    with OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        assert chat(client, earlier) == "weather again?"
        later = [*earlier, {"role": "assistant", "content": "Sunny."}, {"role": "user", "content": "thanks"}]
        assert chat(client, later) == "other"


# -- the request object every match reads ---------------------------------------------------------


def request_of(messages: list[Any], **body: Any) -> Request:
    return Request.of(
        endpoint="chat",
        path="/v1/chat/completions",
        model=MODEL,
        messages=messages,
        body={"model": MODEL, "messages": messages, **body},
        headers={"X-Team": "blue"},
        stream=False,
    )


def test_request_facts_from_a_chat_conversation() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    request = request_of(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "unknown", "content": "?"},
        ],
        tools=chat_tools(),
    )
    assert request.system == "Be brief.\n\nUse tools."
    assert request.message_count == 4
    assert request.last_role == "tool"
    assert request.last_user_text == "weather?"
    assert [(r.tool_call_id, r.tool_name, r.text) for r in request.tool_results] == [
        ("c1", "get_weather", "sunny"),
        ("unknown", None, "?"),
    ]
    assert request.messages[3].tool_calls[0].arguments == '{"city":"Paris"}'
    assert request.tools == ("get_weather", "get_time")
    assert request.headers["x-team"] == "blue"
    with pytest.raises(TypeError):
        request.body["model"] = "other"  # type: ignore[index]


MATCHES = [
    pytest.param({"body": {"temperature": 0.2}}, {"temperature": 0.2}, True, id="body"),
    pytest.param({"body": {"temperature": 0.2}}, {"temperature": 0.3}, False, id="body-differs"),
    pytest.param({"body": {"metadata": {"a": "1"}}}, {"metadata": {"a": "1", "b": "2"}}, True, id="body-subset"),
    pytest.param({"body": {"metadata.a": "1"}}, {"metadata": {"a": "2"}}, False, id="body-path-differs"),
    pytest.param({"body": {"seed": None}}, {}, True, id="body-null-missing"),
    pytest.param({"body": {"seed": None}}, {"seed": 3}, False, id="body-null-present"),
    pytest.param({"body": {"tools.5.type": "function"}}, {}, False, id="body-path-past-the-end"),
]


@pytest.mark.parametrize(("keys", "body", "holds"), MATCHES)
def test_body_match(keys: dict[str, Any], body: dict[str, Any], holds: bool) -> None:
    request = request_of([{"role": "user", "content": "hi"}], **body)
    assert Match(**keys).holds(request) is holds
    assert (Match(**keys).explain(request) is None) is holds


# -- files and builders say the same ------------------------------------------------------------

KEYS = [
    (
        "body: {temperature: 0, response_format.type: json_object}",
        {"body": {"temperature": 0, "response_format.type": "json_object"}},
    ),
    ("system: pirate", {"system": "pirate"}),
    ("system_regex: '(?i)formal'", {"system_regex": "(?i)formal"}),
    ("message_count: 3", {"message_count": 3}),
    ("last_role: tool", {"last_role": "tool"}),
    ("tool_call_id: call_1", {"tool_call_id": "call_1"}),
    ("tool_name: get_weather", {"tool_name": "get_weather"}),
    ("tool_result: sunny", {"tool_result": "sunny"}),
    ("tool_result_regex: '^[0-9]+'", {"tool_result_regex": "^[0-9]+"}),
]


@pytest.mark.parametrize(("yaml_keys", "keywords"), KEYS, ids=[k[0].split(":")[0] for k in KEYS])
def test_each_key_in_a_file_is_the_builder_keyword(yaml_keys: str, keywords: dict[str, Any]) -> None:
    loaded = parse_scenario(f"rules:\n  - match: {{{yaml_keys}}}\n    replies: [{{text: a}}]\n")
    built = Scenario.of(rule(reply("a"), **keywords))
    assert loaded.rules[0].match == built.rules[0].match
    described = loaded.rules[0].match.describe()
    assert described.startswith(next(iter(keywords)) + "=")


# -- mistakes in files: the file, the line, the path, and a guess -----------------------------------

DID = "(did you mean "
MISTAKES = [
    pytest.param(
        "      mesage_count: 2\n",
        ["match.mesage_count: unknown key 'mesage_count' in match", DID + "'message_count'?)"],
        id="message_count-typo",
    ),
    pytest.param(
        '      message_count: "2"\n',
        ["match.message_count: must be an integer >= 0, got str '2'"],
        id="message_count-string",
    ),
    pytest.param(
        "      message_count: -1\n",
        ["match.message_count: must be an integer >= 0, got int -1"],
        id="message_count-negative",
    ),
    pytest.param(
        "      message_count: true\n",
        ["match.message_count: must be an integer >= 0, got bool True"],
        id="message_count-bool",
    ),
    pytest.param(
        "      last_role: tol\n", ["match.last_role: unknown role 'tol'", DID + "'tool'?)"], id="last_role-value"
    ),
    pytest.param(
        "      last_rol: tool\n", ["match.last_rol: unknown key 'last_rol'", DID + "'last_role'?)"], id="last_role-typo"
    ),
    pytest.param("      system: 3\n", ["match.system: must be a string, got int 3"], id="system-type"),
    pytest.param("      sytem: pirate\n", ["match.sytem: unknown key 'sytem'", DID + "'system'?)"], id="system-typo"),
    pytest.param(
        "      system_regex: '(x'\n", ["match.system_regex: is not a valid regular expression"], id="system_regex"
    ),
    pytest.param(
        "      tool_call_id: 12\n", ["match.tool_call_id: must be a string, got int 12"], id="tool_call_id-type"
    ),
    pytest.param(
        "      tool_call: call_1\n",
        ["match.tool_call: unknown key 'tool_call'", DID + "'tool_call_id'?)"],
        id="tool_call_id-typo",
    ),
    pytest.param("      tool_name: [a]\n", ["match.tool_name: must be a string, got list ['a']"], id="tool_name-type"),
    pytest.param(
        "      tool_resutl: sunny\n",
        ["match.tool_resutl: unknown key 'tool_resutl'", DID + "'tool_result'?)"],
        id="tool_result-typo",
    ),
    pytest.param(
        "      tool_result: {a: 1}\n", ["match.tool_result: must be a string, got dict"], id="tool_result-type"
    ),
    pytest.param(
        "      tool_result_regex: '[a'\n",
        ["match.tool_result_regex: is not a valid regular expression"],
        id="tool_result_regex",
    ),
    pytest.param(
        "      body: [temperature]\n",
        ["match.body: must be a mapping of body fields to values, got list"],
        id="body-list",
    ),
    pytest.param("      bdy: {temperature: 0}\n", ["match.bdy: unknown key 'bdy'", DID + "'body'?)"], id="body-typo"),
    pytest.param(
        "      body: {a..b: 1}\n", ["match.body: 'a..b' is not a field name or a dotted path"], id="body-empty-segment"
    ),
    pytest.param(
        "      headers: {x-tenant: 7}\n",
        ["match.headers.x-tenant: must be a string (quote it), got int 7"],
        id="headers-value-type",
    ),
    pytest.param(
        "      tools: yes please\n", ["match.tools: must be true or false, got str 'yes please'"], id="tools-type"
    ),
    pytest.param(
        "      body: {seed: 2024-01-01}\n",
        ["match.body.seed: must be a JSON value", "datetime.date"],
        id="body-not-json",
    ),
]


@pytest.mark.parametrize(("line", "expected"), MISTAKES)
def test_a_mistake_in_a_new_key_is_located(tmp_path: Any, line: str, expected: list[str]) -> None:
    from sparring import ScenarioError
    from sparring.scenario.loader import load_file

    path = tmp_path / "agent.yaml"
    path.write_text("rules:\n  - name: x\n    match:\n" + line + "    replies: [{text: a}]\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    [problem] = info.value.problems
    shown = str(problem)
    assert shown.startswith(f"{path}:4: rules[0].match"), shown
    for piece in expected:
        assert piece in shown, f"{piece!r} not in {shown!r}"


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ({"message_count": "2"}, "match.message_count: must be an integer >= 0, got str '2'"),
        ({"last_role": "assitant"}, "did you mean 'assistant'?"),
        ({"body": "temperature=0"}, "match.body: must be a mapping"),
        ({"body": {"stop": ("a", "b")}}, "match.body.stop: must be a JSON value"),
        ({"tool_result": 42}, "match.tool_result: must be a string, got int 42"),
    ],
)
def test_a_mistake_in_a_builder_keyword_is_explained(keywords: dict[str, Any], expected: str) -> None:
    from sparring import ScenarioError

    with pytest.raises(ScenarioError) as info:
        rule(reply("a"), **keywords)
    assert expected in str(info.value)


def test_the_miss_says_why_each_rule_did_not_answer(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(
            rule(reply("cold"), body={"temperature": 0, "response_format": {"type": "json_object"}}),
            rule(reply("pirate"), system="pirate"),
        )
    )
    with (
        OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        chat(
            client, [{"role": "system", "content": "Be a parrot."}, {"role": "user", "content": "hi"}], temperature=0.5
        )
    message = str(caught.value.body["message"])  # type: ignore[index]
    assert "1 message, the last from user, system prompt 'Be a parrot.'" in message
    assert message.endswith(
        " Why no rule answered:"
        " rule 1 [body={'temperature': 0, 'response_format': {'type': 'json_object'}}] (text 'cold'):"
        " body temperature is 0.5, the rule wants 0;"
        " rule 2 [system='pirate'] (text 'pirate'): system prompt 'Be a parrot.' does not contain 'pirate'."
    )


def test_parallel_tool_calls_make_the_same_conversation_in_every_api(server: FakeServer) -> None:
    """Two calls and their two results: four messages, two tool results with their names,
    whether the API carries them as Chat messages, Responses items or Anthropic blocks."""
    from sparring import respond

    seen: list[Request] = []
    server.set_scenario(Scenario.of(respond(lambda r: seen.append(r) or "ok", repeat=True)))
    calls = [("c1", "get_weather", "sunny"), ("c2", "get_time", "12:00")]
    chat_body = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": "{}"}} for i, n, _ in calls
                ],
            },
            *({"role": "tool", "tool_call_id": i, "content": out} for i, _, out in calls),
        ],
    }
    responses_body = {
        "model": MODEL,
        "input": [
            {"role": "user", "content": QUESTION},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
            *({"type": "function_call", "call_id": i, "name": n, "arguments": "{}"} for i, n, _ in calls),
            *({"type": "function_call_output", "call_id": i, "output": out} for i, _, out in calls),
        ],
    }
    messages_body = {
        "model": "claude-sparring-1",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    *({"type": "tool_use", "id": i, "name": n, "input": {}} for i, n, _ in calls),
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": i, "content": out} for i, _, out in calls],
            },
        ],
    }
    with httpx.Client(base_url=server.url) as client:
        for path, body in (("chat/completions", chat_body), ("responses", responses_body), ("messages", messages_body)):
            assert client.post(f"/v1/{path}", json=body).status_code == 200
    for request in seen:
        assert request.message_count == 4, request.endpoint
        assert request.last_role == "tool"
        assert [(r.tool_call_id, r.tool_name, r.text) for r in request.tool_results] == calls
        assistant = request.messages[1]
        assert (assistant.role, assistant.text) == ("assistant", "Let me look.")
        assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [(i, n, "{}") for i, n, _ in calls]
    assert [r.endpoint for r in seen] == ["chat", "responses", "messages"]
