"""`sparring demo`: the openai SDK against the fake server, a few rounds, printed live."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sparring.fake_server.runner import FakeServer
from sparring.scenario.library import load_scenario

if TYPE_CHECKING:
    from openai import OpenAI


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


def _use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def run() -> int:
    try:
        import openai
    except ImportError:
        print("sparring demo needs the openai SDK: pip install 'sparring[openai]'", file=sys.stderr)
        return 1
    style = _Style(_use_colour())
    with FakeServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-sparring-demo", max_retries=2)
        print(style(f"sparring demo: fake server at {server.base_url}", "1"))
        rounds: list[tuple[str, str, Callable[[OpenAI, FakeServer, _Style], None]]] = [
            ("plain-stream", "A plain stream, printed as it arrives", _plain),
            ("rate-limited-then-ok", "Rate limited twice: the SDK waits retry-after-ms, then succeeds", _rate_limited),
            ("tool-call", "A tool call: JSON arguments arrive in fragments", _tool_call),
            ("slow-first-token", "A slow first token: headers at once, then silence", _plain),
        ]
        for name, title, play in rounds:
            server.reset()
            server.set_scenario(load_scenario(name))
            print()
            print(style(f"── {title}  [{name}]", "1;36"))
            play(client, server, style)
        client.close()
    print()
    print(style("done: every round behaved as scripted.", "1;32"))
    return 0


def _stream(client: OpenAI, **extra: Any) -> Any:
    return client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    )


def _plain(client: OpenAI, server: FakeServer, style: _Style) -> None:
    start = time.monotonic()
    first: float | None = None
    for chunk in _stream(client):
        ms = (time.monotonic() - start) * 1000
        if chunk.choices and chunk.choices[0].delta.content:
            first = first if first is not None else ms
            print(f"  {style(f'+{ms:6.0f} ms', '2')}  {chunk.choices[0].delta.content!r}")
        if chunk.usage is not None:
            print(f"  {style(f'+{ms:6.0f} ms', '2')}  usage: {chunk.usage.total_tokens} tokens")
    print(f"  time to first token: {first or 0:.0f} ms")


def _rate_limited(client: OpenAI, server: FakeServer, style: _Style) -> None:
    text = "".join(c.choices[0].delta.content or "" for c in _stream(client) if c.choices)
    print(f"  answer: {text!r}")
    entries = server.journal()
    t0 = entries[0].arrived
    for entry in entries:
        colour = "33" if entry.status == 429 else "32"
        label = style(str(entry.status), colour)
        print(f"  attempt {entry.index + 1} at +{(entry.arrived - t0) * 1000:4.0f} ms: {label} ({entry.answered_by})")


def _tool_call(client: OpenAI, server: FakeServer, style: _Style) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with client.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools
    ) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                print(f"  fragment {event.arguments_delta!r}")
        final = stream.get_final_completion()
    call = (final.choices[0].message.tool_calls or [])[0]
    print(f"  {style('call', '1')}: {call.function.name}({call.function.arguments})")
