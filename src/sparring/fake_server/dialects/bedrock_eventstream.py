"""AWS's binary event-stream framing, as Bedrock Runtime sends its streams.

One message, as botocore's parser reads it (`botocore/eventstream.py`, `EventStreamBuffer`):

    total length (uint32, big-endian) | headers length (uint32) | prelude CRC32 (of those 8 bytes)
    headers | payload | message CRC32 (of everything before it, prelude CRC included)

Each header is its name's length (one byte), the name, a type byte and the value; every header
sparring sends is a string (type 7: a two-byte length, then UTF-8). An event carries
`:event-type` (the member of the stream's union: `contentBlockDelta`, `chunk`),
`:content-type: application/json` and `:message-type: event`; an exception carries
`:exception-type` (`throttlingException`) and `:message-type: exception` instead, which botocore
turns into a status-400 response dict and raises as `EventStreamError`.

`malformed` is what the `malformed_chunk` fault sends in a frame's place: the same bytes with
the message CRC flipped, which botocore refuses with `ChecksumMismatch`.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Sequence

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7  # the header value type of a UTF-8 string
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def header(name: str, value: str) -> bytes:
    """One string header: name length, name, type 7, value length, value."""
    raw_name, raw_value = name.encode(), value.encode()
    if len(raw_name) > 255 or len(raw_value) > 0xFFFF:
        raise ValueError(f"event-stream header {name!r} is too long to encode")
    return bytes((len(raw_name),)) + raw_name + bytes((_STRING,)) + struct.pack(">H", len(raw_value)) + raw_value


def message(headers: bytes, payload: bytes) -> bytes:
    """A whole message of already-encoded `headers` and `payload`, both checksums computed."""
    total = _PRELUDE.size + 4 + len(headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(headers))
    prelude_crc = zlib.crc32(prelude)
    head = prelude + _CRC.pack(prelude_crc) + headers
    return head + payload + _CRC.pack(zlib.crc32(payload, zlib.crc32(head)))


def encode(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """A message of string headers, in the order given, and `payload`."""
    return message(b"".join(header(name, value) for name, value in headers), payload)


@functools.cache
def event_headers(event_type: str) -> bytes:
    """The headers of an event of one type, encoded once: every delta of a stream shares them."""
    return b"".join(
        header(name, value)
        for name, value in (
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        )
    )


def event(event_type: str, payload: bytes) -> bytes:
    """An event message: `:event-type`, `:content-type`, `:message-type: event`, JSON payload."""
    return message(event_headers(event_type), payload)


def exception(exception_type: str, payload: bytes) -> bytes:
    """An exception message, as the service sends one mid-stream: botocore raises it as
    `EventStreamError` with `exception_type` as its code."""
    headers = (":exception-type", exception_type), (":content-type", "application/json"), (":message-type", "exception")
    return encode(headers, payload)


def malformed(data: bytes) -> bytes:
    """The message with its last CRC's bits flipped: intact framing, a checksum that fails."""
    if len(data) < _PRELUDE.size + 8:
        return data[: len(data) // 2]
    (crc,) = _CRC.unpack(data[-4:])
    return data[:-4] + _CRC.pack(crc ^ 0xFFFFFFFF)
