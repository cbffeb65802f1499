"""Script the fake server in Python, stream through the openai SDK, then read the journal."""

from __future__ import annotations

from openai import OpenAI

from sparring import FakeServer, Scenario, Timing, reply, rule


def main() -> None:
    scenario = Scenario.of(
        # Questions about the weather get this answer, streamed word by word.
        rule(reply("It is sunny in Paris."), message="weather"),
        # Any other request gets this one, 50 ms after the headers, then a chunk every 10 ms.
        reply("Hello! How can I help?", timing=Timing(first_chunk=0.05, gap=0.01)),
    )
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        with client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            stream=True,
        ) as stream:
            pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]

        hello = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hi there"}],
        )
        journal = server.journal()

    # The first chunk carries the role and empty content, the last one the finish reason.
    assert pieces == ["", "It", " is", " sunny", " in", " Paris.", None]
    assert hello.choices[0].message.content == "Hello! How can I help?"

    first, second = journal
    assert first.body["messages"][0]["content"] == "What is the weather in Paris?"
    assert first.stream is True
    assert first.status == 200
    assert first.answered_by == "rule 1, reply 1: text 'It is sunny in Paris.'"
    assert second.answered_by == "rule 2, reply 1: text 'Hello! How can I help?'"
    # Credentials are redacted: the scheme, a few characters, and a digest that tells keys apart.
    assert second.headers["authorization"].startswith("Bearer sk…[redacted ")


if __name__ == "__main__":
    main()
