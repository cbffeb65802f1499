"""What the hand-written clients share: the request, and reading one SSE line."""

from __future__ import annotations

import json

import httpx

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def chat_request(http: httpx.AsyncClient, base_url: str, api_key: str) -> httpx.Request:
    return http.build_request(
        "POST", f"{base_url}/chat/completions", json=BODY, headers={"Authorization": f"Bearer {api_key}"}
    )


def delta(line: str) -> str | None:
    """The text a `data:` line carries, if any (nothing for `[DONE]` and other lines)."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None
    choices = json.loads(line[len("data: ") :]).get("choices") or [{}]
    content = choices[0].get("delta", {}).get("content")
    return content if isinstance(content, str) and content else None
