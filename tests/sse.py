"""A raw client for the tests: exact bytes over a real socket, and a strict SSE parser.

Deliberately independent of sparring's own code, so the tests check the wire, not ourselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    reads: list[bytes] = field(default_factory=list)  # the body as the socket delivered it

    def events(self) -> list[str]:
        """The `data:` payloads, split on blank lines exactly as the SSE spec says."""
        return parse_sse(self.body)

    def chunks(self) -> list[dict[str, Any]]:
        """Every JSON payload before `[DONE]`."""
        return [json.loads(e) for e in self.events() if e != "[DONE]"]


def parse_sse(body: bytes) -> list[str]:
    text = body.decode("utf-8")
    assert "\r" not in text, "the real API frames with LF only"
    blocks = text.split("\n\n")
    assert blocks[-1] == "", f"stream must end with a blank line, ends with {blocks[-1]!r}"
    events = []
    for block in blocks[:-1]:
        lines = block.split("\n")
        assert all(line.startswith("data: ") for line in lines), f"unexpected line in {block!r}"
        events.append("\n".join(line[len("data: ") :] for line in lines))
    return events


async def post(url: str, body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None) -> RawResponse:
    """POST `body` as JSON (or `raw` bytes as they are) and read the response to the end."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        data = raw if raw is not None else json.dumps(body).encode()
        send = {"Content-Type": "application/json", "Authorization": "Bearer sk-test", **(headers or {})}
        async with session.post(url, data=data, headers=send) as response:
            reads = [piece async for piece in response.content.iter_any()]
            return RawResponse(response.status, dict(response.headers), b"".join(reads), reads)
