"""An in-band error: a 200 stream that says `{"error": ...}` part way. The SDK raises APIError,
which is not an APIStatusError, and does not retry it."""

from __future__ import annotations

import openai
from openai import OpenAI

from sparring import FakeServer, Fault, Scenario, reply


def main() -> None:
    fault = Fault("error_event", after_chunk=3, error="rate_limit")
    scenario = Scenario.of(reply("one two three four", fault=fault), reply("never sent"))
    text = ""
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client:
        try:
            with client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Count."}], stream=True
            ) as stream:
                for chunk in stream:
                    text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        except openai.APIError as exc:
            failure = exc
        else:
            raise AssertionError("expected an in-band error")
        journal = server.journal()

    assert text == "one two"  # chunks 2 and 3 arrived before the error event
    assert not isinstance(failure, openai.APIStatusError)  # no status code: the response was a 200
    # The body, type and code come from the preset, in the error event's JSON.
    assert failure.type == "requests"
    assert failure.code == "rate_limit_exceeded"
    assert failure.message.startswith("Rate limit reached for gpt-4o")
    assert failure.body == {
        "message": failure.message,
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    # Never retried: the SDK's retries end once the response headers are in.
    assert len(journal) == 1
    assert (journal[0].status, journal[0].outcome) == (200, "completed")


if __name__ == "__main__":
    main()
