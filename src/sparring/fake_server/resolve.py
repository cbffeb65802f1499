"""Content made concrete for one request: generated text, chunk pieces, ids, token counts.

Dialect-neutral: every dialect renders the same `Resolved` in its own wire objects.
"""

from __future__ import annotations

import functools
import random
import string
from dataclasses import dataclass, field

from sparring.scenario.model import Content, Message, Usage
from sparring.scenario.text import count_prompt_tokens, count_tokens, resolve_text, split_text

_ALNUM = string.ascii_letters + string.digits


def random_id(rng: random.Random, prefix: str, length: int, alphabet: str = _ALNUM) -> str:
    return prefix + random_text(rng, length, alphabet).decode()


def random_text(rng: random.Random, length: int, alphabet: str = _ALNUM) -> bytes:
    """`length` characters of `alphabet` (ASCII), uniform and seeded, in a few draws: random
    bytes mapped onto the alphabet, the few past its last whole multiple of 256 dropped."""
    table, dropped = _mapping(alphabet)
    text = b""
    while len(text) < length:
        text += rng.randbytes(length - len(text) + 4).translate(table, dropped)
    return text[:length]


@functools.cache
def _mapping(alphabet: str) -> tuple[bytes, bytes]:
    size = len(alphabet)
    table = (alphabet.encode("ascii") * (256 // size + 1))[:256]
    return bytes.maketrans(bytes(range(256)), table), bytes(range(256 - 256 % size, 256))


@dataclass(frozen=True)
class ResolvedToolCall:
    id: str
    name: str
    arguments: str
    pieces: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedChoice:
    index: int
    text: str | None
    pieces: tuple[str, ...]
    tool_calls: tuple[ResolvedToolCall, ...]
    refusal: str | None
    finish_reason: str

    @property
    def output_tokens(self) -> int:
        tokens = count_tokens(self.text or "") + count_tokens(self.refusal or "")
        return tokens + sum(count_tokens(c.name) + count_tokens(c.arguments) + 3 for c in self.tool_calls)


@dataclass(frozen=True)
class Resolved:
    """`prompt_tokens` and `completion_tokens` as scripted, else derived; `scripted` says which
    the scenario gave, for dialects that count differently (legacy completions: text only)."""

    model: str
    choices: tuple[ResolvedChoice, ...]
    prompt_tokens: int
    completion_tokens: int
    scripted: Usage = field(default_factory=Usage)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def resolve(
    content: Content,
    *,
    n: int,
    model: str,
    messages: object,
    rng: random.Random,
    prompt_tokens: int | None = None,
    call_id: tuple[str, int] = ("call_", 24),
) -> Resolved:
    """Exactly `n` choices, as the API gives: the scripted ones in order, the last repeated
    when the request asks for more, the extra ones left out when it asks for fewer."""
    picked = [content.messages[min(i, len(content.messages) - 1)] for i in range(n)]
    choices = tuple(_choice(i, m, rng, call_id) for i, m in enumerate(picked))
    usage = content.usage
    prompt = usage.prompt_tokens if usage and usage.prompt_tokens is not None else None
    completion = usage.completion_tokens if usage and usage.completion_tokens is not None else None
    return Resolved(
        model=content.model or model,
        choices=choices,
        prompt_tokens=prompt if prompt is not None else _prompt_estimate(prompt_tokens, messages),
        completion_tokens=completion if completion is not None else sum(c.output_tokens for c in choices),
        scripted=usage or Usage(),
    )


def _prompt_estimate(given: int | None, messages: object) -> int:
    """The dialect's own count of its prompt if it has one, else the Chat-style estimate."""
    if given is not None:
        return given
    return count_prompt_tokens(messages if isinstance(messages, list) else [])


def _choice(index: int, message: Message, rng: random.Random, call_id: tuple[str, int]) -> ResolvedChoice:
    if message.refusal is not None:
        return ResolvedChoice(
            index=index,
            text=None,
            pieces=tuple(split_text(message.refusal, message.split)),
            tool_calls=(),
            refusal=message.refusal,
            finish_reason=message.resolved_finish_reason,
        )
    text = resolve_text(message.text) if message.text is not None else None
    calls = tuple(
        ResolvedToolCall(
            id=call.id or random_id(rng, *call_id),
            name=call.name,
            arguments=call.arguments,
            pieces=tuple(split_text(call.arguments, call.split)),
        )
        for call in message.tool_calls
    )
    if text is None and not calls:
        text = ""
    return ResolvedChoice(
        index=index,
        text=text,
        pieces=tuple(split_text(text, message.split)) if text else (),
        tool_calls=calls,
        refusal=None,
        finish_reason=message.resolved_finish_reason,
    )
