"""Transcripts (what `curl -N` and `curl -N -i` print) into scenarios: events byte for byte,
the API read from the events, the headers that matter kept and credentials dropped, errors
as error replies, and junk refused with a located message."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sparring import ErrorReply, FakeServer, Fault, Match, TranscriptError, import_transcript, parse_scenario
from sparring.cli import main
from sparring.scenario.dump import dump_scenario
from sparring.scenario.recording import Recorded
from tests.sse import post

RECORD = Path(__file__).resolve().parents[1] / "docs" / "examples" / "record"
# Transcripts in the shape of the reference's (wire-format.md 1.5, 4.2, 6.2); chat.txt is
# `curl -N -i` output: a CRLF head, then the LF body.
TRANSCRIPTS = {"chat": "chat.txt", "responses": "responses.txt", "messages": "messages.txt"}


def body_of(name: str) -> bytes:
    data = (RECORD / TRANSCRIPTS[name]).read_bytes()
    return data.split(b"\r\n\r\n", 1)[1] if data.startswith(b"HTTP/") else data


def recording(scenario_rules: object) -> Recorded:
    reply = scenario_rules.rules[0].replies[0]  # type: ignore[attr-defined]
    assert isinstance(reply, Recorded)
    return reply


@pytest.mark.parametrize("api", TRANSCRIPTS)
def test_each_event_is_the_transcript_byte_for_byte(api: str) -> None:
    path = RECORD / TRANSCRIPTS[api]
    scenario = import_transcript(path.read_bytes(), source=str(path))
    recorded = recording(scenario)
    body = body_of(api)
    assert recorded.api == api
    assert scenario.rules[0].match == Match(endpoint=api)
    assert [event.frame for event in recorded.events] == [block + b"\n\n" for block in body.split(b"\n\n")[:-1]]
    assert {event.at for event in recorded.events} == {0.0}  # no timing in a transcript: one read
    assert recorded.fault is None
    assert scenario.name == path.stem


def test_curl_i_keeps_the_status_and_the_headers_that_matter() -> None:
    recorded = recording(import_transcript((RECORD / "chat.txt").read_bytes()))
    assert recorded.status == 200
    assert recorded.headers["x-request-id"] == "req_619548c272db4f1ab380b83de9fdedef"
    assert recorded.headers["x-ratelimit-remaining-requests"] == "9999"
    assert recorded.headers["openai-processing-ms"] == "324"
    for dropped in ("set-cookie", "openai-organization", "openai-project", "cf-ray", "date", "transfer-encoding"):
        assert dropped not in recorded.headers


def test_credentials_never_reach_the_file() -> None:
    head = (
        b"HTTP/2 200\r\ncontent-type: text/event-stream\r\nauthorization: Bearer sk-live-123\r\n"
        b"x-api-key: sk-ant-456\r\napi-key: az-789\r\nset-cookie: session=abc\r\nrequest-id: req_1\r\n\r\n"
    )
    text = dump_scenario(import_transcript(head + body_of("messages")), fmt="yaml")
    for secret in ("sk-live-123", "sk-ant-456", "az-789", "session=abc"):
        assert secret not in text
    assert "req_1" in text


def test_crlf_transcripts_keep_their_bytes() -> None:
    body = body_of("chat").replace(b"\n", b"\r\n")
    recorded = recording(import_transcript(body))
    assert recorded.api == "chat"
    assert b"".join(event.frame for event in recorded.events) == body
    assert len(recorded.events) == 7
    assert all(event.raw is not None for event in recorded.events)  # CRLF is kept as the exact text


def test_gap_spaces_the_events() -> None:
    recorded = recording(import_transcript(body_of("responses"), gap=0.05))
    assert [event.at for event in recorded.events] == [round(0.05 * i, 6) for i in range(10)]


def test_model_and_message_fill_the_match() -> None:
    scenario = import_transcript(body_of("chat"), model="gpt-4o-mini", message="Hello?")
    assert scenario.rules[0].match == Match(endpoint="chat", model="gpt-4o-mini", message="Hello?")


def test_api_given_for_a_stream_it_cannot_tell() -> None:
    body = b'data: {"text":"hi"}\n\ndata: [DONE]\n\n'
    with pytest.raises(TranscriptError, match=r"<transcript>:1: cannot tell which API .*pass it with --api"):
        import_transcript(body)
    assert recording(import_transcript(body, api="completions")).api == "completions"


def test_a_json_body_is_a_whole_recording() -> None:
    text = '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[]}\n'
    head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_2\r\n\r\n"
    recorded = recording(import_transcript(head + text))
    assert recorded.api == "chat"
    assert recorded.body is not None
    assert recorded.body.frame == text.encode()
    assert recorded.headers == {"x-request-id": "req_2"}


def test_an_http_error_becomes_an_error_reply() -> None:
    body = '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}'
    transcript = (
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\n"
        f"x-request-id: req_3\r\nx-ratelimit-remaining-requests: 0\r\n\r\n{body}"
    )
    reply = import_transcript(transcript, api="chat").rules[0].replies[0]
    assert reply == ErrorReply(
        status=429,
        body=body,
        retry_after=2.0,
        headers={"x-request-id": "req_3", "x-ratelimit-remaining-requests": "0"},
    )


def test_interim_heads_are_skipped() -> None:
    transcript = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nrequest-id: req_4\r\n\r\n" + body_of("messages")
    recorded = recording(import_transcript(transcript))
    assert recorded.headers == {"request-id": "req_4"}
    assert recorded.api == "messages"


def test_a_body_cut_mid_event_is_a_cut_recording() -> None:
    body = body_of("chat")[:-30]
    recorded = recording(import_transcript(body))
    assert recorded.fault == Fault("close", after_byte=len(body))
    assert b"".join(event.frame for event in recorded.events) == body
    assert recorded.events[-1].raw is not None


@pytest.mark.parametrize(
    ("transcript", "message"),
    [
        (b"hello world\n", r"t.txt:1: neither an SSE stream \(no `data:` line\) nor a JSON body .* 'hello world'"),
        (b"", r"t.txt:1: the transcript has no body"),
        (b'{"ok": true}', r"t.txt:1: cannot tell which API this JSON answer is from; pass it with --api"),
        (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n{}", r"t.txt:2: not a header line: 'broken header'"),
        (b"HTTP/1.1 302 Found\r\n\r\n", r"t.txt:1: status 302"),
    ],
)
def test_junk_is_refused_where_it_is(transcript: bytes, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        import_transcript(transcript, source="t.txt")


def test_an_unknown_api_says_which_it_meant() -> None:
    with pytest.raises(TranscriptError, match=r"unknown API 'chta'.*did you mean 'chat'"):
        import_transcript(body_of("chat"), api="chta")


@pytest.mark.parametrize("api", TRANSCRIPTS)
def test_the_file_round_trips(api: str) -> None:
    scenario = import_transcript((RECORD / TRANSCRIPTS[api]).read_bytes())
    again = parse_scenario(dump_scenario(scenario, fmt="yaml"), source="dumped.yaml")
    assert again.rules == scenario.rules


def test_import_command_writes_a_file_validate_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "chat.yaml"
    assert main(["import", str(RECORD / "chat.txt"), "--model", "gpt-4o-mini", "--out", str(out)]) == 0
    assert f"wrote {out}: 7 events" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["import", str(RECORD / "messages.txt")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("name: messages\n")
    assert "recorded: messages" in printed


def test_import_command_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("<html>502 Bad Gateway</html>")
    assert main(["import", str(junk)]) == 2
    assert f"sparring import: {junk}:1: neither an SSE stream" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


# Served: these need the server to play recordings (branch `replay`).


def test_an_imported_chat_stream_reaches_the_sdk_unchanged() -> None:
    from openai import OpenAI

    scenario = import_transcript((RECORD / "chat.txt").read_bytes())
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        chunks = list(stream)
        entry = server.journal()[0]
    question = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    with FakeServer(scenario) as server:
        raw = asyncio.run(post(f"{server.base_url}/chat/completions", question))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris."
    assert chunks[-1].usage is not None
    assert entry.response_headers["x-request-id"] == "req_619548c272db4f1ab380b83de9fdedef"
    assert raw.body == body_of("chat")  # what the raw reader got: the transcript's body, byte for byte
    assert len(raw.reads) == 1  # no timing in a transcript: all of it in one read


def test_an_imported_anthropic_stream_reaches_the_sdk() -> None:
    from anthropic import Anthropic

    scenario = import_transcript((RECORD / "messages.txt").read_bytes())
    with FakeServer(scenario) as server, Anthropic(base_url=server.url, api_key="sk-test", max_retries=0) as client:
        question = [{"role": "user", "content": "Hi"}]
        stream = client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=question)  # type: ignore[arg-type]
        with stream as events:
            message = events.get_final_message()
    assert message.content[0].text == "Bonjour à vous, ça va ? 👋"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"


def test_an_imported_responses_stream_reaches_the_sdk() -> None:
    from openai import OpenAI

    scenario = import_transcript((RECORD / "responses.txt").read_bytes())
    with FakeServer(scenario) as server, OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        stream = client.responses.stream(model="gpt-4.1-nano", input="Hi")
        with stream as events:
            final = events.get_final_response()
    assert final.output_text == "Hi!"
    assert json.loads(final.to_json())["status"] == "completed"


# The how-to's examples (docs/how-to/record-and-replay.md), as it shows them.
HOW_TO = RECORD.parents[1] / "how-to" / "record-and-replay.md"


def test_the_recording_the_docs_show_is_what_import_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "chat.txt").write_bytes((RECORD / "chat.txt").read_bytes())
    monkeypatch.chdir(tmp_path)
    command = ["import", "chat.txt", "--model", "gpt-4o-mini", "--message", "What is the capital of France?"]
    assert main([*command, "--out", "capital.yaml"]) == 0
    shown = HOW_TO.read_text(encoding="utf-8")
    assert "$ sparring " + " ".join(command[:5]) + ' "What is the capital of France?" --out capital.yaml' in shown
    assert capsys.readouterr().out in shown
    assert (tmp_path / "capital.yaml").read_text(encoding="utf-8") == (RECORD / "capital.yaml").read_text(
        encoding="utf-8"
    )


def test_the_junk_message_the_docs_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.txt").write_text("<html>502 Bad Gateway</html>\n")
    monkeypatch.chdir(tmp_path)
    assert main(["import", "junk.txt"]) == 2
    message = capsys.readouterr().err
    assert message.startswith("sparring import: junk.txt:1: ")
    assert message in HOW_TO.read_text(encoding="utf-8")


def test_import_loads_no_server() -> None:
    """Start-up cost: importing a transcript needs the model and the YAML writer, not aiohttp."""
    code = (
        "import sys, contextlib, io\n"
        "from sparring.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['import', {str(RECORD / 'chat.txt')!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m in ('aiohttp', 'sparring.fake_server.app', 'faker')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_import_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`curl -N ... | sparring import -`: the piped body, printed as a scenario with no name."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body_of("responses"))))
    assert main(["import", "-", "--gap", "0.01"]) == 0
    scenario = parse_scenario(capsys.readouterr().out, source="printed.yaml")
    assert scenario.name is None
    assert (
        scenario.description
        == "imported from <stdin> by sparring import; a transcript has no timing: events 0.01 s apart"
    )
    assert b"".join(e.frame for e in recording(scenario).events) == body_of("responses")
