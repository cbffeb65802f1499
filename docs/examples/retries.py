"""Errors: the SDK retries a rate limit after `retry-after-ms`, and gives up when told not to retry."""

from __future__ import annotations

import openai
from openai import OpenAI

from sparring import FakeServer, Scenario, error, reply

QUESTION = [{"role": "user", "content": "Hello?"}]


def main() -> None:
    # Two 429s that ask for a 50 ms wait, then an answer.
    scenario = Scenario.of(error("rate_limit", retry_after_ms=50, times=2), reply("Finally, hello."))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client:
        answer = client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        journal = server.journal()

    assert answer.choices[0].message.content == "Finally, hello."
    # The SDK counts its attempts in the x-stainless-retry-count header; the journal keeps it.
    assert [(entry.retry_count, entry.status) for entry in journal] == [(0, 429), (1, 429), (2, 200)]
    assert journal[1].arrived - journal[0].arrived >= 0.05

    # A 500 is normally retried; `should_retry=False` sends `x-should-retry: false`, and the SDK stops.
    scenario = Scenario.of(error("server_error", should_retry=False), reply("never sent"))
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client:
        try:
            client.chat.completions.create(model="gpt-4o", messages=QUESTION)
        except openai.InternalServerError as exc:
            failure = exc
        else:
            raise AssertionError("expected a 500")
        assert len(server.journal()) == 1  # one attempt: no retry

    assert failure.status_code == 500
    assert failure.response.headers["x-should-retry"] == "false"
    assert failure.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }


if __name__ == "__main__":
    main()
