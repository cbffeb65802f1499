"""Rendering, without a server: every dialect's stream for a spread of contents and request
options, byte for byte (the snapshot), rendered lazily, with the same bytes however streams
are consumed, and with a count of paced events that matches the stream.

The wire tests (`test_wire_golden.py` and each API's own) say what clients see over a socket;
these pin the renderer itself on the cases a socket test would need one server each for:
usage on and off, obfuscation off, `n > 1`, batches, cut-off finishes.
"""

from __future__ import annotations

import itertools
import random
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest

from sparring import message, reply, tool_call
from sparring.fake_server.app import DIALECTS
from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Dialect, Frame, InvalidRequest
from sparring.fake_server.dialects.openai_chat import ChatRequest
from sparring.fake_server.dialects.openai_completions import CompletionsRequest
from sparring.fake_server.dialects.openai_embeddings import EmbeddingsRequest
from sparring.fake_server.dialects.openai_responses import ResponsesRequest
from sparring.fake_server.resolve import Resolved, ResolvedChoice, random_text, resolve
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
    "ollama_chat": {"plain": {"model": "llama3.2", "messages": USER}},  # Ollama streams by default
    "ollama_generate": {"plain": {"model": "llama3.2", "prompt": "hi", "system": "Be brief"}},
    "gemini_stream": {  # the route says it streams; the model is the path's
        "plain": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "two": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"candidateCount": 2}},
    },
}
CASES = [
    pytest.param(api, variant, content, id=f"{api}-{variant}-{content}")
    for api, variants in BODIES.items()
    for variant in variants
    for content in CONTENTS
]
_CLOCKS = re.compile(rb'"(created|created_at)":(\d+|"[\d\-T:.]+Z")')  # Ollama's are RFC 3339 strings


def dialect(api: str) -> Dialect:
    return next(d for d in DIALECTS if d.name == api)


def render(api: str, variant: str, content: str, seed: int = 7) -> tuple[Resolved, Iterator[Frame]]:
    """The resolved content and the stream's frames (not yet rendered) from a `seed`ed generator."""
    d = dialect(api)
    parsed = d.parse(BODIES[api][variant])
    rng = random.Random(seed)
    resolved = d.resolve(CONTENTS[content], parsed, rng)
    return resolved, d.stream(resolved, parsed, rng)


@pytest.mark.parametrize(("api", "variant", "content"), CASES)
def test_stream_bytes(api: str, variant: str, content: str, snapshot: Any) -> None:
    """Each frame's bytes and roles (paced, content, terminal), the clocks masked."""
    _, frames = render(api, variant, content)
    got = [(_CLOCKS.sub(rb'"\1":0', f.data).decode(), f.paced, f.content, f.terminal) for f in frames]
    assert got == snapshot


class _Unreachable(tuple[str, ...]):
    """Pieces of which only the first few may be read: rendering past them raises."""

    reachable = 3

    def __iter__(self) -> Iterator[str]:
        for i, piece in enumerate(super().__iter__()):
            if i >= self.reachable:
                raise AssertionError(f"piece {i} was rendered before it was asked for")
            yield piece


@pytest.mark.parametrize(
    "api", ["chat", "completions", "responses", "messages", "ollama_chat", "ollama_generate", "gemini_stream"]
)
def test_frames_are_rendered_when_taken(api: str) -> None:
    """The first frames go out before the rest of a long answer is rendered."""
    words = [f"w{i} " for i in range(20_000)]
    choice = ResolvedChoice(0, "".join(words), _Unreachable(words), (), None, "stop")
    d = dialect(api)
    frames = d.stream(Resolved("m", (choice,), 1, 1), d.parse(next(iter(BODIES[api].values()))), random.Random(1))
    before_third = {"chat": 1, "completions": 0, "responses": 4, "messages": 3}.get(api, 0)  # the role chunk...
    taken = list(itertools.islice(frames, before_third + 3))
    assert b'"w2 "' in taken[-1].data
    with pytest.raises(AssertionError, match="piece 3 was rendered"):
        list(frames)


@pytest.mark.parametrize(("api", "variant"), [(api, v) for api in BODIES for v in BODIES[api]])
def test_streams_taken_together_send_the_same_bytes(api: str, variant: str) -> None:
    """Once `stream()` has returned, its frames draw nothing from the server's generator: two
    streams taken in turns (as concurrent requests are) give the bytes each gives alone."""
    alone = []
    rng = random.Random(3)
    for _ in range(2):
        alone.append([_clockless(f) for f in _stream(api, variant, rng)])
    rng = random.Random(3)
    first, second = _stream(api, variant, rng), _stream(api, variant, rng)
    state = rng.getstate()
    together: tuple[list[bytes], list[bytes]] = ([], [])
    for a, b in itertools.zip_longest(first, second):
        together[0].extend([_clockless(a)] if a else [])
        together[1].extend([_clockless(b)] if b else [])
    assert rng.getstate() == state
    assert list(together) == alone


def _clockless(frame: Frame) -> bytes:
    """A frame's bytes without its clock, which moves between two renderings."""
    return _CLOCKS.sub(rb'"\1":0', frame.data)


def _stream(api: str, variant: str, rng: random.Random) -> Iterator[Frame]:
    d = dialect(api)
    parsed = d.parse(BODIES[api][variant])
    resolved = resolve(CONTENTS["tool_calls"], n=parsed.n, model="m", messages=parsed.messages, rng=rng)
    if api in ("chat", "responses"):  # content with text, so there is padding to draw
        resolved = resolve(CONTENTS["text"], n=parsed.n, model="m", messages=parsed.messages, rng=rng)
    return d.stream(resolved, parsed, rng)


def test_obfuscation_padding_is_seeded_and_shaped_like_the_apis() -> None:
    """1 to 16 letters and digits, every length and character drawn, the same for a seed."""
    pad = common.Padding(random.Random(5))
    pads = [pad() for _ in range(10_000)]  # past the first blocks drawn
    assert {len(p) for p in pads} == set(range(1, 17))
    assert set(b"".join(pads)) == set(string.ascii_letters.encode() + string.digits.encode())
    again = common.Padding(random.Random(5))
    assert [again() for _ in range(10_000)] == pads
    assert [common.Padding(random.Random(6))() for _ in range(20)] != pads[:20]


def test_random_text_is_uniform_over_its_alphabet() -> None:
    """Bytes past the alphabet's last whole multiple of 256 are dropped, not folded onto its
    first characters: with 3 characters, byte 255 would otherwise make `a` more likely."""
    text = random_text(random.Random(2), 300_000, "abc")
    counts = [text.count(c) for c in b"abc"]
    assert max(counts) - min(counts) < 3_000, counts  # ~6 standard deviations of 258; the fold: +1,170


@pytest.mark.parametrize(("api", "variant", "content"), CASES)
def test_paced_events_counts_what_the_stream_paces(api: str, variant: str, content: str) -> None:
    """A whole answer waits as long as its stream would, counted without rendering it."""
    resolved, frames = render(api, variant, content)
    parsed = dialect(api).parse(BODIES[api][variant])
    assert dialect(api).paced_events(resolved, parsed) == sum(f.paced for f in frames)


def test_each_dialect_parses_into_its_own_typed_request() -> None:
    """What a dialect reads beyond the shared fields is typed, with the API's defaults."""
    chat = dialect("chat").parse(BODIES["chat"]["bare"])
    assert isinstance(chat, ChatRequest)
    assert (chat.include_usage, chat.include_obfuscation, chat.n) == (True, False, 2)
    assert not dialect("chat").parse(BODIES["chat"]["plain"]).include_usage  # type: ignore[attr-defined]
    completions = dialect("completions").parse(BODIES["completions"]["usage"])
    assert isinstance(completions, CompletionsRequest)
    assert (completions.include_usage, completions.n, completions.prompt_tokens) == (True, 2, 2)
    responses = dialect("responses").parse(BODIES["responses"]["bare"])
    assert isinstance(responses, ResponsesRequest)
    assert not responses.include_obfuscation
    body = {"model": "text-embedding-3-small", "input": ["hi", "two words"], "dimensions": 8}
    embeddings = dialect("embeddings").parse(body)
    assert isinstance(embeddings, EmbeddingsRequest)
    assert (embeddings.inputs, embeddings.input_tokens, embeddings.dimensions) == (("hi", "two words"), (1, 3), 8)
    assert embeddings.encoding_format == "float"


def test_anthropic_error_ids_come_from_the_generator_given() -> None:
    """Seeded when the server gives its generator; random (the old call shape) without one."""
    problem = InvalidRequest("bad", status=400)
    seeded = [dialect("messages").invalid(problem, random.Random(4)).headers["request-id"] for _ in range(2)]
    assert seeded[0] == seeded[1]
    assert re.fullmatch(r"req_011C[1-9A-HJ-NP-Za-km-z]{20}", seeded[0])
    assert (
        dialect("messages").invalid(problem).headers["request-id"]
        != dialect("messages").invalid(problem).headers["request-id"]
    )
