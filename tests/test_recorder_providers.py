"""Recording from Azure OpenAI and Ollama upstreams, then replaying: what the real clients
(`openai.AzureOpenAI`/`AsyncAzureOpenAI`, `ollama.Client`/`AsyncClient`) read from the replay
is what they read through the recording proxy.

The upstream is another sparring server speaking the provider's dialect, each event `GAP_S`
(200 ms) after the one before: its reads stay reads through the proxy. Checked for each: the
same parts in the client; the replay's writes (its journal) are the proxy's writes, byte for
byte; each part arrives as long after the first as it did through the proxy
(`tests/pacing.py`: scheduling noise of two runs is tens of milliseconds, a replay at the
wrong pace drifts 200 ms per event); the journals count
the same events with output; and the key the client sent is nowhere in the file. Then every
other Azure route and Ollama's whole answers, the recorder's own key, upstream URLs, and the
`sparring record` command itself.
Failures are in tests/test_recorder_provider_failures.py; the clients in
tests/recorder_providers.py.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from sparring import FakeServer, Recorder, Scenario, load_scenario, reply
from sparring.fake_server.security import redact_value
from sparring.scenario.recording import Recorded
from tests.pacing import kept_pace
from tests.recorder_providers import (
    API_VERSION,
    AZURE_KEY,
    GAP_S,
    OLLAMA_TOKEN,
    TEXT,
    USER,
    azure_chat,
    no_keys_in,
    ollama,
    ollama_chat,
    paced,
    record,
    replay,
    writes,
)
from tests.serve_process import STOP_TIMEOUT
from tests.test_recorder_cli import rest, sparring_record, wait_for

CONTENT_TYPES = {
    "ollama_chat": "application/x-ndjson",
    "ollama_generate": "application/x-ndjson",
    "gemini_stream": "text/event-stream",  # Google's, without a charset
}


@pytest.fixture
def file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "recorded.yaml"
    yield path
    no_keys_in(path)  # whatever was recorded


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("ollama_chat", "sync"),
        ("ollama_chat", "async"),
        ("ollama_generate", "sync"),
        ("azure_chat", "sync"),
        ("azure_chat", "async"),
        ("gemini_stream", "sync"),
        ("gemini_stream", "async"),
    ],
)
def test_a_replay_gives_the_client_what_the_recording_proxy_gave_it(api: str, kind: str, file: Path) -> None:
    (recorded, recorded_error), proxied = record(paced(), api, kind, file)
    assert recorded_error is None
    assert "".join(text for text, _ in recorded) == TEXT
    (rule,) = load_scenario(file).rules
    assert rule.match.endpoint == api  # every deployment's requests (see docs/how-to/record-and-replay.md)
    (answer,) = rule.replies
    assert isinstance(answer, Recorded)
    assert answer.streamed
    assert answer.headers["content-type"] == CONTENT_TYPES.get(api, "text/event-stream; charset=utf-8")

    (replayed, replayed_error), replayed_entry = replay(file, api, kind)
    assert replayed_error is None
    assert [text for text, _ in replayed] == [text for text, _ in recorded]
    assert writes(replayed_entry) == writes(proxied)  # the recorded reads, write for write
    assert len(writes(proxied)) >= 4  # the paced events stayed apart
    # Both journals count the four events with text in them (retry checks read this count).
    assert proxied.content_sent == replayed_entry.content_sent == len(TEXT.split())
    kept_pace([t for _, t in recorded], [t for _, t in replayed], proxied, replayed_entry)


def test_ollama_lines_are_recorded_one_event_each_with_the_done_record_last(file: Path) -> None:
    record(paced(), "ollama_chat", "sync", file)
    (rule,) = load_scenario(file).rules
    (answer,) = rule.replies
    assert isinstance(answer, Recorded)
    lines = [event.raw for event in answer.events]
    assert all(line is not None and line.endswith("}\n") and line.count("\n") == 1 for line in lines)
    assert '"done":true' in lines[-1]
    assert '"total_duration"' in lines[-1]
    assert all('"done":false' in line for line in lines[:-1] if line)
    times = [event.at for event in answer.events]
    assert times == sorted(times)
    assert times[-2] - times[0] >= 2 * GAP_S  # the pace was recorded


def test_the_key_reaches_the_upstream_but_not_the_recording(file: Path) -> None:
    with FakeServer(paced()) as upstream:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy:
            azure_chat(proxy.url, "sync")
            ollama_chat(proxy.url, "sync")
        recorder.close()
        azure, local = upstream.journal()
    recorder.save(file)  # the fixture greps it
    # Forwarded as sent (the upstream's journal shows each redacted, with the same digest).
    assert azure.headers["api-key"] == redact_value(AZURE_KEY)
    assert local.headers["authorization"] == redact_value(f"Bearer {OLLAMA_TOKEN}")
    # The path and query intact: Azure's deployment route answers only with its api-version.
    assert azure.path == "/openai/deployments/gpt-4o/chat/completions"
    assert (azure.outcome, local.outcome) == ("completed", "completed")


def _v1(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/openai/v1", api_key=AZURE_KEY, max_retries=0)


def _azure(url: str) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(azure_endpoint=url, api_version=API_VERSION, api_key=AZURE_KEY, max_retries=0)


def _v1_chat(url: str) -> object:
    with _v1(url) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)  # type: ignore[arg-type]
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _v1_responses(url: str) -> object:
    with _v1(url) as client, client.responses.stream(model="gpt-4o", input="Count to four") as events:
        return events.get_final_response().output_text


def _azure_completions(url: str) -> object:
    with _azure(url) as client:
        stream = client.completions.create(model="gpt-35-instruct", prompt="Count to four", stream=True)
        return "".join(c.choices[0].text for c in stream if c.choices)


def _azure_embeddings(url: str) -> object:
    with _azure(url) as client:
        return client.embeddings.create(model="text-embedding-3-small", input="four").data[0].embedding


def _ollama_whole(url: str) -> object:
    with ollama.Client(host=url) as client:
        return client.chat(model="llama3.2", messages=USER, stream=False).message.content


def _ollama_generate_whole(url: str) -> object:
    with ollama.Client(host=url) as client:
        return client.generate(model="llama3.2", prompt="Count to four", stream=False).response


ROUTES: dict[str, tuple[Callable[[str], object], bool]] = {  # the API, how its client asks, streamed
    "azure_v1_chat": (_v1_chat, True),
    "azure_v1_responses": (_v1_responses, True),
    "azure_completions": (_azure_completions, True),
    "azure_embeddings": (_azure_embeddings, False),
    "ollama_chat": (_ollama_whole, False),
    "ollama_generate": (_ollama_generate_whole, False),
}


@pytest.mark.parametrize("api", list(ROUTES))
def test_every_azure_route_and_ollama_whole_answers_record_and_replay(api: str, file: Path) -> None:
    ask, streamed = ROUTES[api]
    with FakeServer(Scenario.of(reply(TEXT, repeat=True))) as upstream:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy:
            through = ask(proxy.url)
        recorder.close()
    recorder.save(file)
    (rule,) = load_scenario(file).rules
    assert rule.match.endpoint == api
    (answer,) = rule.replies
    assert isinstance(answer, Recorded)
    assert answer.streamed is streamed
    with FakeServer(load_scenario(file)) as replayed:
        assert ask(replayed.url) == through
        (entry,) = replayed.journal()
    assert entry.outcome == "completed"
    assert through == TEXT or api == "azure_embeddings"


def test_the_recorders_key_replaces_the_clients_in_azures_api_key_header(file: Path) -> None:
    with FakeServer(paced()) as upstream:
        recorder = Recorder(upstream.url, api_key="azure-recorder-key-987654")
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy:
            azure_chat(proxy.url, "sync")
        recorder.close()
        (sent,) = upstream.journal()
    recorder.save(file)
    assert sent.headers["api-key"] == redact_value("azure-recorder-key-987654")
    assert "authorization" not in {name.lower() for name in sent.headers}  # one key, where the client had it
    assert "azure-recorder-key-987654" not in file.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("upstream", "path", "url"),
    [
        (
            "https://r.openai.azure.com/openai",
            "/openai/deployments/d/chat/completions",
            "https://r.openai.azure.com/openai/deployments/d/chat/completions",
        ),
        ("https://r.openai.azure.com", "/openai/v1/responses", "https://r.openai.azure.com/openai/v1/responses"),
        ("http://localhost:11434/api", "/api/chat", "http://localhost:11434/api/chat"),
        ("http://localhost:11434", "/api/generate", "http://localhost:11434/api/generate"),
        ("https://gateway.example/api", "/v1/chat/completions", "https://gateway.example/api/v1/chat/completions"),
    ],
)
def test_an_upstream_given_with_the_apis_first_path_part_does_not_get_it_twice(
    upstream: str, path: str, url: str
) -> None:
    assert Recorder(upstream).url_for(path, "api-version=2024-10-21") == f"{url}?api-version=2024-10-21"


def test_sparring_record_records_azure_and_ollama_clients(file: Path) -> None:
    """The command as a user runs it: its own process, the providers' clients at its root."""
    with (
        FakeServer(paced()) as upstream,
        sparring_record("--upstream", upstream.url, "--out", str(file)) as (proc, url, lines),
    ):
        printed: list[str] = []
        (azure, azure_error) = azure_chat(url, "sync")
        wait_for(lines, "recorded", printed)
        (local, local_error) = ollama_chat(url, "async")
        wait_for(lines, "recorded", printed)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=STOP_TIMEOUT) == 0
        printed += rest(lines)
    assert (azure_error, local_error) == (None, None)
    assert "".join(t for t, _ in azure) == "".join(t for t, _ in local) == TEXT
    recorded = [line for line in printed if " recorded " in line]
    assert "recorded [endpoint='azure_chat', model='gpt-4o', message='Count to four'] 200" in recorded[0]
    assert "recorded [endpoint='ollama_chat', model='llama3.2', message='Count to four'] 200" in recorded[1]
    assert printed[-1] == f"sparring: stopped; 2 rules in {file}"
    assert [rule.match.endpoint for rule in load_scenario(file).rules] == ["azure_chat", "ollama_chat"]
    for secret in (AZURE_KEY, OLLAMA_TOKEN):
        assert secret not in "\n".join(printed)
