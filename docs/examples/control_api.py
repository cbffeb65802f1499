"""The control API: script a running server and read its journal over HTTP (here with aiohttp)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from sparring import FakeServer, __version__

SCENARIO = """
replies:
  - error: rate_limit
    retry_after_ms: 20
  - text: "Hello from the control API."
"""
# The control API takes JSON or YAML bodies, labelled so: it refuses text/plain, which is what
# aiohttp labels a str body with, because a web page may send that cross-site.
YAML = {"content-type": "application/yaml"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}


async def drive(url: str) -> None:
    async with aiohttp.ClientSession(base_url=url) as http:

        async def call(method: str, path: str, **options: Any) -> tuple[int, Any]:
            async with http.request(method, path, **options) as response:
                return response.status, await response.json()

        status, health = await call("GET", "/_sparring/health")
        assert (status, health["status"], health["version"]) == (200, "ok", __version__)

        assert await call("PUT", "/_sparring/scenario", data=SCENARIO, headers=YAML) == (
            200,
            {"namespace": "default", "rules": 1},
        )

        _, scripted = await call("GET", "/_sparring/scenario")
        assert [(r["reply_text"], r["left"]) for r in scripted["replies"]] == [
            ("error rate_limit", 1),
            ("text 'Hello from the control API.'", 1),
        ]

        status, _ = await call("POST", "/v1/chat/completions", json=CHAT)
        assert status == 429
        _, answer = await call("POST", "/v1/chat/completions", json=CHAT)
        assert answer["choices"][0]["message"]["content"] == "Hello from the control API."

        _, journal = await call("GET", "/_sparring/journal")
        assert [(e["status"], e["answered_by"]) for e in journal["entries"]] == [
            (429, "rule 1, reply 1: error rate_limit"),
            (200, "rule 1, reply 2: text 'Hello from the control API.'"),
        ]

        # A mistake in the scenario: 400, and every problem with its line, path and suggestion.
        status, bad = await call("PUT", "/_sparring/scenario", data="replies:\n  - txt: hello\n", headers=YAML)
        assert status == 400
        problem = bad["error"]["problems"][0]
        assert (problem["line"], problem["path"], problem["suggestion"]) == (2, "replies[0].txt", "text")

        # Each namespace has its own scenario and journal.
        team_a = {"x-sparring-namespace": "team-a"}
        await call(
            "PUT",
            "/_sparring/scenario",
            headers={**team_a, "content-type": "application/json"},
            data='{"replies": [{"text": "Hello, team A."}]}',
        )
        status, _ = await call("POST", "/v1/chat/completions", json=CHAT, headers=team_a)
        assert status == 200
        _, journal = await call("GET", "/_sparring/journal", headers=team_a)
        assert len(journal["entries"]) == 1
        _, journal = await call("GET", "/_sparring/journal?namespace=team-a")
        assert len(journal["entries"]) == 1

        # Reset forgets the scenario and the journal of one namespace.
        assert await call("POST", "/_sparring/reset") == (200, {"namespace": "default", "reset": True})
        assert (await call("GET", "/_sparring/journal"))[1]["entries"] == []
        assert (await call("GET", "/_sparring/scenario"))[1]["replies"] == []
        _, journal = await call("GET", "/_sparring/journal", headers=team_a)
        assert len(journal["entries"]) == 1

        # A namespace's life, as the pytest plugin drives an external server: make it with a key
        # of its own, append rules, read what is left, wait for the journal to change, drop it.
        test_1 = {"x-sparring-namespace": "test-1"}
        await call("PUT", "/_sparring/namespace", headers=test_1, json={"fallback": "miss", "api_keys": ["sk-test-1"]})
        appended = await call("POST", "/_sparring/scenario/append", headers={**test_1, **YAML}, data=SCENARIO)
        assert appended == (200, {"namespace": "test-1", "first": 0, "rules": 1})
        version = (await call("GET", "/_sparring/journal", headers=test_1))[1]["version"]
        status, _ = await call("POST", "/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-test-1"})
        assert status == 429
        _, changed = await call("GET", f"/_sparring/journal?after={version}&wait=5", headers=test_1)
        assert [e["status"] for e in changed["entries"]] == [429]
        _, unused = await call("GET", "/_sparring/unused", headers=test_1)
        assert unused["unused"] == ["rule 1 [any request] reply 2: text 'Hello from the control API.', never used"]
        _, spaces = await call("GET", "/_sparring/namespaces")
        assert {n["name"]: n["entries"] for n in spaces["namespaces"]} == {"default": 0, "team-a": 1, "test-1": 1}
        _, dropped = await call("DELETE", "/_sparring/namespace", headers=test_1)
        assert (dropped["dropped"], len(dropped["entries"]), len(dropped["unused"])) == (True, 1, 1)

        # The journal a page at a time: from an entry's index, at most `limit` entries.
        for _ in range(3):
            await call("POST", "/v1/chat/completions", json=CHAT, headers=team_a)
        _, page = await call("GET", "/_sparring/journal?since_index=0&limit=3", headers=team_a)
        assert ([e["index"] for e in page["entries"]], page["more"]) == ([0, 1, 2], True)
        _, page = await call("GET", f"/_sparring/journal?since_index={page['next_index']}&limit=3", headers=team_a)
        assert ([e["index"] for e in page["entries"]], page["more"]) == ([3], False)


def main() -> None:
    with FakeServer() as server:
        asyncio.run(drive(server.url))


if __name__ == "__main__":
    main()
