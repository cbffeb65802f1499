"""`fake_llm` driving an external server: a real `sparring serve` subprocess, pointed at with
`--sparring-url`, test sessions run by pytest in subprocesses under pytest-xdist (`-n 2`).

The strongest check is that the docs' own plugin examples (scripting, SDK streams, faults,
the marker, retries, cleanup, collect, snapshots) and the tutorial pass unchanged against it,
and that the failing example reports exactly what the docs show. A module of its own covers
what the examples don't: journal entries, wait_until, a stall ended at teardown, the header,
a callback that cannot travel.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest

from sparring import FakeServer, reply
from sparring.plugin.fake_llm import FakeLLM
from sparring.plugin.remote import ExternalServerError, Remote
from tests.inner_pytest import run_pytest
from tests.serve_process import sparring_serve
from tests.test_docs_examples import PLUGIN_EXAMPLES, ROOT, TUTORIAL, comparable, shown_in
from tests.test_plugin import INI

pytest_plugins = ["pytester"]

# Each test here runs whole pytest sessions in subprocesses (xdist workers included): about
# 15 s on an idle machine, several times that on a loaded CI runner. The suite's 60 s per
# test is for single tests; these get a bound of their own.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def external() -> Iterator[str]:
    """One `sparring serve` for the module, as a CI service would be: shared by every run."""
    with sparring_serve() as url:
        yield url


def journal_of(url: str, namespace: str) -> list[object]:
    response = httpx.get(f"{url}/_sparring/journal", headers={"x-sparring-namespace": namespace})
    entries: list[object] = response.json()["entries"]
    return entries


# -- the docs' examples, against the external server --------------------------------------------


def test_the_plugin_examples_pass_against_an_external_server_under_xdist(external: str) -> None:
    tests = sum(
        len(re.findall(r"^(?:async )?def test_", path.read_text(encoding="utf-8"), flags=re.MULTILINE))
        for path in PLUGIN_EXAMPLES.glob("test_*.py")
    )
    result = run_pytest(
        PLUGIN_EXAMPLES.relative_to(ROOT).as_posix(), "-n", "2", "--sparring-url", external, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"= (\d+) passed in ", result.stdout)  # parametrized ones too (anyio's trio, if installed)
    assert passed is not None, result.stdout
    assert int(passed.group(1)) >= tests, result.stdout
    assert f"sparring server: external, {external} " in result.stdout


def test_the_tutorial_passes_against_an_external_server_named_in_the_environment(external: str) -> None:
    result = run_pytest(
        TUTORIAL.relative_to(ROOT).as_posix(), "-q", "-n", "2", env={"SPARRING_URL": external}, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 snapshot passed." in result.stdout


def test_strict_teardown_and_report_sections_read_as_with_the_plugins_own_server(external: str) -> None:
    failing = PLUGIN_EXAMPLES / "failing"
    result = run_pytest(
        (failing / "strict_teardown.py").relative_to(ROOT).as_posix(), "--sparring-url", external, timeout=240
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "= 1 failed, 1 passed, 1 error in " in result.stdout
    output = comparable(result.stdout.splitlines())
    for path in sorted(failing.glob("*.txt")):
        assert shown_in(comparable(path.read_text(encoding="utf-8").splitlines()), output), (
            f"{path.name} is not in the report:\n{result.stdout}"
        )


# -- what the examples don't show -----------------------------------------------------------------

INNER = """
import httpx
import openai
import pytest

from sparring import Entry, Fault, Rule, reply, rule

MESSAGES = [{"role": "user", "content": "Hi"}]
LEFT = {}


def ask(client):
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content


def test_journal_entries_are_entries(fake_llm):
    fake_llm.add(reply("Hello"), rule(reply("tools", optional=True), tools=True))
    assert fake_llm.base_url == f"{SERVER}/ns/{fake_llm.namespace}/v1"
    assert ask(fake_llm.openai()) == "Hello"
    [entry] = fake_llm.journal
    assert isinstance(entry, Entry)
    assert (entry.outcome, entry.status, entry.namespace) == ("completed", 200, fake_llm.namespace)
    assert entry.events_sent == 1 and entry.bytes_sent > 0
    assert entry.body["messages"] == MESSAGES
    assert entry.asked.startswith("POST /v1/chat/completions (model='gpt-4o', stream=False, last user message='Hi'")
    assert len(fake_llm.scenario.rules) == 2
    assert fake_llm.unused() == []
    assert "-> 200 · rule 1, reply 1: text 'Hello' · completed" in fake_llm.exchange()


def test_a_key_of_its_own_is_what_routes_requests(fake_llm):
    fake_llm.add(reply("mine"))
    # The server's root, not the test's base URL: only the key can say where this goes.
    with openai.OpenAI(base_url=f"{SERVER}/v1", api_key="sk-not-this-test", max_retries=0) as other:
        assert ask(other) != "mine"  # the server's default namespace answered: generated text
    assert fake_llm.journal == []
    assert ask(fake_llm.openai()) == "mine"


def test_wait_until_sees_a_client_leave(fake_llm):
    fake_llm.add(reply(chunks=["a", "b", "c"], fault=Fault("stall", after_chunk=1)))
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST",
            f"{fake_llm.base_url}/chat/completions",
            json={"model": "gpt-4o", "messages": MESSAGES, "stream": True},
            headers={"Authorization": f"Bearer {fake_llm.api_key}"},
        ) as response:
            assert next(response.iter_lines()).startswith("data: ")
    journal = fake_llm.wait_until(lambda j: j and j[-1].outcome is not None, timeout=10)
    assert journal[-1].outcome == "stalled"  # the client left while the script held the stream back


def test_1_leaves_a_stall_under_way(fake_llm):
    fake_llm.add(reply(chunks=["a", "b", "c"], fault=Fault("stall", after_chunk=1)))
    client = httpx.Client(timeout=10)
    request = client.build_request(
        "POST",
        f"{fake_llm.base_url}/chat/completions",
        json={"model": "gpt-4o", "messages": MESSAGES, "stream": True},
        headers={"Authorization": f"Bearer {fake_llm.api_key}"},
    )
    response = client.send(request, stream=True)
    lines = response.iter_lines()
    assert next(lines).startswith("data: ")
    LEFT["stalled"] = client, response, lines
    assert fake_llm.journal[0].outcome is None


def test_2_the_stall_was_ended_at_teardown(fake_llm):
    client, response, lines = LEFT.pop("stalled")
    try:
        with pytest.raises(httpx.RemoteProtocolError):  # the server hung up; no 10 s read timeout
            list(lines)
    finally:
        response.close()
        client.close()


def test_a_callback_cannot_travel(fake_llm):
    def answer(request):
        return reply("from code")

    with pytest.raises(ValueError) as caught:
        fake_llm.add(Rule(replies=(answer,)))
    assert "rule 1, reply 1 is a Python callable (test_a_callback_cannot_travel.<locals>.answer)" in str(caught.value)
    assert "cannot be sent to an external sparring server" in str(caught.value)
    assert fake_llm.scenario.rules == ()
"""


def test_journal_wait_until_teardown_and_what_cannot_travel(pytester: pytest.Pytester, external: str) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=f"SERVER = {external!r}\n" + INNER)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile", "--sparring-url", external
    )
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines([f"sparring server: external, {external} (sparring *, a base URL per test)"])


# -- settings: where the URL comes from, and a server that is not there ----------------------------

HEADER_ONLY = "def test_nothing():\n    pass\n"


def header_line(result: pytest.RunResult) -> str:
    return next(line for line in result.outlines if line.startswith("sparring server:"))


def test_the_command_line_beats_the_environment_which_beats_the_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeServer() as ini_server, FakeServer() as env_server, FakeServer() as cli_server:
        pytester.makeini(f"{INI}sparring_url = {ini_server.url}\n")
        pytester.makepyfile(HEADER_ONLY)
        assert ini_server.url in header_line(pytester.runpytest())
        monkeypatch.setenv("SPARRING_URL", env_server.base_url)  # the printed base URL works too
        assert env_server.url in header_line(pytester.runpytest())
        assert cli_server.url in header_line(pytester.runpytest("--sparring-url", cli_server.url))
        own = header_line(pytester.runpytest("--sparring-url="))
        assert own == "sparring server: the plugin's own (one per worker)"


def test_an_unreachable_server_is_one_usage_error(pytester: pytest.Pytester) -> None:
    with FakeServer() as gone:
        url = gone.url
    pytester.makepyfile(HEADER_ONLY + HEADER_ONLY.replace("nothing", "more"))
    result = pytester.runpytest("--sparring-url", url)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: sparring: cannot reach the sparring server at {url}: *",
            "  (the URL comes from --sparring-url; start the server with `sparring serve --port PORT`,*",
        ]
    )
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(
    ("url", "message"),
    [("localhost:8000", "not an http(s) URL"), ("ftp://x", "not an http(s) URL")],
)
def test_a_url_that_is_not_one_says_so(url: str, message: str) -> None:
    with pytest.raises(ExternalServerError, match=re.escape(message)):
        Remote(url)


# -- the backend directly: a dropped namespace ends its streams, and its leftovers are reported ----


def test_dropping_a_namespace_ends_its_stream_and_returns_its_journal(external: str) -> None:
    remote = Remote(external).connect()
    with contextlib.closing(remote):
        check_drop(external, FakeLLM(remote, name="direct"))


def check_drop(external: str, fake: FakeLLM) -> None:
    fake.add(reply(chunks=["a", "b", "c"], fault="stall"), reply("spare"))
    with httpx.Client(timeout=10) as client:
        request = client.build_request(
            "POST",
            f"{fake.base_url}/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True},
            headers={"Authorization": f"Bearer {fake.api_key}"},
        )
        response = client.send(request, stream=True)
        try:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
            fake.close()
            with pytest.raises(httpx.RemoteProtocolError):
                list(lines)
        finally:
            response.close()
    assert [e.outcome for e in fake.journal] == ["server_closed"]  # ended by the drop, and journaled so
    assert fake.unused() == ["rule 1 [any request] reply 2: text 'spare', never used"]
    assert journal_of(external, fake.namespace) == []  # a fresh, empty namespace: the old one is gone
    assert fake.problems() is not None
