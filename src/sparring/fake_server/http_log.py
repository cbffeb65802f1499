"""The logger aiohttp's connection handler writes to: protocol garbage as one short line.

A client that sends what is not HTTP (a TLS handshake to a plain port, a bad request line, a
header over aiohttp's limits) gets aiohttp's `400` and closes; aiohttp logs that with a full
traceback, which says nothing about sparring and buries real failures. This logger's filter
turns those records into one line, a warning at most; every other record goes through unchanged.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class _ShortProtocolErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            first = " ".join(line.strip() for line in str(exc.message).splitlines() if line.strip())
            first = first or type(exc).__name__
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
            record.msg, record.args = "sparring: bad HTTP from %s, answered %s: %.160s", (peer, exc.code, first)
            record.exc_info = record.exc_text = None
            if record.levelno > logging.WARNING:  # aiohttp's own debug lines (TLS bytes) stay debug
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


HTTP_LOG = logging.getLogger("sparring.server.http")
HTTP_LOG.addFilter(_ShortProtocolErrors())
