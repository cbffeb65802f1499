"""Faults: `faults.yaml` written with the builders, then played through the openai SDK."""

from __future__ import annotations

import json
import time
from pathlib import Path

import openai
from openai import OpenAI

from sparring import FakeServer, Fault, Scenario, load_scenario, reply, rule

# A broken stream: openai 3.x raises APIConnectionError (APITimeoutError, its subclass, for a
# timeout); openai 2.x lets the exception of httpx, its HTTP library, through.
BROKEN_STREAM: tuple[type[Exception], ...] = (openai.APIConnectionError,)
if openai.__version__.startswith("2."):
    import httpx  # installed with openai 2.x

    BROKEN_STREAM += (httpx.TransportError,)

TEXT = "one two three four"


def build() -> Scenario:
    return Scenario.of(
        rule(reply("never sent", fault="reset"), message="reset"),  # a bare kind is Fault(kind)
        rule(reply("never sent", fault="hang"), message="hang"),
        rule(reply(TEXT, fault=Fault("truncate", after_chunk=2)), message="truncate"),
        rule(reply(TEXT, fault=Fault("stall", after_chunk=2, duration=0.3)), message="stall"),
        rule(reply(TEXT, fault=Fault("malformed_chunk", after_chunk=2)), message="malformed"),
        rule(reply(TEXT, fault=Fault("garbage", after_chunk=2, size=64, seed=0)), message="garbage"),
        rule(
            reply(TEXT, fault=Fault("error_event", after_chunk=2, error="overloaded", message="Try again later.")),
            message="error_event",
        ),
        rule(reply(TEXT, fault="no_done"), message="no_done"),
        name="faults",
    )


def ask(client: OpenAI, question: str) -> tuple[str, Exception | None]:
    """The text streamed before the end, and the exception that ended the stream (None: no error)."""
    text = ""
    try:
        with client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True
        ) as stream:
            for chunk in stream:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
    except Exception as exc:
        return text, exc
    return text, None


def play(client: OpenAI) -> None:
    """One request per rule, and what the SDK made of each."""
    text, raised = ask(client, "reset")
    assert (text, type(raised)) == ("", openai.APIConnectionError)

    text, raised = ask(client, "hang")
    assert (text, type(raised)) == ("", openai.APITimeoutError)

    # Chunk 1 is the role chunk, chunk 2 carries "one"; the cut falls inside chunk 3.
    # openai 3.x wraps the broken stream in APIConnectionError; 2.x raises httpx's own error.
    text, raised = ask(client, "truncate")
    assert text == "one"
    assert isinstance(raised, BROKEN_STREAM)

    started = time.monotonic()
    text, raised = ask(client, "stall")
    assert (text, raised) == (TEXT, None)
    assert time.monotonic() - started >= 0.3

    text, raised = ask(client, "malformed")
    assert text == "one"
    assert isinstance(raised, json.JSONDecodeError)

    text, raised = ask(client, "garbage")
    assert text == "one"
    assert isinstance(raised, UnicodeDecodeError)

    # The in-band error: APIError with the preset's type and code, never an APIStatusError.
    text, raised = ask(client, "error_event")
    assert text == "one"
    assert isinstance(raised, openai.APIError)
    assert not isinstance(raised, openai.APIStatusError)
    assert (raised.message, raised.type, raised.code) == ("Try again later.", "server_error", None)

    # The SDK does not miss `[DONE]`.
    assert ask(client, "no_done") == (TEXT, None)


def settled(server: FakeServer) -> bool:
    """Every response ended, and no connection or task left on the server."""
    ended = all(entry.outcome is not None for entry in server.journal())
    return ended and server.activity() == {"connections": 0, "tasks": 0}


def main() -> None:
    assert build().rules == load_scenario(Path(__file__).with_name("faults.yaml")).rules

    with FakeServer(build()) as server:
        # No retries, and a short timeout so that `hang` is given up quickly.
        with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=0.5) as client:
            play(client)
        # Once the client is closed, every response has ended and nothing is left open.
        deadline = time.monotonic() + 5
        while not settled(server) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert settled(server)
        journal = server.journal()

    ended = {entry.body["messages"][-1]["content"]: (entry.outcome, entry.fault) for entry in journal}
    # The SDK raises at the broken event and closes the connection, at times before the server
    # has written the rest of the stream: the outcome is then client_disconnected.
    broken = {ended["malformed"][0], ended["garbage"][0]}
    assert broken <= {"completed", "client_disconnected"}
    assert ended == {
        "reset": ("fault", "reset before the headers"),
        "hang": ("stalled", "hang before the headers"),
        "truncate": ("fault", "truncate after chunk 2"),
        "stall": ("completed", "stall after chunk 2"),
        "malformed": (ended["malformed"][0], "malformed_chunk after chunk 2"),
        "garbage": (ended["garbage"][0], "garbage after chunk 2"),
        "error_event": ("completed", "error_event after chunk 2"),
        "no_done": ("completed", "no_done"),
    }


if __name__ == "__main__":
    main()
