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

        for name in ("alice", "bob"):
            # The x-sparring-namespace header picks the namespace; without it, "default" is used.
            headers = {"x-sparring-namespace": name}
            with OpenAI(base_url=server.base_url, api_key="sk-test", default_headers=headers) as client:
                assert answer(client) == f"You are {name.title()}."

        assert [entry.namespace for entry in server.journal("alice")] == ["alice"]
        assert len(server.journal("bob")) == 1
        assert server.journal() == []  # the default namespace saw nothing


if __name__ == "__main__":
    main()
