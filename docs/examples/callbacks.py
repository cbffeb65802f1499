"""Replies made by a function of the request: `respond(...)`."""

from __future__ import annotations

from typing import Any

import openai
from openai import OpenAI

from sparring import FakeServer, Request, Scenario, error, reply, respond, rule


def ask(client: OpenAI, text: str, **extra: Any) -> str:
    out = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}], **extra)
    return str(out.choices[0].message.content)


# --8<-- [start:echo]
def echo(request: Request) -> Any:
    """A reply built from what the client sent: any reply(...), with its own split and timing."""
    return reply(f"You said: {request.last_user_text}", split="char")


def shout(request: Request) -> str:
    """A string is short for reply(text)."""
    return request.last_user_text.upper()


# --8<-- [end:echo]


# --8<-- [start:decline]
def only_when_cold(request: Request) -> Any:
    """None: this rule does not answer this request; the next rule does. The use is not spent."""
    if request.body.get("temperature", 1) > 0.5:
        return None
    return reply("A careful answer.")


# --8<-- [end:decline]


# --8<-- [start:retry]
def fail_first(request: Request) -> Any:
    """Fail the first attempt, answer the SDK's retry: the callback reads the retry count."""
    if request.retry_count == 0:
        return error("rate_limit", retry_after_ms=10)
    return reply(f"Answered on retry {request.retry_count}.")


# --8<-- [end:retry]


def main() -> None:
    # --8<-- [start:scenario]
    scenario = Scenario.of(
        rule(respond(echo, times=2), message="echo"),
        rule(respond(shout, repeat=True), message="shout"),
        rule(respond(only_when_cold, repeat=True), message="careful"),
        rule(reply("A bold answer.", repeat=True), message="careful"),
        rule(respond(fail_first, times=2), message="retry"),
    )
    # --8<-- [end:scenario]
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client:
        assert ask(client, "echo this") == "You said: echo this"
        assert ask(client, "shout this") == "SHOUT THIS"
        assert ask(client, "careful now", temperature=0) == "A careful answer."
        assert ask(client, "careful now", temperature=1) == "A bold answer."
        assert ask(client, "retry please") == "Answered on retry 1."
        assert server.journal()[-2].status == 429  # the first attempt got the rate limit
        assert server.journal()[0].answered_by == "rule 1, reply 1: callback echo -> text 'You said: echo this'"

    # --8<-- [start:raises]
    def broken(request: Request) -> Any:
        return reply(f"{request.messages[5].text}")  # IndexError: there is one message

    with (
        FakeServer(Scenario.of(respond(broken))) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test") as client,
    ):
        try:
            ask(client, "hello")
        except openai.InternalServerError as exc:  # a 500, with x-should-retry: false: not retried
            message = str(exc.body["message"])  # type: ignore[index]
        else:
            raise AssertionError("expected a 500")
        [entry] = server.journal()
    assert message.startswith(
        "sparring: the callback broken (rule 1, reply 1) raised IndexError: tuple index out of range"
    )
    assert entry.outcome == "callback_error"
    assert entry.detail == message
    # --8<-- [end:raises]


if __name__ == "__main__":
    main()
