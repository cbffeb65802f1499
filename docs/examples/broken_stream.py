"""Catching a broken stream under openai 2.x and 3.x alike.

Before the headers, both majors raise APIConnectionError (APITimeoutError for a timeout) and
retry. Once the stream has begun, 3.x still raises those, but 2.x lets the exception of httpx,
its HTTP library, through. Neither retries. Needs only `sparring[openai]`: httpx is imported
only under openai 2.x, which installs it.
"""

from __future__ import annotations

import openai
from openai import OpenAI

from sparring import FakeServer, Fault, Scenario, reply

# openai 3.x: APIConnectionError and its subclass APITimeoutError.
# openai 2.x: httpx.TransportError, the base of ReadError, RemoteProtocolError and ReadTimeout.
BROKEN_STREAM: tuple[type[Exception], ...] = (openai.APIConnectionError,)
if openai.__version__.startswith("2."):
    import httpx  # installed with openai 2.x

    BROKEN_STREAM += (httpx.TransportError,)


def stream_text(client: OpenAI) -> tuple[str, bool]:
    """The text that arrived, and whether the stream broke before its end."""
    text = ""
    try:
        with client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Count."}], stream=True
        ) as stream:
            for chunk in stream:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
    except BROKEN_STREAM:
        return text, True
    return text, False


def main() -> None:
    text = "one two three four"
    scenario = Scenario.of(
        reply(text, fault=Fault("reset", after_chunk=2)),
        reply(text, fault=Fault("close", after_chunk=3)),
        reply(text, fault=Fault("stall", after_chunk=4)),  # until the client gives up
        reply(text),
    )
    with (
        FakeServer(scenario) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", timeout=0.3) as client,
    ):
        assert stream_text(client) == ("one", True)
        assert stream_text(client) == ("one two", True)
        assert stream_text(client) == ("one two three", True)
        assert stream_text(client) == (text, False)
        assert len(server.journal()) == 4  # one request each: nothing was retried


if __name__ == "__main__":
    main()
