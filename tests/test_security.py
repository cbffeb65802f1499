"""Secrets stay out of the journal; web pages and the network stay out of the control API.

Everything over real sockets: the openai SDK and raw httpx against a `FakeServer`, and a
`sparring serve` subprocess for the command's flags.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest

from sparring import FakeServer, Scenario, reply
from sparring.checks.grouping import same_request
from sparring.cli import main
from sparring.fake_server.security import CREDENTIAL_HEADERS, TOKEN_HEADER, redact_value
from sparring.plugin.remote import ExternalServerError, Remote
from tests.serve_process import SRC, STOP_TIMEOUT, sparring_serve
from tests.test_plugin import INI

pytest_plugins = ["pytester"]

SECRET = "sk-live-0123456789abcdefSECRETPART"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
SCENARIO_YAML = "replies:\n  - text: hello\n"


def assert_redacted(recorded: str, *secret_parts: str) -> None:
    for part in secret_parts:
        assert part not in recorded, f"{part!r} leaked into {recorded!r}"
    assert re.search(r"…\[redacted [0-9a-f]{6}\]$", recorded), recorded


# -- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CREDENTIAL_HEADERS))
def test_every_credential_header_is_redacted_in_the_journal_and_its_json(server: FakeServer, name: str) -> None:
    """A value with spaces after the secret, as a credential header: neither the secret nor the
    words after it reach the journal, nor the control API's journal JSON."""
    server.set_scenario(Scenario.of(reply("hi")))
    value = f"{SECRET} trailing words"
    with httpx.Client(base_url=server.url, timeout=5) as http:
        assert http.post("/v1/chat/completions", json=CHAT, headers={name: value}).status_code == 200
        [as_json] = http.get("/_sparring/journal").json()["entries"]
    [entry] = server.journal()
    for recorded in (entry.headers[name], as_json["headers"][name]):
        assert_redacted(recorded, "SECRETPART", "0123456789", "trailing words")
        assert recorded.startswith("sk-liv…")


def test_a_bearer_value_keeps_its_scheme_and_loses_everything_after_the_first_characters(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("hi")))
    with httpx.Client(base_url=server.url, timeout=5) as http:
        http.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {SECRET} more SECRET2"})
    recorded = server.journal()[0].headers["authorization"]
    assert_redacted(recorded, "SECRETPART", "SECRET2", "more")
    assert recorded.startswith("Bearer sk-liv…[redacted ")


def test_a_cookie_is_redacted_whole(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("hi")))
    with httpx.Client(base_url=server.url, timeout=5) as http:
        http.post("/v1/chat/completions", json=CHAT, headers={"Cookie": "session=SESSIONSECRET; csrf=CSRFSECRET"})
    assert_redacted(server.journal()[0].headers["cookie"], "SESSIONSECRET", "CSRFSECRET")


def test_the_openai_sdk_key_and_extra_headers_are_redacted() -> None:
    with FakeServer(Scenario.of(reply("hi")), redact=["X-Tenant-Secret"]) as server:
        client = openai.OpenAI(
            base_url=server.base_url,
            api_key=SECRET,
            max_retries=0,
            default_headers={"x-goog-api-key": "AIzaSECRETGOOGLEKEY", "x-tenant-secret": "TENANTSECRET-1"},
        )
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        client.close()
        [entry] = server.journal()
    assert_redacted(entry.headers["authorization"], "SECRETPART")
    assert_redacted(entry.headers["x-goog-api-key"], "SECRETGOOGLEKEY")
    assert_redacted(entry.headers["x-tenant-secret"], "TENANTSECRET")
    assert entry.headers["user-agent"].startswith("OpenAI/Python")  # other headers stay whole


def test_a_scripted_set_cookie_is_redacted_in_the_response_headers() -> None:
    with FakeServer(Scenario.of(reply("hi", headers={"set-cookie": "sid=COOKIESECRETVALUE"}))) as server:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            response = http.post("/v1/chat/completions", json=CHAT)
        assert response.headers["set-cookie"] == "sid=COOKIESECRETVALUE"  # the client gets what was scripted
        assert_redacted(server.journal()[0].response_headers["set-cookie"], "COOKIESECRETVALUE")


def test_a_bad_header_name_to_redact_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'x-a: b' is not a header name"):
        FakeServer(redact=["x-a: b"])


def test_routing_by_key_reads_the_request_not_the_redacted_journal() -> None:
    """Two clients whose keys share their visible prefix: routed apart, and told apart in the
    journal by the digest, so retries are grouped per client."""
    with FakeServer(Scenario.of(reply("hi", repeat=True))) as server:
        server.store.route("sk-live-AAAAAAAAAAAAAAAAAAAA", "alpha")
        server.store.route("sk-live-BBBBBBBBBBBBBBBBBBBB", "beta")
        server.set_scenario(Scenario.of(reply("for alpha")), "alpha")
        server.set_scenario(Scenario.of(reply("for beta")), "beta")
        for key, expected in (
            ("sk-live-AAAAAAAAAAAAAAAAAAAA", "for alpha"),
            ("sk-live-BBBBBBBBBBBBBBBBBBBB", "for beta"),
        ):
            client = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
            answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
            client.close()
            assert answer.choices[0].message.content == expected
        [a] = server.journal("alpha")
        [b] = server.journal("beta")
    assert a.headers["authorization"] != b.headers["authorization"]
    assert a.headers["authorization"][:14] == b.headers["authorization"][:14]  # same visible prefix
    assert not same_request(b, a)  # so one client's failure and the other's request are not a retry
    assert same_request(a, a)


def test_a_short_secret_shows_at_most_a_third_of_itself() -> None:
    assert redact_value("Bearer abc123").startswith("Bearer ab…")
    assert redact_value("x").startswith("…")
    assert redact_value("Bearer sk-a b") != redact_value("Bearer sk-a c")


# -- the control API's guard ----------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example:8000"])
def test_a_web_page_origin_is_refused(server: FakeServer, origin: str) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        answer = http.put("/_sparring/scenario", content=SCENARIO_YAML, headers={"Origin": origin})
        assert answer.status_code == 403
        assert "refuses requests from web pages" in answer.json()["error"]["message"]
        assert http.get("/_sparring/scenario").json()["replies"] == []  # nothing was scripted


def test_a_loopback_origin_is_let_through(server: FakeServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        answer = http.put(
            "/_sparring/scenario", content=SCENARIO_YAML, headers={"Origin": f"http://localhost:{server.port}"}
        )
        assert answer.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "rebind.attacker.test:8000", "localhost.evil.example"])
def test_a_foreign_host_header_is_refused(server: FakeServer, host: str) -> None:
    """DNS rebinding: the page's own domain now resolves to 127.0.0.1, and its Host says so."""
    with httpx.Client(base_url=server.url, timeout=5) as http:
        answer = http.get("/_sparring/journal", headers={"Host": host})
        assert answer.status_code == 403
        assert "DNS-rebinding" in answer.json()["error"]["message"]
        # The API itself still answers any Host: clients behind proxies send all sorts.
        assert http.get("/v1/models", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]:9", "app.localhost:80", "10.1.2.3:8000"])
def test_loopback_names_and_addresses_are_let_through(server: FakeServer, host: str) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        assert http.get("/_sparring/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_bodies_a_browser_sends_cross_site_are_refused(server: FakeServer, content_type: str) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        answer = http.put("/_sparring/scenario", content=SCENARIO_YAML, headers={"Content-Type": content_type})
        assert answer.status_code == 415
        assert "application/yaml" in answer.json()["error"]["message"]
        # Even a bodiless form post cannot reset.
        http.put("/_sparring/scenario", content=SCENARIO_YAML, headers={"Content-Type": "application/yaml"})
        assert http.post("/_sparring/reset", headers={"Content-Type": content_type}).status_code == 415
        assert len(http.get("/_sparring/scenario").json()["replies"]) == 1


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/yaml", "application/x-yaml", "text/yaml"]
)
def test_json_yaml_and_no_content_type_are_accepted(server: FakeServer, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with httpx.Client(base_url=server.url, timeout=5) as http:
        answer = http.put("/_sparring/scenario", content='{"replies": [{"text": "hello"}]}', headers=headers)
        assert answer.status_code == 200, answer.text


def test_a_token_is_required_on_control_routes_only() -> None:
    with FakeServer(token="s3cret-token") as server, httpx.Client(base_url=server.url, timeout=5) as http:
        missing = http.get("/_sparring/journal")
        wrong = http.get("/_sparring/journal", headers={TOKEN_HEADER: "guess"})
        assert (missing.status_code, wrong.status_code) == (403, 403)
        assert "carried no x-sparring-token" in missing.json()["error"]["message"]
        assert "carried a wrong x-sparring-token" in wrong.json()["error"]["message"]
        good = {TOKEN_HEADER: "s3cret-token"}
        assert http.put("/_sparring/scenario", content=SCENARIO_YAML, headers=good).status_code == 200
        # With a token, the Host check gives way: the token is what a rebinding page cannot send.
        assert http.get("/_sparring/health", headers={**good, "Host": "sparring.internal"}).status_code == 200
        assert http.post("/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"] == "hello"


# -- the command and the plugin's external mode -------------------------------------------


def test_an_empty_token_is_no_token() -> None:
    with FakeServer(token="") as server, httpx.Client(base_url=server.url, timeout=5) as http:
        assert http.get("/_sparring/health", headers={"Host": "evil.example"}).status_code == 403


def test_serve_refuses_a_non_loopback_host_without_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_serve_refuses_a_bad_redact_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--redact", "bad name", "--port", "0"]) == 2
    assert "is not a header name" in capsys.readouterr().err


@pytest.fixture
def remote_serve() -> Iterator[tuple[str, list[str]]]:
    """`sparring serve --host 0.0.0.0 --allow-remote --token T`: its loopback URL and its first lines."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(SRC), SPARRING_TOKEN="from-env")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparring", "serve", "--port", "0", "--host", "0.0.0.0", "--allow-remote"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: list(map(lines.put, proc.stdout or ())), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while not any("base URL" in line for line in seen):
            seen.append(lines.get(timeout=30))
        port = re.search(r"http://0\.0\.0\.0:(\d+)/v1", seen[-1])
        assert port, seen
        yield f"http://127.0.0.1:{port.group(1)}", seen
    finally:
        proc.terminate()
        proc.wait(timeout=STOP_TIMEOUT)
        reader.join(timeout=STOP_TIMEOUT)
        proc.stdout.close()


def test_serve_with_allow_remote_warns_and_takes_the_token_from_the_environment(
    remote_serve: tuple[str, list[str]],
) -> None:
    url, lines = remote_serve
    assert any("warning: serving on 0.0.0.0, outside loopback (control requests need the token)" in x for x in lines)
    with httpx.Client(base_url=url, timeout=5) as http:
        assert http.get("/_sparring/journal").status_code == 403
        assert http.get("/_sparring/journal", headers={TOKEN_HEADER: "from-env"}).status_code == 200


def test_the_plugin_external_mode_sends_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with sparring_serve("--token", "plugin-token") as url:
        monkeypatch.delenv("SPARRING_TOKEN", raising=False)
        refused = Remote(url)
        with pytest.raises(ExternalServerError, match="x-sparring-token"):
            refused.connect()
        refused.close()
        monkeypatch.setenv("SPARRING_TOKEN", "plugin-token")
        remote = Remote(url).connect()
        try:
            assert remote.journal("default") == []
        finally:
            remote.close()


PLUGIN_TEST = """
from sparring import reply


def test_it(fake_llm):
    fake_llm.add(reply("Hello"))
    client = fake_llm.openai(default_headers={"x-tenant-secret": "TENANTSECRET-1"})
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    [entry] = fake_llm.journal
    assert "TENANTSECRET" not in entry.headers["x-tenant-secret"]
    assert "[redacted " in entry.headers["authorization"]
"""


@pytest.mark.parametrize("where", ["ini", "option"])
def test_the_plugin_redacts_the_headers_named_in_its_ini_key_or_option(pytester: pytest.Pytester, where: str) -> None:
    pytester.makeini(INI + ("sparring_redact =\n    x-tenant-secret\n" if where == "ini" else ""))
    pytester.makepyfile(test_it=PLUGIN_TEST)
    args = ["--sparring-redact", "X-Tenant-Secret"] if where == "option" else []
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args).assert_outcomes(passed=1)


def test_a_bad_name_in_the_plugin_ini_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI + "sparring_redact =\n    x-a: b\n")
    pytester.makepyfile(test_it=PLUGIN_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sparring_redact: 'x-a: b' is not a header name*"])
