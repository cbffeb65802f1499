"""Point the openai SDK at `sparring serve`, synchronously and with asyncio.

Start the server in a terminal with `sparring serve`, then run this file with the base URL it
printed:

    python serve_any_client.py http://127.0.0.1:8000/v1

Without an argument, it starts `sparring serve --port 0` itself (the docs tests run it so).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from openai import AsyncOpenAI, OpenAI


# --8<-- [start:sync]
def ask(base_url: str) -> str:
    """Stream an answer with the synchronous client."""
    with (
        OpenAI(base_url=base_url, api_key="sk-anything") as client,
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            stream=True,
        ) as stream,
    ):
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


# --8<-- [end:sync]


# --8<-- [start:async]
async def ask_async(base_url: str) -> str:
    """Stream an answer with the asyncio client."""
    async with AsyncOpenAI(base_url=base_url, api_key="sk-anything") as client:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            stream=True,
        )
        async with stream:
            return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


# --8<-- [end:async]


def talk_to(base_url: str) -> None:
    answer = ask(base_url)
    # With no scenario, the answer is generated from the question: the same question always
    # gets the same answer, from either client.
    assert answer
    assert asyncio.run(ask_async(base_url)) == answer
    print(answer)


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1].startswith("http"):
        talk_to(sys.argv[1])
        return
    command = [sys.executable, "-m", "sparring", "serve", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        assert server.stdout.readline().startswith("sparring ")
        banner = server.stdout.readline()  # "base URL: http://127.0.0.1:PORT/v1   (Ctrl-C to stop)"
        base_url = banner.split()[2]
        try:
            talk_to(base_url)
        finally:
            server.terminate()
        log = server.stdout.read()
    # One log line per request, then a goodbye.
    assert log.count("POST /v1/chat/completions 200 · generated default answer · completed") == 2
    assert log.endswith("sparring: stopped\n")


if __name__ == "__main__":
    main()
