"""Text for answers: faker generation, splitting into chunks, and token estimates."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sparring.scenario.request import message_text

if TYPE_CHECKING:  # only names: the model checks its sizes with the functions here
    from sparring.scenario.model import FakerText, Split

# Roughly the GPT-2 pre-tokenizer: contractions, words and numbers with their leading space,
# runs of punctuation, whitespace. Letters are "word characters that are not digits or _".
_PRETOKEN = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+(?!\S)|\s+|_+")
_WORD = re.compile(r"\s*\S+|\s+")
_MAX_TOKEN_CHARS = 4


def faker_text(spec: FakerText) -> str:
    return _faker_paragraph(spec.seed, spec.sentences)


@functools.lru_cache(maxsize=256)
def _faker_paragraph(seed: int, sentences: int) -> str:
    # Heavy: imported only when a scenario asks for generated text. A generator with only the
    # lorem provider says what `Faker()` says, without building its dozens of other providers.
    from faker.generator import Generator
    from faker.providers.lorem.en_US import Provider as Lorem

    generator = Generator()
    generator.seed_instance(seed)
    return str(Lorem(generator).paragraph(nb_sentences=sentences, variable_nb_sentences=False))


def resolve_text(text: str | FakerText | None) -> str:
    if text is None:
        return ""
    return text if isinstance(text, str) else faker_text(text)


def split_text(text: str, split: Split) -> list[str]:
    """Cut `text` into chunks; joining the chunks always gives `text` back."""
    if split.mode == "list":
        return list(split.pieces)
    if not text:
        return []
    if split.mode == "char":
        return list(text)
    if split.mode == "size":
        return [text[i : i + split.size] for i in range(0, len(text), split.size)]
    if split.mode == "token":
        return token_pieces(text)
    return _WORD.findall(text)


def token_pieces(text: str) -> list[str]:
    """Token-like pieces: pre-tokens, with long ones cut into pieces of a few characters."""
    pieces: list[str] = []
    for pre in _PRETOKEN.findall(text):
        if len(pre) <= _MAX_TOKEN_CHARS + 1:
            pieces.append(pre)
            continue
        head = _MAX_TOKEN_CHARS + 1 if pre[0] == " " else _MAX_TOKEN_CHARS
        pieces.append(pre[:head])
        pieces.extend(pre[i : i + _MAX_TOKEN_CHARS] for i in range(head, len(pre), _MAX_TOKEN_CHARS))
    return pieces


def count_tokens(text: str) -> int:
    return len(token_pieces(text))


def count_prompt_tokens(messages: Iterable[object]) -> int:
    """Estimate prompt tokens the way OpenAI's cookbook does: 3 per message, 3 to prime."""
    total = 3
    for message in messages:
        total += 3
        if isinstance(message, dict):
            for key, value in message.items():
                total += count_tokens(message_text(value))
                if key == "name":
                    total += 1
    return total
