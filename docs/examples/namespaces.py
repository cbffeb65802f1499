"""Namespaces: two clients share one server, each with its own scenario and journal."""

from __future__ import annotations

from openai import OpenAI

from sparring import FakeServer, Scenario, reply


def answer(client: OpenAI) -> str | None:
    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Who am I?"}])
    return completion.choices[0].message.content


def main() -> None:
    with FakeServer() as server:
        server.set_scenario(Scenario.of(reply("You are Alice.")), namespace="alice")
        server.set_scenario(Scenario.of(reply("You are Bob.")), namespace="bob")

        # The namespace in the base URL's path: everything under /ns/alice/ is Alice's.
        with OpenAI(base_url=f"{server.url}/ns/alice/v1", api_key="sk-test") as client:
            assert answer(client) == "You are Alice."

        # Or the x-sparring-namespace header, at the server's root.
        headers = {"x-sparring-namespace": "bob"}
        with OpenAI(base_url=server.base_url, api_key="sk-test", default_headers=headers) as client:
            assert answer(client) == "You are Bob."

        assert [(entry.namespace, entry.path) for entry in server.journal("alice")] == [
            ("alice", "/v1/chat/completions")  # the journal shows the API's path, without /ns/alice
        ]
        assert len(server.journal("bob")) == 1
        assert server.journal() == []  # the default namespace saw nothing


if __name__ == "__main__":
    main()
