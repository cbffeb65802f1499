"""Routes with `{name}` parameters in the registry (`sparring.apis`): the server answers a
pattern's paths with its dialect, which gets what the parameters matched; fixed paths are
looked up first; and a pattern API is added as a fixed one is, by a module and one entry."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sparring import FakeServer, Scenario, reply, rule
from sparring.apis import APIS, path_regex
from sparring.fake_server.app import make_app
from sparring.fake_server.dialects import BY_PATH, NO_PARAMS, find
from sparring.fake_server.store import Store
from tests.test_apis import run_with_api

SRC = Path(__file__).resolve().parents[1] / "src"


def test_a_parameter_matches_one_path_segment() -> None:
    regex = path_regex("/openai/deployments/{deployment}/chat/completions")
    found = regex.fullmatch("/openai/deployments/my-gpt.4o_1/chat/completions")
    assert found is not None
    assert found.groupdict() == {"deployment": "my-gpt.4o_1"}
    assert regex.fullmatch("/openai/deployments/a/b/chat/completions") is None
    assert regex.fullmatch("/openai/deployments//chat/completions") is None
    assert path_regex("/v1/chat/completions").fullmatch("/v1/chat/completions") is not None


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/models/{model:.*}/generate", "write a parameter as {name}"),
        ("/models/{}/generate", "write a parameter as {name}"),
        ("/models/{model/generate", "write a parameter as {name}"),
        ("/x/{namespace}/chat", "not {namespace}"),
        ("/x/{a}/{a}", "each parameter once"),
    ],
)
def test_a_bad_pattern_is_refused_with_the_reason(path: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        path_regex(path)


def test_fixed_paths_are_found_without_patterns_and_patterns_give_their_parameters() -> None:
    for path, dialect in BY_PATH.items():
        assert find(path) == (dialect, NO_PARAMS)
    found = find("/openai/deployments/prod/embeddings")
    assert found is not None
    assert (found[0].name, dict(found[1])) == ("azure_embeddings", {"deployment": "prod"})
    assert find("/openai/deployments/prod/nothing") is None
    assert find("/v1/chat/completions/") is None


def test_the_servers_routes_and_find_agree() -> None:
    """Every registry route is served at the root and under `/ns/{namespace}`, pattern or not."""
    app = make_app(Store())
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    for api in APIS:
        assert ("POST", api.path) in routes
        assert ("POST", "/ns/{namespace}" + api.path) in routes
    assert sum(api.is_pattern for api in APIS) == 9  # Azure's 3, Bedrock's 4, Gemini's 2


def test_a_pattern_route_is_answered_under_a_namespace_prefix(server: FakeServer) -> None:
    server.store.create("team-b")
    server.set_scenario(Scenario.of(rule(reply("prefixed"), model="dep-b")), "team-b")
    answer = httpx.post(
        f"{server.url}/ns/team-b/openai/deployments/dep-b/chat/completions?api-version=2024-10-21",
        json={"messages": [{"role": "user", "content": "Hi"}]},
        headers={"api-key": "k"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "prefixed"
    assert [e.path for e in server.journal("team-b")] == ["/openai/deployments/dep-b/chat/completions"]


def test_the_miss_message_names_the_deployment_as_the_model(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(rule(reply("not for this one", optional=True), model="other")))
    answer = httpx.post(
        f"{server.url}/openai/deployments/dep-c/chat/completions?api-version=2024-10-21",
        json={"messages": [{"role": "user", "content": "Hi"}]},
        headers={"api-key": "k"},
        timeout=10,
    )
    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert "POST /openai/deployments/dep-c/chat/completions (model='dep-c'" in message
    assert "model is 'dep-c', the rule wants 'other'" in message


DIALECT = '''
from sparring.fake_server.dialects.base import Route
from sparring.fake_server.dialects.openai_chat import ChatCompletions


class EngineChat(ChatCompletions):
    """Chat Completions with the model in the path, as `/engines/{engine}/chat`."""

    name = "engine"
    path = "/engines/{engine}/chat"

    def parse_at(self, body, route: Route):
        return self.parse({**body, "model": route.params["engine"]})
'''

USE = """
import httpx
from sparring import FakeServer, Scenario, reply, rule

scenario = Scenario.of(rule(reply("from the engine"), endpoint="engine", model="davinci"))
with FakeServer() as server:
    server.set_scenario(scenario)
    answer = httpx.post(server.url + "/engines/davinci/chat", json={"messages": [{"role": "user", "content": "Hi"}]})
    print(answer.status_code, answer.json()["choices"][0]["message"]["content"], answer.json()["model"])
"""


def test_adding_a_pattern_api_is_a_dialect_module_and_one_entry(tmp_path: Path) -> None:
    """In a copy of the package: a dialect whose route has a parameter, one line in the
    registry, and a rule with its endpoint answers, the parameter read as the model."""
    entry = 'Api("engine", "/engines/{engine}/chat", f"{_DIALECTS}.engine:EngineChat")'
    assert run_with_api(tmp_path, "engine", DIALECT, entry, USE) == ["200 from the engine davinci"]


def test_a_parameter_is_decoded_and_may_hold_an_encoded_slash(server: FakeServer) -> None:
    """The router matches the raw path, so `a%2Fb` is one segment; the dialect gets `a/b`."""
    server.set_scenario(Scenario.of(rule(reply("slashed"), model="team/gpt"), rule(reply("spaced"), model="my gpt")))
    for deployment, text in (("team%2Fgpt", "slashed"), ("my%20gpt", "spaced")):
        answer = httpx.post(
            f"{server.url}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21",
            json={"messages": [{"role": "user", "content": "Hi"}]},
            headers={"api-key": "k"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == text


def test_a_parameter_may_share_its_segment_with_text() -> None:
    """As in Gemini's `/v1beta/models/{model}:streamGenerateContent`."""
    regex = path_regex("/v1beta/models/{model}:streamGenerateContent")
    found = regex.fullmatch("/v1beta/models/gemini-2.0-flash:streamGenerateContent")
    assert found is not None
    assert found["model"] == "gemini-2.0-flash"
    assert regex.fullmatch("/v1beta/models/gemini:generateContent") is None
