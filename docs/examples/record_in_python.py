"""Recording from Python: a `Recorder` in front of an upstream, a client pointed at it, the
recording saved as a scenario file, and that file loaded back.

Here the upstream is another sparring server, so the example runs anywhere; with a real API,
give its URL (`Recorder("https://api.openai.com")`) and your client its usual key.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from openai import OpenAI

from sparring import FakeServer, Recorder, Scenario, error, load_scenario, reply


def record(upstream_url: str, path: Path) -> str:
    """Ask once through a recording proxy; save what the upstream said. Returns the answer."""
    recorder = Recorder(upstream_url, redact=["metadata.user_id"])
    with (
        FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy,
        OpenAI(base_url=proxy.base_url, api_key="sk-my-real-key", max_retries=2) as client,
    ):
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            metadata={"user_id": "alice@example.com"},
            stream=True,
        )
        answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    recorder.save(path)  # after the server closed: answers still being read are in
    return answer


def main() -> None:
    # The stand-in for the real API: a rate limit first, then the answer.
    upstream = Scenario.of(error("rate_limit", retry_after_ms=10), reply("The capital of France is Paris."))
    with FakeServer(upstream) as real_api, tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recorded.yaml"
        answer = record(real_api.url, path)
        text = path.read_text()
        recorded = load_scenario(str(path))
    assert answer == "The capital of France is Paris."
    # The SDK retried the 429: one rule, the error and then the stream, used in that order.
    (rule,) = recorded.rules
    assert [type(r).__name__ for r in rule.replies] == ["ErrorReply", "Recorded"]
    assert rule.match.message == "What is the capital of France?"
    assert "sk-my-real-key" not in text
    assert "alice@example.com" not in text
    print(text[:400])
