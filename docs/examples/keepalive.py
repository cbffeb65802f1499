"""Keep-alive comments: a long wait before the first chunk, with `: ping` lines meanwhile.

The SDK's timeout limits each read. Without keep-alives, a 0.65 s silence breaks a 0.3 s read
timeout; with a comment every 0.1 s, no read waits that long, and the SDK skips the comments.
"""

from __future__ import annotations

import openai
from openai import OpenAI

from sparring import FakeServer, Scenario, Timing, reply

READ_TIMEOUT: tuple[type[Exception], ...] = (openai.APITimeoutError,)
if openai.__version__.startswith("2."):
    import httpx  # installed with openai 2.x

    READ_TIMEOUT += (httpx.ReadTimeout,)

QUESTION = [{"role": "user", "content": "Think hard."}]


def main() -> None:
    silent = reply("Done thinking.", timing=Timing(first_chunk=0.65))
    pinging = reply("Done thinking.", timing=Timing(first_chunk=0.65, keepalive=0.1))
    with (
        FakeServer(Scenario.of(silent, pinging)) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", timeout=0.3, max_retries=0) as client,
    ):
        # The headers come at once, so create() returns; the read timeout strikes in the stream.
        # openai 3.x raises APITimeoutError there; 2.x lets httpx's ReadTimeout through.
        try:
            with client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True) as stream:
                list(stream)
        except READ_TIMEOUT:
            pass
        else:
            raise AssertionError("expected a read timeout")

        with client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True) as stream:
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        journal = server.journal()

    assert text == "Done thinking."
    kinds = [chunk.kind for chunk in journal[1].chunks]
    assert kinds[:6] == ["keepalive"] * 6  # at 0.1, 0.2, ... 0.6 s; the first event at 0.65 s
    assert set(kinds[6:]) == {"event"}


if __name__ == "__main__":
    main()
