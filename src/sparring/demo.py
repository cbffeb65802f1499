"""`sparring demo`: the reference client spars with the fake server, a short story in parts.

Each part scripts the server, runs `LLMClient.chat_completion`, prints every event as it
arrives with its time, then what the server saw. The demo is the one place where the
reference client and the rest of sparring meet: a face over both, imported by neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from sparring.fake_server.runner import FakeServer
from sparring.scenario.builders import error, reply
from sparring.scenario.delivery import Fault, Timing
from sparring.scenario.library import load_scenario
from sparring.scenario.model import Scenario

if TYPE_CHECKING:
    from sparring.client import LLMClient, StreamEvent

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PACE = Timing(first_chunk=0.15, gap=0.06)


class Style:
    """ANSI colour when the output is a terminal that wants it (NO_COLOR and TERM=dumb say no)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO, wanted: bool = True) -> Style:
        tty = hasattr(stream, "isatty") and stream.isatty()
        return cls(wanted and tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb")

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    scenario: Callable[[], Scenario]
    play: Callable[[LLMClient, FakeServer, Style, TextIO], Awaitable[None]]


async def _stream(client: LLMClient, style: Style, out: TextIO, *, stop_after: int | None = None) -> float:
    """Print events as they arrive; return when the consumer left (monotonic)."""
    start = time.monotonic()
    shown = 0
    # aclosing: leaving the loop early closes the generator now, not at garbage collection.
    async with contextlib.aclosing(client.chat_completion(QUESTION)) as events:
        async for event in events:
            stamp = style(f"+{(time.monotonic() - start) * 1000:5.0f} ms", "2")
            print(f"  {stamp}  {_describe(event, style)}", file=out)
            shown += 1
            if stop_after is not None and shown >= stop_after:
                print(f"  {style('consumer breaks out of the loop', '35')}", file=out)
                break
        return time.monotonic()


def _describe(event: StreamEvent, style: Style) -> str:
    kind = event.type.name
    if event.text_delta is not None:
        return f"{kind} {event.text_delta.content!r}"
    if event.error is not None:
        return style(f"{kind} {event.error} (retryable: {event.retryable})", "31")
    if event.finish_reason is not None:
        usage = f", {event.usage.total_tokens} tokens" if event.usage else ""
        return style(f"{kind} finish_reason={event.finish_reason}{usage}", "32")
    return kind


def _server_view(server: FakeServer, style: Style, out: TextIO) -> None:
    entries = server.journal()
    if not entries:
        return
    print(f"  {style('the server saw:', '1')}", file=out)
    first = entries[0].arrived
    for entry in entries:
        ended = f"{entry.outcome}" + (f" ({entry.detail})" if entry.detail and entry.outcome != "completed" else "")
        when = f"+{(entry.arrived - first) * 1000:5.0f} ms"
        print(f"    {when}  #{entry.index + 1} -> {entry.status or '-'} · {ended}", file=out)


async def _clean(client: LLMClient, server: FakeServer, style: Style, out: TextIO) -> None:
    await _stream(client, style, out)
    _server_view(server, style, out)


async def _early_exit(client: LLMClient, server: FakeServer, style: Style, out: TextIO) -> None:
    left = await _stream(client, style, out, stop_after=3)
    journal = await asyncio.to_thread(server.wait_until, lambda j: bool(j and j[0].outcome))
    entry = journal[0]
    seen = entry.arrived + (entry.ended or 0.0) - left
    _server_view(server, style, out)
    print(f"  the server saw the connection close {max(seen, 0.0) * 1000:.1f} ms after the consumer left", file=out)


PARTS: tuple[Part, ...] = (
    Part("clean", "A clean stream, each event as it arrives", lambda: load_scenario("plain-stream"), _clean),
    Part(
        "rate-limit",
        "Rate limited: the client waits the retry-after the server sent, then streams",
        lambda: Scenario.of(error("rate_limit", retry_after=1), reply("Paris, after a short wait.", timing=PACE)),
        _clean,
    ),
    Part(
        "cut",
        "A stream cut mid-way: the text so far, then one ERROR event, and no retry",
        lambda: Scenario.of(
            reply("Paris is the capital and largest city.", timing=PACE, fault=Fault("reset", after_chunk=4))
        ),
        _clean,
    ),
    Part(
        "early-exit",
        "A consumer that stops early: the client closes the connection in its finally",
        lambda: Scenario.of(reply("Paris has been the capital of France for centuries.", timing=PACE)),
        _early_exit,
    ),
)


def run(parts: Sequence[str] = (), *, out: TextIO | None = None, colour: bool = True) -> int:
    """Play the chosen parts (all by default); 0 when every part behaved as scripted."""
    out = out or sys.stdout
    try:
        from sparring.client import LLMClient
    except ImportError as exc:  # the message names the extra to install
        print(f"sparring demo: {exc}", file=sys.stderr)
        return 1
    style = Style.for_stream(out, colour)
    chosen = [p for p in PARTS if not parts or p.name in parts]
    with FakeServer() as server:
        print(style(f"sparring demo: the reference client against a fake server at {server.base_url}", "1"), file=out)
        for part in chosen:
            server.reset()
            server.set_scenario(part.scenario())
            print(f"\n{style(f'── {part.name}: {part.title}', '1;36')}", file=out)

            async def play(part: Part = part) -> None:
                async with LLMClient(base_url=server.base_url, api_key="sk-sparring-demo", model="gpt-4o") as client:
                    await part.play(client, server, style, out)

            asyncio.run(play())
    print(f"\n{style('done: every part behaved as scripted.', '1;32')}", file=out)
    return 0
