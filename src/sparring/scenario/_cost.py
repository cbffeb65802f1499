"""What playing a reply costs, bounded when the reply is made.

The server renders a reply before its first byte goes out: every chunk becomes a wire event
(about 15 µs each on a busy 2-core machine) and every write a planned piece (about 2 µs).
A reply too large to render in a few milliseconds is rendered in a worker thread (`big`), so
other clients go on being served. Threads share the GIL, though, and the garbage collector's
passes over a heap grown by a big render or parse hold it: the limits keep the loop's
longest stall meanwhile to tens of milliseconds (bench/render_cost.py). They sit far above
what a test streams (dozens of chunks, a few KiB) and scripts (dozens of replies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sparring.scenario._validate import fail
from sparring.scenario.text import resolve_text, split_text

if TYPE_CHECKING:
    from sparring.scenario.delivery import Wire
    from sparring.scenario.model import Message

MAX_TEXT = 1_000_000  # characters of one text, refusal, chunk list or tool call's arguments
MAX_SENTENCES = 1_000  # faker sentences: about 37,000 characters
MAX_CHUNKS = 20_000  # chunks one reply streams, over its choices and tool calls
MAX_WRITES = 100_000  # writes one reply is cut into, as estimated below
EVENT_BYTES = 300  # about the bytes of one streamed event around its text (Chat's is ~290)
INLINE_CHUNKS = 500  # a reply of more chunks renders off the loop (~10 ms)
INLINE_WRITES = 5_000  # and so does a reply cut into more writes
MAX_CHOICES = 128  # as the APIs' own `n`
MAX_TOOL_CALLS = 128  # per message, as OpenAI's `parallel_tool_calls` allows
MAX_REPLIES = 2_000  # replies in one scenario: what a test scripts is dozens


def big(messages: Sequence[Message], wire: Wire, n: int) -> bool:
    """Whether rendering a reply for a request of `n` choices may take more than a few
    milliseconds. Errs towards yes: each character is counted as a chunk."""
    chunks = 0
    for message in messages:
        if message.split.mode == "list":
            chunks += len(message.split.pieces)
        elif isinstance(message.text, str):
            chunks += len(message.text)
        elif message.text is not None:
            chunks += message.text.sentences * 60
        chunks += len(message.refusal or "") + sum(1 + len(c.arguments) for c in message.tool_calls)
    chunks *= max(1, n)
    writes = (chunks + 5) * EVENT_BYTES / min(wire.sizes) if wire.sizes else 0
    return chunks > INLINE_CHUNKS or writes > INLINE_WRITES


def check_text(path: str, text: str) -> None:
    if len(text) > MAX_TEXT:
        raise fail(path, f"is {len(text):,} characters long; the limit is {MAX_TEXT:,}")


def check_answer(messages: Sequence[Message], wire: Wire) -> None:
    """The chunks a reply streams and the writes they take, within the limits."""
    chunks = chars = 0
    for message in messages:
        text = message.refusal if message.refusal is not None else resolve_text(message.text)
        chars += len(text)
        chunks += len(split_text(text, message.split))
        for call in message.tool_calls:
            chars += len(call.arguments)
            chunks += 1 + len(split_text(call.arguments, call.split))  # its name, then its arguments
    if chunks > MAX_CHUNKS:
        raise fail(
            "",
            f"this reply streams {chunks:,} chunks; the limit is {MAX_CHUNKS:,}"
            " (split into fewer pieces: `split: 100` cuts every 100 characters)",
        )
    sizes = wire.sizes
    if sizes:
        mean = sum(sizes) / len(sizes)
        writes = int(((chunks + 5) * EVENT_BYTES + chars) / mean)
        if writes > MAX_WRITES:
            raise fail(
                "wire.write_size",
                f"cuts this reply into about {writes:,} writes; the limit is {MAX_WRITES:,}"
                " (use larger writes, or a shorter text)",
            )
