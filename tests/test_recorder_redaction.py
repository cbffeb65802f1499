"""Credentials never written: not in the recording, the journal or the logs, whether the client
sent them in a header, a cookie or a body field, or the upstream echoed them back."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from sparring import FakeServer, Recorder
from sparring.recorder.redact import Redactor, scrub_event
from sparring.scenario.recording import RecordedEvent
from tests.recorder_upstreams import SSE_HEADERS, Script, Upstream, sse
from tests.test_recorder_proxy import reads_of

CLIENT_KEY = "sk-client-4f9a8b7c6d5e4f3a2b1c"
ANTHROPIC_KEY = "sk-ant-api03-zyxwvutsrqponm"
UPSTREAM_KEY = "sk-upstream-0a1b2c3d4e5f6a7b"
COOKIE = "session=c00k1e-v4lue-8d7e6f"
CUSTOM = "custom-secret-9e8d7c"
USER_ID = "user-7c6b5a4d3e2f"
SECRETS = (CLIENT_KEY, ANTHROPIC_KEY, UPSTREAM_KEY, COOKIE, "c00k1e-v4lue-8d7e6f", CUSTOM, USER_ID)


def test_no_secret_reaches_the_file_the_journal_or_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # The upstream quotes the key in its 401, sets a cookie, and echoes the request's metadata.
    unauthorized = json.dumps({"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}.", "type": "x"}})
    echoed = sse(
        {"type": "response.created", "response": {"id": "resp_1", "metadata": {"user_id": USER_ID}}},
        {"type": "response.completed", "response": {"id": "resp_1", "metadata": {"user_id": USER_ID}}},
        named=True,
    )
    scripts = (
        Script(
            status=401,
            reads=[unauthorized.encode()],
            headers={"content-type": "application/json", "set-cookie": COOKIE, "x-request-id": "req_1"},
        ),
        Script(reads=[echoed[0][:30], echoed[0][30:] + echoed[1]], headers={**SSE_HEADERS, "set-cookie": COOKIE}),
    )
    body = {
        "model": "gpt-4.1-nano",
        "input": "Hello",
        "stream": True,
        "metadata": {"user_id": USER_ID, "team": "blue"},
    }
    headers = {
        "Authorization": f"Bearer {CLIENT_KEY}",
        "x-api-key": ANTHROPIC_KEY,
        "Cookie": COOKIE,
        "x-custom-secret": CUSTOM,
    }
    out = tmp_path / "recorded.yaml"
    with Upstream(*scripts) as upstream:
        recorder = Recorder(
            upstream.url, api_key=UPSTREAM_KEY, redact=["x-custom-secret", "metadata.user_id"], match_on=["body"]
        )
        with FakeServer(redact=["x-custom-secret"], passthrough=recorder.passthrough(forward_all=True)) as server:
            for _ in scripts:
                with httpx.stream("POST", f"{server.base_url}/responses", json=body, headers=headers) as response:
                    response.read()
                recorder.save(out)
            journal = json.dumps([entry.to_json() for entry in server.journal()])
        recorder.close()
        seen = upstream.seen
    # The upstream got the recorder's key in place of the client's, in both headers.
    assert [s.headers["Authorization"] for s in seen] == [f"Bearer {UPSTREAM_KEY}"] * 2
    assert [s.headers["x-api-key"] for s in seen] == [UPSTREAM_KEY] * 2
    # The server's logs (the test's own httpx client logs what it got, set-cookie included).
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("sparring", "aiohttp")))
    written = [out.read_text(), journal, logs]
    assert len(recorder.rules) == 1
    assert len(recorder.rules[0].replies) == 2
    for secret in SECRETS:
        for text in written:
            assert secret not in text
    assert "Incorrect API key provided: sk-ups…[redacted" in written[0]  # the message stays readable
    assert '"team": "blue"' in written[1]  # fields not named stay as sent
    assert "team: blue" in written[0]


def test_the_events_keep_their_reads_when_a_secret_is_replaced() -> None:
    frame = f'data: {{"key":"{CLIENT_KEY}","n":1}}\n\n'.encode()
    start = frame.index(CLIENT_KEY.encode())
    torn = ((5, 0.2), (start + 4, 0.3), (len(frame) - 3, 0.4))  # one read began inside the key
    event = RecordedEvent.of(frame, 0.1, torn)
    clean = scrub_event(event, [CLIENT_KEY])
    assert CLIENT_KEY not in clean.frame.decode()
    assert json.loads(clean.frame[6:]) == {"key": json.loads(clean.frame[6:])["key"], "n": 1}
    reads = reads_of([clean])
    assert len(reads) == 4
    assert reads[0] == b"data:"
    assert reads[-1] == b"}\n\n"  # the last read is the same three bytes


def test_names_are_headers_and_body_paths() -> None:
    redactor = Redactor(["X-Tenant", "metadata.user_id", "messages.0.content"])
    body = {"metadata": {"user_id": 42, "keep": 1}, "messages": [{"role": "user", "content": "s3cr3t-text"}]}
    secrets = redactor.secrets_of({"x-tenant": "tenant-secret", "accept": "json"}, body)
    assert set(secrets) == {"tenant-secret", "s3cr3t-text"}  # a number is redacted by path only
    cookies = redactor.secrets_of({"Cookie": "a=first-value; b=second-value"}, {})
    assert {"a=first-value; b=second-value", "first-value", "second-value"} <= set(cookies)
    assert redactor.body(body)["metadata"]["user_id"] != 42
    assert redactor.body(body)["metadata"]["keep"] == 1
    assert redactor.without(body) == {"metadata": {"keep": 1}, "messages": [{"role": "user"}]}
    assert body["metadata"]["user_id"] == 42  # copies: the request itself is untouched
