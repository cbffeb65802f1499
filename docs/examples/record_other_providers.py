"""Recording Azure OpenAI and Ollama: the same `Recorder`, the providers' own clients.

The upstream here is another sparring server, which speaks both (so the example runs
anywhere); with the real ones, give `Recorder("https://my-resource.openai.azure.com")` or
`Recorder("http://localhost:11434")`. Then the recording is replayed with no upstream.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import ollama
from openai import AzureOpenAI

from sparring import FakeServer, Recorder, Scenario, Timing, load_scenario, reply

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def ask_azure(endpoint: str) -> str:
    with AzureOpenAI(azure_endpoint=endpoint, api_version="2024-10-21", api_key="my-azure-key") as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True)  # type: ignore[arg-type]
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def ask_ollama(host: str) -> str:
    with ollama.Client(host=host) as client:
        return "".join(part.message.content or "" for part in client.chat("llama3.2", QUESTION, stream=True))


def main() -> None:
    real_apis = Scenario.of(reply("The capital of France is Paris.", timing=Timing(gap=0.05), repeat=True))
    with FakeServer(real_apis) as upstream, tempfile.TemporaryDirectory() as folder:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy:
            # The clients take the proxy's root: they add their own paths.
            answers = [ask_azure(proxy.url), ask_ollama(proxy.url)]
        path = Path(folder) / "recorded.yaml"
        recorder.save(path)
        text = path.read_text()
        recorded = load_scenario(path)
        with FakeServer(recorded) as replay:  # no upstream: the file answers
            assert [ask_azure(replay.url), ask_ollama(replay.url)] == answers
    assert answers == ["The capital of France is Paris."] * 2
    azure, local = recorded.rules
    assert (azure.match.endpoint, local.match.endpoint) == ("azure_chat", "ollama_chat")
    assert "my-azure-key" not in text  # Azure's `api-key` header is never written
    print(text[text.index("- match:\n    endpoint: ollama_chat") :][:420])
