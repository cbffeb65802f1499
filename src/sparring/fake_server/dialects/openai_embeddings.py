"""OpenAI Embeddings: `POST /v1/embeddings`, never streamed (wire-format.md §5).

The answer is `{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"model", "usage": {"prompt_tokens", "total_tokens"}}`, one vector per input, in input order.
Vectors are float lists, or base64 of little-endian float32 when `encoding_format` is
`base64` (what the SDK asks for when its caller names no format, and decodes itself).

A scenario's content plays no part here: an Answer means "answer normally"; a scripted error
or fault still applies. Vectors are made from the text, deterministically (see `embed`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sparring.fake_server.dialects import openai_common as common
from sparring.fake_server.dialects.base import Frame, InvalidRequest, ParsedRequest, specific
from sparring.fake_server.dialects.openai_completions import bounded_int, prompts
from sparring.fake_server.resolve import Resolved
from sparring.scenario.delivery import Fault

# Native sizes. The v3 models can be shortened with `dimensions`; ada-002 cannot.
NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
DEFAULT_DIMENSIONS = 1536
MAX_INPUTS = 2048
# Other models take any `dimensions` up to this: enough for any real model, small enough that
# one request cannot tie the server up.
MAX_DIMENSIONS = 16384
_FIXED_SIZE = ("text-embedding-ada-002",)
_WORDS = re.compile(r"\w+")
_NOISE = 0.3  # the text's own share of a vector, relative to its n-gram part (see `embed`)


@dataclass(frozen=True)
class EmbeddingsRequest(ParsedRequest):
    """What Embeddings reads besides: each input's text and token count, the vectors' form
    and size (`None`: the model's native size)."""

    inputs: tuple[str, ...] = ()
    input_tokens: tuple[int, ...] = ()
    encoding_format: str = "float"
    dimensions: int | None = None


class Embeddings(common.OpenAIDialect):
    name = "embeddings"
    path = "/v1/embeddings"

    def parse(self, body: object) -> EmbeddingsRequest:
        body = common.object_with_model(body, "input")
        model: str = body["model"]
        texts, tokens = prompts(body["input"], "input")
        if any(text == "" for text in texts):
            raise InvalidRequest(
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference. "
                "(sparring: an input is an empty string.)",
                param="input",
                code="invalid_value",
            )
        if len(texts) > MAX_INPUTS:
            raise InvalidRequest(
                f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, "
                f"but got an array with length {len(texts)} instead.",
                param="input",
                code="array_above_max_length",
            )
        if body.get("stream"):
            raise InvalidRequest("Unrecognized request argument supplied: stream")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise InvalidRequest(
                f"Invalid value: {encoding!r}. Supported values are: 'float' and 'base64'.",
                param="encoding_format",
                code="invalid_value",
            )
        dimensions = bounded_int(body, "dimensions", 1, NATIVE_DIMENSIONS.get(model, MAX_DIMENSIONS))
        if dimensions is not None and model in _FIXED_SIZE:
            raise InvalidRequest("This model does not support specifying dimensions.", param="dimensions")
        return EmbeddingsRequest(
            body=body,
            model=model,
            # One user message per input, so rules match on the last input's text.
            messages=[{"role": "user", "content": text} for text in texts],
            stream=False,
            inputs=tuple(texts),
            input_tokens=tuple(tokens),
            encoding_format=encoding,
            dimensions=dimensions,
        )

    def stream(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> Iterator[Frame]:
        return iter(())  # never streamed: `parse` makes every request a whole answer

    def paced_events(self, resolved: Resolved, request: ParsedRequest) -> int:
        return 0

    def complete(self, resolved: Resolved, request: ParsedRequest, rng: random.Random) -> dict[str, Any]:
        options = specific(request, EmbeddingsRequest)
        size = options.dimensions or NATIVE_DIMENSIONS.get(request.model, DEFAULT_DIMENSIONS)
        as_base64 = options.encoding_format == "base64"
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(embed(request.model, text, size), as_base64)}
            for i, text in enumerate(options.inputs)
        ]
        tokens = sum(options.input_tokens)
        return {
            "object": "list",
            "data": data,
            "model": resolved.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def error_events(
        self, fault: Fault, request: ParsedRequest, rng: random.Random, sent: Sequence[Frame]
    ) -> list[Frame]:
        return []  # nothing is streamed, so there is no in-band error


def embed(model: str, text: str, size: int) -> list[float]:
    """A unit vector for `text`, the same on every call, different for every text and model.

    Feature hashing of words and character trigrams (lower-cased) makes texts that share words
    or spellings point the same way, so similarity search over fake vectors behaves plausibly;
    a dense part seeded from the exact text (30 % of the n-gram part's length) makes every
    component non-zero and every distinct text distinct ("Cat" vs "cat"). Cost is linear in
    text length plus the size, with no dependency. The vector is built at the model's native
    size and shortened by taking a prefix and normalizing again, as the v3 models do, so a
    shortened vector agrees with the full one.
    """
    full = max(size, NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS))
    key = hashlib.blake2b(model.encode(), digest_size=16).digest()
    values = [0.0] * full
    for feature in _features(text):
        digest = hashlib.blake2b(feature.encode(), digest_size=16, key=key).digest()
        for word in struct.unpack("<4I", digest):  # four signed buckets per feature
            values[(word >> 1) % full] += 1.0 if word & 1 else -1.0
    scale = _NOISE * math.sqrt(sum(v * v for v in values) * 3 / full) or 1.0
    noise = hashlib.shake_256(key + text.encode()).digest(2 * full)
    values = [v + scale * (u / 32767.5 - 1.0) for v, u in zip(values, struct.unpack(f"<{full}H", noise), strict=False)]
    return _unit(values[:size])


def _features(text: str) -> list[str]:
    words = _WORDS.findall(text.lower())
    padded = " " + " ".join(words) + " "
    return ["w:" + w for w in words] + ["c:" + padded[i : i + 3] for i in range(len(padded) - 2)]


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    # Both forms carry the same float32 values, as the real API's do.
    packed = struct.pack(f"<{len(vector)}f", *vector)
    return base64.b64encode(packed).decode("ascii") if as_base64 else list(struct.unpack(f"<{len(vector)}f", packed))
