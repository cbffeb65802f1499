"""The control routes an external `fake_llm` drives: namespaces made and dropped, rules
appended, unused replies, the journal as `Entry` objects, and its long poll."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sparring import Entry, FakeServer, Fault, Scenario, Timing, error, reply
from sparring.scenario.dump import dump_scenario

NS = "x-sparring-namespace"


def body(text: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


@pytest.fixture
def control(server: FakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def ask(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/v1/chat/completions", json=body(), headers={"Authorization": f"Bearer {key}"})


def test_a_namespace_is_made_with_its_fallback_and_keys(control: httpx.Client) -> None:
    made = control.put("/_sparring/namespace", json={"fallback": "default", "api_keys": ["sk-a"]}, headers={NS: "a"})
    assert made.json() == {"namespace": "a", "fallback": "default", "api_keys": ["sk-a"]}
    answered = ask(control, "sk-a")
    assert answered.status_code == 200  # generated: the fallback given
    journal = control.get("/_sparring/journal", headers={NS: "a"}).json()
    assert [e["answered_by"] for e in journal["entries"]] == ["generated default answer"]
    assert control.get("/_sparring/journal", headers={NS: "default"}).json()["entries"] == []


def test_remaking_a_namespace_starts_it_afresh(control: httpx.Client) -> None:
    control.put("/_sparring/namespace", json={"api_keys": ["sk-a"]}, headers={NS: "a"})
    control.post("/_sparring/scenario/append", content=dump_scenario(Scenario.of(reply("x"))), headers={NS: "a"})
    assert ask(control, "sk-a").status_code == 200
    control.put("/_sparring/namespace", json={"api_keys": ["sk-b"]}, headers={NS: "a"})
    assert control.get("/_sparring/journal", headers={NS: "a"}).json()["entries"] == []
    assert control.get("/_sparring/unused", headers={NS: "a"}).json() == {"namespace": "a", "unused": []}
    assert ask(control, "sk-b").status_code == 404  # nothing scripted: fallback miss
    assert ask(control, "sk-a").status_code == 404  # the old key no longer routes here: the default namespace


def test_append_adds_rules_after_those_scripted(control: httpx.Client) -> None:
    control.put("/_sparring/namespace", json={"api_keys": ["sk-a"]}, headers={NS: "a"})
    first = control.post(
        "/_sparring/scenario/append", content=dump_scenario(Scenario.of(reply("one"))), headers={NS: "a"}
    )
    second = control.post(
        "/_sparring/scenario/append",
        content=dump_scenario(Scenario.of(reply("two"), error("rate_limit", optional=True))),
        headers={NS: "a"},
    )
    assert first.json() == {"namespace": "a", "first": 0, "rules": 1}
    assert second.json() == {"namespace": "a", "first": 1, "rules": 2}
    texts = [ask(control, "sk-a").json()["choices"][0]["message"]["content"] for _ in range(2)]
    assert texts == ["one", "two"]
    assert control.get("/_sparring/unused", headers={NS: "a"}).json()["unused"] == []  # the optional one aside


def test_unused_lists_what_no_request_took(control: httpx.Client) -> None:
    scenario = Scenario.of(reply("taken"), reply("left", times=2))
    control.post("/_sparring/scenario/append", content=dump_scenario(scenario), headers={NS: "u"})
    control.post("/v1/chat/completions", json=body(), headers={NS: "u"})
    assert control.get("/_sparring/unused", headers={NS: "u"}).json()["unused"] == [
        "rule 1 [any request] reply 2: text 'left', never used"
    ]


def test_a_bad_scenario_appended_is_refused_with_its_problems(control: httpx.Client) -> None:
    refused = control.post("/_sparring/scenario/append", content="replies:\n  - txt: hi\n", headers={NS: "a"})
    assert refused.status_code == 400
    [problem] = refused.json()["error"]["problems"]
    assert (problem["path"], problem["line"], problem["suggestion"]) == ("replies[0].txt", 2, "text")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"fallback": "sometimes"}', "fallback must be 'miss' or 'default', got 'sometimes'"),
        ('{"api_keys": "sk-a"}', "api_keys must be a list of non-empty strings, got 'sk-a'"),
        ('{"api_keys": [""]}', "api_keys must be a list of non-empty strings"),
        ("[1]", "the body must be a JSON object, got list"),
        ("{nope", "the body is not valid JSON"),
    ],
)
def test_a_bad_namespace_request_says_what_is_wrong(control: httpx.Client, payload: str, message: str) -> None:
    refused = control.put("/_sparring/namespace", content=payload, headers={NS: "a"})
    assert refused.status_code == 400
    assert message in refused.json()["error"]["message"]


def test_dropping_a_namespace_answers_its_last_state_and_ends_its_streams(
    control: httpx.Client, server: FakeServer
) -> None:
    control.put("/_sparring/namespace", json={"api_keys": ["sk-d"]}, headers={NS: "d"})
    scenario = Scenario.of(reply(chunks=["a", "b", "c"], fault=Fault("stall", after_chunk=1)), reply("spare"))
    control.post("/_sparring/scenario/append", content=dump_scenario(scenario), headers={NS: "d"})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        request = client.build_request(
            "POST", "/v1/chat/completions", json=body(stream=True), headers={"Authorization": "Bearer sk-d"}
        )
        response = client.send(request, stream=True)
        try:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
            dropped = control.delete("/_sparring/namespace", headers={NS: "d"}).json()
            with pytest.raises(httpx.RemoteProtocolError):  # ended by the drop, not by a 10 s timeout
                list(lines)
        finally:
            response.close()
    assert (dropped["dropped"], dropped["cancelled"]) == (True, 1)
    assert [e["outcome"] for e in dropped["entries"]] == ["server_closed"]  # ended by the drop, and journaled so
    assert dropped["unused"] == ["rule 1 [any request] reply 2: text 'spare', never used"]
    again = control.delete("/_sparring/namespace", headers={NS: "d"}).json()
    assert (again["dropped"], again["entries"], again["unused"]) == (False, [], [])


def test_dropping_a_namespace_in_process_returns_its_journal_once_ended(server: FakeServer) -> None:
    """What the plugin keeps of a test: every entry ended, a stall cut short by the drop too."""
    server.set_scenario(Scenario.of(reply(chunks=["a", "b", "c"], fault=Fault("stall", after_chunk=1))), "e")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        request = client.build_request("POST", "/ns/e/v1/chat/completions", json=body(stream=True))
        response = client.send(request, stream=True)
        try:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
            entries = server.drop_namespace("e")
        finally:
            response.close()
    assert [(e.outcome, e.status) for e in entries] == [("server_closed", 200)]


def test_the_journal_round_trips_into_entries(control: httpx.Client, server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=["a", "b"], fault=Fault("reset", after_chunk=1)), error(503)))
    with pytest.raises(httpx.HTTPError), control.stream("POST", "/v1/chat/completions", json=body(stream=True)) as cut:
        cut.read()
    control.post("/v1/chat/completions", json=body())
    local = server.wait_until(lambda j: len(j) == 2 and all(e.outcome for e in j))
    remote = [Entry.from_json(e) for e in control.get("/_sparring/journal").json()["entries"]]
    assert remote == local
    assert [(e.events_sent, e.content_sent, e.bytes_sent) for e in remote] == [
        (e.events_sent, e.content_sent, e.bytes_sent) for e in local
    ]
    assert remote[0].describe() == local[0].describe()


def test_from_json_ignores_keys_it_does_not_know(control: httpx.Client) -> None:
    control.post("/v1/chat/completions", json=body())
    [raw] = control.get("/_sparring/journal").json()["entries"]
    assert Entry.from_json({**raw, "added_by_a_newer_server": 1}).index == 0


def test_the_journal_long_poll_answers_at_the_next_change(control: httpx.Client, server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("late", timing=Timing(headers_delay=0.3))))
    version = control.get("/_sparring/journal").json()["version"]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        asked = pool.submit(ask, control, "sk-any")
        changed = control.get(f"/_sparring/journal?after={version}&wait=10").json()
        assert changed["version"] > version  # the request arrived: opened in the journal
        ended = control.get(f"/_sparring/journal?after={changed['version']}&wait=10").json()
        assert [e["outcome"] for e in ended["entries"]] == ["completed"]
        assert asked.result().status_code == 200


def test_a_long_poll_with_nothing_new_answers_after_its_wait(control: httpx.Client) -> None:
    version = control.get("/_sparring/journal").json()["version"]
    started = time.monotonic()
    same = control.get(f"/_sparring/journal?after={version}&wait=0.2").json()
    assert same["version"] == version
    assert time.monotonic() - started >= 0.2  # it waited; nothing changed


@pytest.mark.parametrize("query", ["after=x&wait=1", "after=1&wait=-1"])
def test_a_bad_long_poll_says_what_is_wrong(control: httpx.Client, query: str) -> None:
    refused = control.get(f"/_sparring/journal?{query}")
    assert refused.status_code == 400
    assert "must be" in refused.json()["error"]["message"]


def test_health_gives_the_servers_clock(control: httpx.Client) -> None:
    before = time.monotonic()
    now = control.get("/_sparring/health").json()["now"]
    assert before <= now <= time.monotonic()  # the same machine: the same monotonic clock


def test_a_pending_long_poll_does_not_hold_the_server_open() -> None:
    """Closing the server ends a long poll at once, not after its 60 s wait."""
    server = FakeServer().start()
    with httpx.Client(base_url=server.url, timeout=60) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        version = client.get("/_sparring/journal").json()["version"]
        polled = pool.submit(client.get, f"/_sparring/journal?after={version}&wait=60")
        deadline = time.monotonic() + 10
        while server.activity()["connections"] < 1:  # the poll has reached the server
            assert time.monotonic() < deadline, "the long poll never reached the server"
            time.sleep(0.01)
        started = time.monotonic()
        server.close()
        with pytest.raises(httpx.HTTPError):  # cut by the shutdown
            polled.result(timeout=30).raise_for_status()
        assert time.monotonic() - started < 30  # generous: far under the poll's 60 s
