"""Embeddings: vectors made from the text, the same every time, close for similar texts."""

from __future__ import annotations

import base64
import math
import struct

from openai import OpenAI

from sparring import FakeServer, Scenario, reply


def cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))  # the vectors have length 1


def main() -> None:
    texts = ["The cat sat on the mat", "The cat sat on a mat", "Quarterly revenue grew"]
    with (
        FakeServer(Scenario.of(reply(repeat=True))) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        result = client.embeddings.create(model="text-embedding-3-small", input=texts)
        cat, similar, revenue = (item.embedding for item in result.data)
        assert len(cat) == 1536  # the model's native size
        assert math.isclose(math.fsum(v * v for v in cat), 1.0, abs_tol=1e-5)
        # Texts that share words and spellings point the same way; others do not.
        assert cosine(cat, similar) > 0.5 > abs(cosine(cat, revenue))
        # The same text gives the same vector, in any request.
        again = client.embeddings.create(model="text-embedding-3-small", input=texts[0])
        assert again.data[0].embedding == cat
        assert result.usage.prompt_tokens == result.usage.total_tokens > 0

        # dimensions shortens a v3 vector: its first components, normalized again.
        short = client.embeddings.create(
            model="text-embedding-3-small", input=texts[0], dimensions=256, encoding_format="float"
        )
        assert len(short.data[0].embedding) == 256
        norm = math.sqrt(math.fsum(v * v for v in cat[:256]))
        assert cosine(short.data[0].embedding, [v / norm for v in cat[:256]]) > 0.9999

        # The SDK asks for base64 unless told otherwise, and decodes it. Asked for base64
        # itself, it hands the string over: little-endian float32, the same values as the float form.
        encoded = client.embeddings.create(model="text-embedding-3-small", input=texts[0], encoding_format="base64")
        packed = base64.b64decode(str(encoded.data[0].embedding))
        assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == cat
        formats = [entry.body.get("encoding_format") for entry in server.journal()]
    assert formats == ["base64", "base64", "float", "base64"]


if __name__ == "__main__":
    main()
