"""The control API: script a running server and read its journal over HTTP (here with httpx)."""

from __future__ import annotations

import httpx

from sparring import FakeServer, __version__

SCENARIO = """
replies:
  - error: rate_limit
    retry_after_ms: 20
  - text: "Hello from the control API."
"""
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}


def main() -> None:
    with FakeServer() as server, httpx.Client(base_url=server.url) as http:
        health = http.get("/_sparring/health").json()
        assert (health["status"], health["version"]) == ("ok", __version__)

        loaded = http.put("/_sparring/scenario", content=SCENARIO)
        assert loaded.json() == {"namespace": "default", "rules": 1}

        scripted = http.get("/_sparring/scenario").json()["replies"]
        assert [(r["reply_text"], r["left"]) for r in scripted] == [
            ("error rate_limit", 1),
            ("text 'Hello from the control API.'", 1),
        ]

        assert http.post("/v1/chat/completions", json=CHAT).status_code == 429
        assert http.post("/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"] == (
            "Hello from the control API."
        )

        entries = http.get("/_sparring/journal").json()["entries"]
        assert [(e["status"], e["answered_by"]) for e in entries] == [
            (429, "rule 1, reply 1: error rate_limit"),
            (200, "rule 1, reply 2: text 'Hello from the control API.'"),
        ]

        # A mistake in the scenario: 400, and every problem with its line, path and suggestion.
        bad = http.put("/_sparring/scenario", content="replies:\n  - txt: hello\n")
        assert bad.status_code == 400
        assert bad.json()["error"]["problems"][0]["line"] == 2
        assert bad.json()["error"]["problems"][0]["path"] == "replies[0].txt"
        assert bad.json()["error"]["problems"][0]["suggestion"] == "text"

        # Each namespace has its own scenario and journal.
        team_a = {"x-sparring-namespace": "team-a"}
        http.put("/_sparring/scenario", headers=team_a, content='{"replies": [{"text": "Hello, team A."}]}')
        assert http.post("/v1/chat/completions", json=CHAT, headers=team_a).status_code == 200
        assert len(http.get("/_sparring/journal", headers=team_a).json()["entries"]) == 1
        assert len(http.get("/_sparring/journal?namespace=team-a").json()["entries"]) == 1

        # Reset forgets the scenario and the journal of one namespace.
        assert http.post("/_sparring/reset").json() == {"namespace": "default", "reset": True}
        assert http.get("/_sparring/journal").json()["entries"] == []
        assert http.get("/_sparring/scenario").json()["replies"] == []
        assert len(http.get("/_sparring/journal", headers=team_a).json()["entries"]) == 1

        # A namespace's life, as the pytest plugin drives an external server: make it with a key
        # of its own, append rules, read what is left, wait for the journal to change, drop it.
        test_1 = {"x-sparring-namespace": "test-1"}
        http.put("/_sparring/namespace", headers=test_1, json={"fallback": "miss", "api_keys": ["sk-test-1"]})
        appended = http.post("/_sparring/scenario/append", headers=test_1, content=SCENARIO).json()
        assert appended == {"namespace": "test-1", "first": 0, "rules": 1}
        version = http.get("/_sparring/journal", headers=test_1).json()["version"]
        assert (
            http.post("/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-test-1"}).status_code
            == 429
        )
        changed = http.get(f"/_sparring/journal?after={version}&wait=5", headers=test_1).json()
        assert [e["status"] for e in changed["entries"]] == [429]
        assert http.get("/_sparring/unused", headers=test_1).json()["unused"] == [
            "rule 1 [any request] reply 2: text 'Hello from the control API.', never used"
        ]
        dropped = http.delete("/_sparring/namespace", headers=test_1).json()
        assert (dropped["dropped"], len(dropped["entries"]), len(dropped["unused"])) == (True, 1, 1)


if __name__ == "__main__":
    main()
