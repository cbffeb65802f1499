"""Bedrock's binary event stream on the wire: the frames decoded by botocore's own parser
(`botocore.eventstream.EventStreamBuffer`), the encoder round-tripped on random payloads, and
every fault and wire-shaping key as boto3 meets it.

See docs/bedrock.md, "Faults and wire shaping in the event stream".
"""

from __future__ import annotations

import http.client
import json
import struct
import zlib
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.config
import botocore.eventstream
import botocore.exceptions
import pytest
import urllib3
from botocore.eventstream import EventStreamBuffer
from hypothesis import given
from hypothesis import strategies as st

from sparring import FakeServer, Fault, Scenario, Timing, Wire, reply
from sparring.fake_server.dialects import bedrock_eventstream as eventstream

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
HI = [{"role": "user", "content": [{"text": "Say hello"}]}]
SIGNED = "AWS4-HMAC-SHA256 Credential=AKIDRAW/20260101/us-east-1/bedrock/aws4_request, Signature=abc"


def raw_post(
    server: FakeServer, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POST JSON with a SigV4-looking header, the model id encoded as botocore encodes it;
    the status, the headers (lower-case) and the whole body as bytes."""
    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        send = {"Content-Type": "application/json", "Authorization": SIGNED, **(headers or {})}
        connection.request("POST", quote(path, safe="/"), body=json.dumps(body), headers=send)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def frames(body: bytes) -> list[botocore.eventstream.EventStreamMessage]:
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return list(buffer)


def client(server: FakeServer) -> Any:
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=5)
    return boto3.session.Session().client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="AKIDWIRE",
        aws_secret_access_key="x",
        config=config,
    )


def events_of(server: FakeServer) -> list[dict[str, Any]]:
    made = client(server)
    stream = made.converse_stream(modelId=MODEL, messages=HI)["stream"]
    try:
        return list(stream)
    finally:
        stream.close()
        made.close()


# -- the frames, exactly ----------------------------------------------------------------------


def test_frames_headers_and_payloads_exactly(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=["Hi", " you"])))
    status, headers, body = raw_post(server, f"/model/{MODEL}/converse-stream", {"messages": HI})
    assert status == 200
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amzn-requestid"]
    messages = frames(body)
    assert sum(m.prelude.total_length for m in messages) == len(body)
    for message in messages:
        assert list(message.headers) == [":event-type", ":content-type", ":message-type"]
        assert message.headers[":content-type"] == "application/json"
        assert message.headers[":message-type"] == "event"
    said = [(m.headers[":event-type"], json.loads(m.payload)) for m in messages]
    assert said[:5] == [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " you"}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "end_turn"}),
    ]
    assert said[5][0] == "metadata"
    assert [m.payload for m in messages][1] == b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}'  # compact


def test_an_exception_frame(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("a b c d", fault=Fault("error_event", after_chunk=1, error="rate_limit"))))
    _, _, body = raw_post(server, f"/model/{MODEL}/converse-stream", {"messages": HI})
    last = frames(body)[-1]
    assert last.headers == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(last.payload) == {"message": "Too many requests, please wait before trying again."}


def test_a_request_without_credentials_is_refused_as_aws_does(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("never")))
    status, headers, body = raw_post(server, f"/model/{MODEL}/converse", {"messages": HI}, {"Authorization": ""})
    assert status == 403
    assert headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException:")
    assert json.loads(body) == {"message": "Missing Authentication Token"}


@given(
    event_type=st.text(min_size=1, max_size=40),
    payload=st.binary(max_size=3000),
    exception=st.booleans(),
)
def test_the_encoder_round_trips_through_botocore(event_type: str, payload: bytes, exception: bool) -> None:
    encoded = eventstream.exception(event_type, payload) if exception else eventstream.event(event_type, payload)
    (message,) = frames(encoded)
    assert message.payload == payload
    name = ":exception-type" if exception else ":event-type"
    assert message.headers[name] == event_type
    assert message.headers[":message-type"] == ("exception" if exception else "event")
    assert message.prelude.total_length == len(encoded)


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=8), st.integers(min_value=1, max_value=50))
def test_frames_torn_anywhere_still_parse(payloads: list[bytes], size: int) -> None:
    """The parser buffers a frame until it is whole, however the bytes arrive."""
    body = b"".join(eventstream.event("chunk", p) for p in payloads)
    buffer = EventStreamBuffer()
    parsed = []
    for at in range(0, len(body), size):
        buffer.add_data(body[at : at + size])
        parsed.extend(m.payload for m in buffer)
    assert parsed == payloads


def test_malformed_flips_the_message_checksum() -> None:
    good = eventstream.event("messageStart", b'{"role":"assistant"}')
    bad = eventstream.malformed(good)
    assert bad[:-4] == good[:-4]
    (crc,) = struct.unpack(">I", bad[-4:])
    assert crc != zlib.crc32(good[8:-4], zlib.crc32(good[:8]))
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        frames(bad)


# -- faults and wire shaping through boto3 ----------------------------------------------------


def test_write_sizes_tear_frames_and_boto3_still_reads_them(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("torn across many writes", wire=Wire(write_size=[7, 3, 11]))))
    events = events_of(server)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "torn across many writes"
    (entry,) = server.journal()
    assert max(c.nbytes for c in entry.chunks) == 11
    assert len(entry.chunks) > len(events)


def test_events_per_write_groups_frames(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("grouped in threes", wire=Wire(events_per_write=3))))
    events = events_of(server)
    (entry,) = server.journal()
    assert len(entry.chunks) == -(-len(events) // 3)


def test_line_endings_do_not_apply_and_the_journal_says_so(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("binary stays binary", wire=Wire(line_ending="crlf"))))
    events = events_of(server)
    assert "messageStop" in events[-2]
    (entry,) = server.journal()
    assert entry.detail == "wire.line_ending: bedrock_converse_stream streams are binary frames; sent as they are"


def test_keepalive_sends_nothing_and_the_journal_says_so(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("quiet wait", timing=Timing(first_chunk=0.05, keepalive=0.01))))
    events = events_of(server)
    assert "metadata" in events[-1]
    (entry,) = server.journal()
    assert entry.chunks.total("keepalive") == 0
    assert (
        entry.detail == "timing.keepalive: bedrock_converse_stream streams have no keep-alive line; waits were silent"
    )


def test_malformed_chunk_is_a_checksum_error(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("one two three four", fault=Fault("malformed_chunk", after_chunk=2))))
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        events_of(server)


def test_garbage_mid_stream_is_a_checksum_error(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply("one two three four", fault=Fault("garbage", after_chunk=2))))
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        events_of(server)


def test_no_done_ends_without_message_stop_or_metadata(server: FakeServer) -> None:
    """`no_done` drops the two terminal events: no stop reason, no usage; boto3 ends quietly."""
    server.set_scenario(Scenario.of(reply("one two", fault=Fault("no_done"))))
    events = events_of(server)
    assert [next(iter(e)) for e in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
    ]


@pytest.mark.parametrize("kind", ["truncate", "close", "reset"])
def test_cuts_mid_stream_are_urllib3_errors(server: FakeServer, kind: str) -> None:
    """botocore reads a stream through urllib3 and does not wrap what it raises mid-stream."""
    server.set_scenario(Scenario.of(reply("one two three four", fault=Fault(kind, after_chunk=2))))
    with pytest.raises(urllib3.exceptions.ProtocolError):
        events_of(server)


def test_a_fault_on_a_whole_converse_answer(server: FakeServer) -> None:
    """On a whole answer, `malformed_chunk` cuts the JSON in half, and botocore does not
    raise: its rest-json parser keeps a body it cannot parse as `{"message": ...}`
    (`_parse_body_as_json` in botocore/parsers.py), so `converse` returns no `output`."""
    server.set_scenario(Scenario.of(reply("whole", fault=Fault("malformed_chunk"))))
    made = client(server)
    try:
        answer = made.converse(modelId=MODEL, messages=HI)
    finally:
        made.close()
    assert set(answer) == {"ResponseMetadata"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
