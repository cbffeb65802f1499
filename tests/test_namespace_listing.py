"""Namespaces listed (`GET /_sparring/namespaces`), and on `sparring serve` dropped when idle
(`--namespace-idle`), never the default one nor one with requests under way; the journal
limit set from the command line."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from sparring import FakeServer, Fault, Scenario, reply
from sparring.scenario.dump import dump_scenario
from tests.serve_process import SRC, sparring_serve

NS = "x-sparring-namespace"
EXPIRY_TIMEOUT = 20.0  # an idle time of 0.5 s is seen by a sweep every 0.125 s; this only bounds a broken server


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], **extra}


def listed(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in client.get("/_sparring/namespaces").json()["namespaces"]}


def test_namespaces_are_listed_with_their_entries_and_requests_under_way(server: FakeServer) -> None:
    started = time.time()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.put("/_sparring/namespace", json={}, headers={NS: "quiet"})
        stall = Scenario.of(reply(chunks=["a", "b"], fault=Fault("stall", after_chunk=1)))
        client.post("/_sparring/scenario", content=dump_scenario(stall), headers={NS: "busy"})
        with client.stream("POST", "/v1/chat/completions", json=chat(stream=True), headers={NS: "busy"}) as held:
            lines = held.iter_lines()  # kept: a generator let go closes the connection
            assert next(lines).startswith("data: ")
            spaces = listed(client)
            assert {k: (v["entries"], v["dropped"], v["under_way"]) for k, v in spaces.items()} == {
                "busy": (1, 0, 1),
                "quiet": (0, 0, 0),
            }
            assert all(v["idle"] >= 0 and started - 1 <= v["last_activity"] <= time.time() for v in spaces.values())
            client.delete("/_sparring/namespace", headers={NS: "busy"})
        assert set(listed(client)) == {"quiet"}
        assert client.get("/_sparring/namespaces").json()["namespace_idle"] == 0  # in-process: none expire


def test_serve_drops_idle_namespaces_but_not_busy_or_default_ones() -> None:
    with (
        sparring_serve("--namespace-idle", "0.5") as url,
        httpx.Client(base_url=url, timeout=10) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        client.post(
            "/_sparring/scenario", content=dump_scenario(Scenario.of(reply("x", fault="hang"))), headers={NS: "busy"}
        )
        version = client.get("/_sparring/journal", headers={NS: "busy"}).json()["version"]
        hung = pool.submit(
            client.post, "/v1/chat/completions", json=chat(), headers={NS: "busy"}, timeout=EXPIRY_TIMEOUT
        )
        client.get(f"/_sparring/journal?after={version}&wait=10", headers={NS: "busy"})  # the request has arrived
        client.put(
            "/_sparring/namespace", json={"fallback": "default"}, headers={NS: "old"}
        )  # after busy's last activity
        assert "old" in listed(client)
        deadline = time.monotonic() + EXPIRY_TIMEOUT
        while "old" in (spaces := listed(client)):
            assert time.monotonic() < deadline, f"namespace 'old' never expired: {spaces}"
            time.sleep(0.05)
        # Idle longer than 'old' was, busy stays for its request under way; default always stays.
        assert spaces["busy"]["under_way"] == 1
        assert "default" in spaces
        again = client.post("/v1/chat/completions", json=chat(), headers={NS: "old"})
        assert again.status_code == 200  # forgotten, not ended: a client coming back starts it afresh
        client.delete("/_sparring/namespace", headers={NS: "busy"})  # ends the hung request
        with pytest.raises(httpx.HTTPError):
            hung.result()


def test_serve_keeps_the_journal_limit_given() -> None:
    with sparring_serve("--journal-limit", "2") as url, httpx.Client(base_url=url, timeout=10) as client:
        client.post("/_sparring/scenario", content=dump_scenario(Scenario.of(reply("ok", repeat=True))))
        for _ in range(3):
            assert client.post("/v1/chat/completions", json=chat()).status_code == 200
        journal = client.get("/_sparring/journal").json()
        assert ([e["index"] for e in journal["entries"]], journal["dropped"]) == ([1, 2], 1)
        assert listed(client)["default"]["dropped"] == 1


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (("--journal-limit", "0"), "the journal limit must be at least 1, got 0"),
        (("--namespace-idle", "-1"), "the namespace idle time must be 0 (never) or more seconds, got -1.0"),
    ],
)
def test_serve_refuses_a_bad_limit(flag: tuple[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sparring", "serve", "--port", "0", *flag],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)),
    )
    assert result.returncode == 2
    assert f"sparring: {message}" in result.stderr
