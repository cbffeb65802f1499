"""The registry of APIs (`sparring.apis`): the scenario model, the server's dialects and its
routes all read it, so they agree, and an API is added by a dialect module and one entry."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparring.apis import APIS, ENDPOINTS
from sparring.errors import ScenarioError
from sparring.fake_server.app import DIALECTS, make_app
from sparring.fake_server.store import Store
from sparring.scenario.match import ENDPOINTS as MATCH_ENDPOINTS
from sparring.scenario.model import Match

SRC = Path(__file__).resolve().parents[1] / "src"


def test_the_registry_the_dialects_and_the_routes_agree() -> None:
    assert [(d.name, d.path) for d in DIALECTS] == [(a.endpoint, a.path) for a in APIS]
    assert [type(d).__name__ for d in DIALECTS] == [a.dialect.rpartition(":")[2] for a in APIS]
    assert MATCH_ENDPOINTS is ENDPOINTS
    routes = {(r.method, r.resource.canonical) for r in make_app(Store()).router.routes() if r.resource}
    for api in APIS:
        assert ("POST", api.path) in routes
        assert ("POST", "/ns/{namespace}" + api.path) in routes
    assert len(set(ENDPOINTS)) == len(ENDPOINTS) == len(set(ENDPOINTS.values()))


def test_an_unknown_endpoint_names_the_registrys_and_the_closest() -> None:
    with pytest.raises(ScenarioError) as caught:
        Match(endpoint="respones")
    message = str(caught.value)
    assert "use one of chat, responses, messages, completions, embeddings" in message
    assert "did you mean 'responses'" in message


DIALECT = '''
from sparring.fake_server.dialects.openai_chat import ChatCompletions


class EchoChat(ChatCompletions):
    """Chat Completions at another route, under another endpoint name."""

    name = "echo"
    path = "/v1/echo/completions"
'''

USE = """
import httpx
from sparring import FakeServer, Scenario, reply, rule

scenario = Scenario.of(rule(reply("from echo"), endpoint="echo"), rule(reply("from chat"), endpoint="chat"))
body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
with FakeServer() as server:
    server.set_scenario(scenario)
    for path in ("/v1/echo/completions", "/v1/chat/completions"):
        answer = httpx.post(server.url + path, json=body, timeout=10)
        print(path, answer.status_code, answer.json()["choices"][0]["message"]["content"])
"""


def test_adding_an_api_is_a_dialect_module_and_one_entry(tmp_path: Path) -> None:
    """In a copy of the package: write a dialect module, add one line to the registry, and
    `match: {endpoint: echo}` validates and the server answers at the new route."""
    entry = 'Api("echo", "/v1/echo/completions", f"{_DIALECTS}.echo:EchoChat")'
    printed = run_with_api(tmp_path, "echo", DIALECT, entry, USE)
    assert printed == ["/v1/echo/completions 200 from echo", "/v1/chat/completions 200 from chat"]


def run_with_api(tmp_path: Path, module: str, dialect: str, entry: str, use: str) -> list[str]:
    """What `use` prints, run against a copy of the package with `dialect` written as
    `dialects/<module>.py` and `entry` added to the registry (`sparring.apis`)."""
    package = tmp_path / "sparring"
    shutil.copytree(SRC / "sparring", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "fake_server" / "dialects" / f"{module}.py").write_text(dialect, encoding="utf-8")
    registry = package / "apis.py"
    source = registry.read_text(encoding="utf-8")
    last = '    Api("embeddings", "/v1/embeddings", f"{_DIALECTS}.openai_embeddings:Embeddings"),\n'
    assert last in source
    registry.write_text(source.replace(last, f"{last}    {entry},\n"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(use)],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()
