"""Failures from Azure OpenAI and Ollama upstreams, recorded and replayed with their clients:
Azure's 429 with its retry headers, Ollama's `{"error": ...}` body and its error line
mid-stream, streams the upstream cut; the fault sweep derived from a recording of each; and
Ollama's NDJSON transcripts imported. Helpers: tests/recorder_providers.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from sparring import ErrorReply, FakeServer, Fault, Scenario, TranscriptError, error, import_transcript, load_scenario
from sparring.recorder.derive import fault_sweep
from sparring.scenario.recording import Recorded
from tests.recorder_providers import (
    API_VERSION,
    TEXT,
    USER,
    Run,
    no_keys_in,
    ollama,
    ollama_chat,
    paced,
    record,
    replay,
    writes,
)


@pytest.fixture
def file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "recorded.yaml"
    yield path
    no_keys_in(path)  # whatever was recorded


def test_azure_429_is_recorded_with_its_retry_headers_and_replays(file: Path) -> None:
    limited = Scenario.of(error("rate_limit", retry_after=2, retry_after_ms=1500))
    (_, caught), _ = record(limited, "azure_chat", "sync", file)
    assert isinstance(caught, openai.RateLimitError)
    (rule,) = load_scenario(file).rules
    (recorded,) = rule.replies
    assert isinstance(recorded, ErrorReply)
    assert recorded.status == 429
    assert recorded.headers["retry-after"] == "2"
    assert recorded.headers["retry-after-ms"] == "1500"
    assert recorded.headers["apim-request-id"] == caught.response.headers["apim-request-id"]
    (_, again), _ = replay(file, "azure_chat", "sync")
    assert isinstance(again, openai.RateLimitError)
    assert again.response.text == caught.response.text  # Azure's message, byte for byte
    for name in ("retry-after", "retry-after-ms", "apim-request-id", "x-request-id"):
        assert again.response.headers[name] == caught.response.headers[name]


def test_ollama_error_body_is_recorded_and_replays(file: Path) -> None:
    (_, caught), _ = record(Scenario.of(error("not_found")), "ollama_chat", "sync", file)
    assert isinstance(caught, ollama.ResponseError)
    assert (caught.status_code, caught.error) == (404, "model 'llama3.2' not found")
    (rule,) = load_scenario(file).rules
    (recorded,) = rule.replies
    assert isinstance(recorded, ErrorReply)
    assert recorded.body == {"error": "model 'llama3.2' not found"}
    (_, again), _ = replay(file, "ollama_chat", "sync")
    assert isinstance(again, ollama.ResponseError)
    assert (again.status_code, again.error) == (404, caught.error)


def test_ollama_error_line_mid_stream_is_recorded_and_replays(file: Path) -> None:
    broken = paced(fault=Fault("error_event", after_chunk=2, message="llama runner process has terminated"))
    (parts, caught), _ = record(broken, "ollama_chat", "sync", file)
    assert isinstance(caught, ollama.ResponseError)
    assert caught.error == "llama runner process has terminated"
    (rule,) = load_scenario(file).rules
    (answer,) = rule.replies
    assert isinstance(answer, Recorded)
    assert answer.events[-1].raw == '{"error":"llama runner process has terminated"}\n'  # the line as it came
    (again_parts, again), _ = replay(file, "ollama_chat", "sync")
    assert isinstance(again, ollama.ResponseError)
    assert (again.status_code, again.error) == (caught.status_code, caught.error)
    assert [t for t, _ in again_parts] == [t for t, _ in parts]


@pytest.mark.parametrize("api", ["ollama_chat", "azure_chat"])
@pytest.mark.parametrize("kind", ["reset", "close"])
def test_a_stream_the_upstream_cuts_is_recorded_with_its_fault_and_replays(api: str, kind: str, file: Path) -> None:
    (parts, caught), proxied = record(paced(fault=Fault(kind, after_chunk=2)), api, "sync", file)
    assert isinstance(caught, (httpx.TransportError, openai.APIConnectionError))
    (rule,) = load_scenario(file).rules
    (answer,) = rule.replies
    assert isinstance(answer, Recorded)
    assert answer.fault is not None
    assert answer.fault.kind == kind
    assert answer.fault.after_byte == sum(writes(proxied))
    (again_parts, again), replayed = replay(file, api, "sync")
    assert type(again) is type(caught)
    assert [t for t, _ in again_parts] == [t for t, _ in parts]
    assert writes(replayed) == writes(proxied)


def test_faults_derived_from_an_ollama_recording_break_its_ndjson_stream(file: Path) -> None:
    (parts, _), _ = record(paced(), "ollama_chat", "sync", file)
    sweep = fault_sweep(load_scenario(file), positions=[2])
    assert "no-done" in sweep
    assert "error-event-after-2" in sweep

    def run(name: str) -> Run:
        with FakeServer(sweep[name]) as server:
            return ollama_chat(server.url, "sync")

    # Without the `done` record the client stops at the last text line: a clean end too soon.
    no_done, raised = run("no-done")
    assert raised is None
    assert [t for t, _ in no_done] == [t for t, _ in parts[:-1]]
    # The in-band error is Ollama's line, which the client raises mid-stream.
    two, raised = run("error-event-after-2")
    assert isinstance(raised, ollama.ResponseError)
    assert raised.status_code == -1  # the client's mark for an error line after a 200
    assert [t for t, _ in two] == [t for t, _ in parts[:2]]
    # Half of the third line, then the connection closed: the client never gets that part.
    cut_short, raised = run("truncate-after-2")
    assert raised is not None
    assert [t for t, _ in cut_short] == [t for t, _ in parts[:2]]


OLLAMA_LINES = (
    b'{"model":"llama3.2","created_at":"2026-12-03T12:00:00Z","message":{"role":"assistant","content":"Bon"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2026-12-03T12:00:01Z","message":{"role":"assistant","content":"jour"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2026-12-03T12:00:02Z","message":{"role":"assistant","content":""},'
    b'"done_reason":"stop","done":true,"total_duration":1000,"eval_count":2}\n'
)


@pytest.mark.parametrize(
    "head", [b"", b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n"], ids=["body", "with-head"]
)
def test_an_ollama_ndjson_transcript_imports_line_by_line_and_replays(head: bytes) -> None:
    scenario = import_transcript(head + OLLAMA_LINES, gap=0.05)
    (rule,) = scenario.rules
    (answer,) = rule.replies
    assert isinstance(answer, Recorded)
    assert answer.api == "ollama_chat"  # told by its `message` records
    assert b"".join(e.frame for e in answer.events) == OLLAMA_LINES
    assert [e.at for e in answer.events] == [0.0, 0.05, 0.1]
    with FakeServer(scenario) as server:
        parts, raised = ollama_chat(server.url, "sync")
        (entry,) = server.journal()
    assert raised is None
    assert [t for t, _ in parts] == ["Bon", "jour", ""]
    assert entry.response_headers["content-type"].startswith("application/x-ndjson")


def test_an_ndjson_transcript_cut_mid_line_imports_with_its_fault() -> None:
    cut_at = len(OLLAMA_LINES) - 40
    scenario = import_transcript(OLLAMA_LINES[:cut_at])
    (answer,) = scenario.rules[0].replies
    assert isinstance(answer, Recorded)
    assert answer.fault == Fault("close", after_byte=cut_at)
    assert len(answer.events) == 3  # two lines and the cut one


def test_an_ndjson_transcript_that_does_not_say_its_api_is_refused_clearly() -> None:
    errors = b'{"error":"one"}\n{"error":"two"}\n'
    with pytest.raises(TranscriptError, match=r"NDJSON stream, but no line says which API.*--api"):
        import_transcript(errors)
    assert import_transcript(errors, api="ollama_generate").rules[0].match.endpoint == "ollama_generate"


def test_no_done_on_an_azure_recording_leaves_out_its_done_event(file: Path) -> None:
    record(paced(), "azure_chat", "sync", file)
    sweep = fault_sweep(load_scenario(file), positions=[])
    url = f"/openai/deployments/gpt-4o/chat/completions?api-version={API_VERSION}"
    body = {"model": "gpt-4o", "messages": USER, "stream": True}
    bodies = {}
    for name in ("no-done", "slow-first-chunk"):
        with FakeServer(sweep[name]) as server, httpx.Client(base_url=server.url) as client:
            bodies[name] = client.post(url, json=body, headers={"api-key": "k"}).content
    assert bodies["slow-first-chunk"].endswith(b"data: [DONE]\n\n")
    assert bodies["no-done"] == bodies["slow-first-chunk"].removesuffix(b"data: [DONE]\n\n")


def test_no_done_on_a_gemini_recording_leaves_out_the_event_with_the_finish_reason(file: Path) -> None:
    """The client then gets every word and no finish reason: what the Gemini stream's `no_done`
    does to a rendered stream too."""
    record(paced(), "gemini_stream", "sync", file)
    sweep = fault_sweep(load_scenario(file), positions=[])
    runs = {name: gemini_body(sweep[name]) for name in ("no-done", "slow-first-chunk")}
    assert [b"finishReason" in body for body in runs.values()] == [False, True]
    whole, cut = runs["slow-first-chunk"], runs["no-done"]
    assert whole.startswith(cut)
    assert said(cut) == said(whole) == TEXT  # every word; only the finish is missing


def said(body: bytes) -> str:
    """The text of a Gemini stream's events, as google-genai's `chunk.text` joins it."""
    events = [json.loads(line[6:]) for line in body.decode().split("\r\n") if line.startswith("data: ")]
    parts = [p for e in events for c in e.get("candidates", []) for p in c.get("content", {}).get("parts", [])]
    return "".join(p.get("text", "") for p in parts)


def gemini_body(scenario: Scenario) -> bytes:
    """The raw body a scenario streams to a Gemini `:streamGenerateContent` request, read with
    httpx."""
    path = "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    body = {"contents": [{"role": "user", "parts": [{"text": TEXT}]}]}  # what gemini_stream() asks
    with FakeServer(scenario) as server, httpx.Client(base_url=server.url) as client:
        answer = client.post(path, json=body, headers={"x-goog-api-key": "k"})
    assert answer.status_code == 200, answer.text
    return answer.content
