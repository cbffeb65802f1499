"""Rendering, without a server: every dialect's stream for a spread of contents and request
options, byte for byte (the snapshot), rendered lazily, with the same bytes however streams
are consumed, and with a count of paced events that matches the stream.

The wire tests (`test_wire_golden.py` and each API's own) say what clients see over a socket;
these pin the renderer itself on the cases a socket test would need one server each for:
usage on and off, obfuscation off, `n > 1`, batches, cut-off finishes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sparring import message, reply, tool_call
from sparring.fake_server.app import DIALECTS
from sparring.fake_server.dialects.base import Dialect, Frame
from sparring.fake_server.resolve import Resolved, resolve
from sparring.scenario.model import Content

TEXT = 'Grüße, the "quoted" line\nand 🎉 more words.'
CONTENTS: dict[str, Content] = {
    "text": reply(TEXT).content,
    "empty": reply("").content,
    "tool_calls": reply(
        tool_calls=[
            tool_call("get_weather", {"city": "Köln"}, split="token"),
            tool_call("get_time", {"tz": "CET"}, id="call_given"),
        ]
    ).content,
    "text_and_tool": reply("Let me look.", tool_calls=[tool_call("lookup", {"q": "x"})]).content,
    "refusal": reply(refusal="I can't help with that.").content,
    "length": reply("Cut off here", finish_reason="length").content,
    "two_choices": reply(choices=[message("One answer."), message(refusal="No.")]).content,
    "usage": reply("Counted.", usage={"prompt_tokens": 3, "completion_tokens": 2}).content,
}
USER = [{"role": "user", "content": "hi"}]
BODIES: dict[str, dict[str, dict[str, Any]]] = {
    "chat": {
        "plain": {"model": "gpt-4o", "messages": USER, "stream": True},
        "usage": {"model": "gpt-4o", "messages": USER, "stream": True, "stream_options": {"include_usage": True}},
        "bare": {
            "model": "gpt-4o",
            "messages": USER,
            "stream": True,
            "n": 2,
            "stream_options": {"include_usage": True, "include_obfuscation": False},
        },
    },
    "completions": {
        "plain": {"model": "m", "prompt": "hi", "stream": True},
        "usage": {"model": "m", "prompt": ["hi", "there"], "stream": True, "stream_options": {"include_usage": True}},
    },
    "responses": {
        "plain": {"model": "gpt-4o", "input": "hi", "stream": True, "tools": [{"type": "function", "name": "f"}]},
        "bare": {"model": "gpt-4o", "input": "hi", "stream": True, "stream_options": {"include_obfuscation": False}},
    },
    "messages": {"plain": {"model": "claude-sparring-1", "max_tokens": 10, "messages": USER, "stream": True}},
}
CASES = [
    pytest.param(api, variant, content, id=f"{api}-{variant}-{content}")
    for api, variants in BODIES.items()
    for variant in variants
    for content in CONTENTS
]
_CLOCKS = re.compile(rb'"(created|created_at)":\d+')


def dialect(api: str) -> Dialect:
    return next(d for d in DIALECTS if d.name == api)


def render(api: str, variant: str, content: str, seed: int = 7) -> tuple[Resolved, Iterator[Frame]]:
    """The resolved content and the stream's frames (not yet rendered) from a `seed`ed generator."""
    d = dialect(api)
    parsed = d.parse(BODIES[api][variant])
    rng = random.Random(seed)
    resolved = resolve(
        CONTENTS[content],
        n=parsed.n,
        model=parsed.model,
        messages=parsed.messages,
        rng=rng,
        prompt_tokens=parsed.prompt_tokens,
        call_id=(d.tool_call_prefix, d.tool_call_length),
    )
    return resolved, d.stream(resolved, parsed, rng)


@pytest.mark.parametrize(("api", "variant", "content"), CASES)
def test_stream_bytes(api: str, variant: str, content: str, snapshot: Any) -> None:
    """Each frame's bytes and roles (paced, content, terminal), the clocks masked."""
    _, frames = render(api, variant, content)
    got = [(_CLOCKS.sub(rb'"\1":0', f.data).decode(), f.paced, f.content, f.terminal) for f in frames]
    assert got == snapshot
