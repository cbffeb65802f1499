"""Reading the journal over the control API: a page at a time, serialized off the event loop
so a big read holds up no client, and read whole, page by page, by the remote backend."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import httpx
import pytest
from openai import OpenAI

from sparring import FakeServer, Scenario, reply
from sparring.plugin.remote import Remote

SERVE_TIMEOUT = 30.0  # bounds a wait that only fails if the server is stuck; never reached when it works


def chat(text: str = "Hi") -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def fill(server: FakeServer, count: int, body: Any = None) -> None:
    """Journal `count` ended requests in the default namespace, as the server would."""
    journal = server.store.space().journal
    for _ in range(count):
        entry = journal.open("POST", "/v1/chat/completions", {})
        journal.record_body(entry, body)
        journal.end(entry, "completed", status=200)


def test_the_journal_is_read_a_page_at_a_time(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("ok", repeat=True)))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(7):
            assert client.post("/v1/chat/completions", json=chat()).status_code == 200
        pages = []
        since = 0
        while True:
            page = client.get(f"/_sparring/journal?since_index={since}&limit=3").json()
            pages.append(([e["index"] for e in page["entries"]], page["more"]))
            since = page["next_index"]
            if not page["more"]:
                break
        assert pages == [([0, 1, 2], True), ([3, 4, 5], True), ([6], False)]
        past = client.get("/_sparring/journal?since_index=7").json()
        assert (past["entries"], past["more"], past["next_index"], past["dropped"]) == ([], False, 7, 0)
        whole = client.get("/_sparring/journal").json()  # one page of up to 1,000 unless asked
        assert [e["index"] for e in whole["entries"]] == list(range(7))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "?limit= must be at least 1"),
        ("since_index=-1", "?since_index= must be >= 0"),
        ("limit=many", "?limit= must be a number, got 'many'"),
    ],
)
def test_a_bad_page_request_says_what_is_wrong(server: FakeServer, query: str, message: str) -> None:
    refused = httpx.get(f"{server.url}/_sparring/journal?{query}", timeout=10)
    assert refused.status_code == 400
    assert message in refused.json()["error"]["message"]


class Gate:
    """A journal body whose serialization waits until the test opens the gate: while it
    waits, the journal is being read. (Serialization copies values it does not know.)"""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __deepcopy__(self, memo: dict[int, Any]) -> str:
        self.entered.set()
        self.opened.wait(SERVE_TIMEOUT)
        return "released"


def test_a_journal_read_under_way_holds_up_no_client(server: FakeServer) -> None:
    """Served on the loop, the read below would freeze the server until the gate opens, and
    the stream would time out; holding the journal's lock, it would freeze the stream's writes."""
    gate = Gate()
    fill(server, 500, body={"messages": ["x" * 1000]})
    fill(server, 1, body={"gate": gate})
    server.set_scenario(Scenario.of(reply(chunks=["still ", "served"])))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        read = pool.submit(httpx.get, f"{server.url}/_sparring/journal", timeout=SERVE_TIMEOUT)
        try:
            assert gate.entered.wait(SERVE_TIMEOUT), "the journal read never began"
            with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=SERVE_TIMEOUT) as client:
                stream = client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
                )
                text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert text == "still served"
            assert not read.done()  # the read was still waiting at the gate all along
        finally:
            gate.opened.set()
        page = read.result().json()
    assert len(page["entries"]) == 501  # read as it was when the read began
    assert page["entries"][500]["body"] == {"gate": "released"}
    assert server.journal()[501].outcome == "completed"  # the stream, journaled meanwhile


def test_the_remote_backend_reads_every_page() -> None:
    with FakeServer(journal_limit=2_500) as server:  # past the default limit: three pages
        fill(server, 2_500)
        remote = Remote(server.url).connect()
        try:
            assert [e.index for e in remote.journal("default")] == list(range(2_500))
            waited = remote.wait_until("default", lambda j: len(j) == 2_500, 5.0)
            assert len(waited) == 2_500
        finally:
            remote.close()
