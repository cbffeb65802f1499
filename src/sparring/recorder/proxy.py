"""The recording proxy: forward each request to a real upstream, stream its answer through to
the client live and unchanged, and keep the exchange as a scenario rule.

A `Recorder` is a passthrough for sparring's server (`sparring.fake_server.upstream`): the
server journals each request as usual, and hands it over; the recorder sends it upstream with
the client's headers (hop-by-hop ones and sparring's own left out; the key replaced when the
recorder has its own), writes every read of the answer to the client the moment it arrives,
and notes when it arrived. Once the answer is over, `capture.py` turns it into a rule:
events with their read boundaries and times, errors as `error:` replies, a body the upstream
broke off as what arrived plus a fault; and `redact.py` keeps credentials out of it.

    recorder = Recorder("https://api.openai.com")
    with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as server:
        ...  # point a client at server.base_url
    recorder.save("recorded.yaml")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from sparring.fake_server import bodies
from sparring.fake_server.dialects.base import Frame
from sparring.fake_server.exchange import Exchange
from sparring.fake_server.recorded_events import frame_of
from sparring.fake_server.upstream import Passthrough, passed_on
from sparring.recorder.capture import DEFAULT_MATCH, Capture, Cut, check_match_on, kept_headers, match_of
from sparring.recorder.connection import check_open, client_gone, cut, cut_kind, request_of, unreachable
from sparring.recorder.dumped import Pieces
from sparring.recorder.frames import Framer
from sparring.recorder.redact import Redactor
from sparring.scenario.match import Match
from sparring.scenario.model import Rule, Scenario

DRAIN_TIMEOUT = 30.0  # how long closing waits for answers still being read after their client left
log = logging.getLogger("sparring.record")
CONNECT_TIMEOUT = 30.0  # an upstream that does not accept the connection in this long is down
# An upstream's answer may pause as long as it likes (a slow model, a stall being recorded):
# the client, not the proxy, decides how long to wait.
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
_PREFIXES = ("/v1", "/openai", "/api")  # the first part of the APIs' paths (sparring.apis)


class Recorder:
    """Forwards requests to `upstream` and records each exchange as a rule (`rules`).

    `upstream`: the API's root or base URL (`https://api.openai.com` or `.../v1`, an Azure
    resource's, Ollama's: a request's path is appended, without doubling `/v1`, `/openai` or
    `/api`). `match_on`: what a recorded rule matches (`capture.MATCH_KEYS`). `redact`: header
    names and JSON body paths (`metadata.user_id`) kept out of the recording and the journal,
    besides the credential headers, which always are. `api_key`: sent upstream in place of the
    client's key. `on_record`: called with each rule as it is recorded (on the server's loop:
    keep it quick)."""

    def __init__(
        self,
        upstream: str,
        *,
        match_on: Sequence[str] = DEFAULT_MATCH,
        redact: Iterable[str] = (),
        api_key: str | None = None,
        on_record: Callable[[Rule], None] | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream: {upstream!r} is not an http(s) URL, e.g. https://api.openai.com")
        self.upstream = upstream.rstrip("/")
        self.match_on = check_match_on(match_on)
        self.redactor = Redactor(redact)
        self.api_key = api_key
        self.on_record = on_record
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._saving = threading.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._drains: set[asyncio.Task[None]] = set()  # answers read on after their client left
        self._pieces = Pieces()  # the file's text by rule and reply, for a save per exchange
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- what was recorded ----------------------------------------------------------------

    def scenario(self, name: str | None = None) -> Scenario:
        with self._lock:
            return Scenario(rules=tuple(self.rules), name=name)

    def save(self, path: str | Path) -> None:
        """Write the recording as a YAML scenario file, replacing `path` atomically (a reader
        or a Ctrl-C never sees half a file)."""
        path = Path(path)
        with self._saving:  # one save at a time: the pieces are shared, the temporary file is not
            with self._lock:
                rules = list(self.rules)
            text = self._pieces.text(rules)  # what dump_scenario gives, remade from cached pieces
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def _add(self, rule: Rule) -> Rule:
        """Keep a rule; a request matched like an earlier one adds its reply to that rule
        (a 429 and then the retry's answer are one rule's two replies, used in order)."""
        with self._lock:
            for i, held in enumerate(self.rules):
                if held.match == rule.match:
                    try:
                        merged = Rule(replies=held.replies + rule.replies, match=held.match, name=held.name)
                    except ValueError:  # recordings of two APIs cannot share a rule
                        continue
                    self.rules[i] = merged
                    break
            else:
                self.rules.append(rule)
        if self.on_record is not None:
            self.on_record(rule)
        return rule

    # -- the server's side ----------------------------------------------------------------

    def passthrough(self, *, forward_all: bool) -> Passthrough:
        """What a server (`FakeServer(passthrough=...)`) or one namespace
        (`store.space(name).passthrough = ...`) sends upstream: every request with
        `forward_all`, else only those no rule answers."""
        return _Forward(self, forward_all)

    async def aclose(self) -> None:
        """Close the upstream connections (on the loop that forwarded), once the answers still
        being read for clients that left are in (at most `DRAIN_TIMEOUT` seconds)."""
        if self._drains:
            _, late = await asyncio.wait(list(self._drains), timeout=DRAIN_TIMEOUT)
            for task in late:
                task.cancel()
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def close(self) -> None:
        """`aclose` from any thread but the forwarding loop's own (there, await `aclose`)."""
        session, loop = self._session, self._loop
        if session is None or session.closed or loop is None or loop.is_closed():
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout=10)
        else:
            loop.run_until_complete(self.aclose())

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # Plain bytes from the upstream (identity asked for; anything compressed anyway
            # is inflated), and no cookie jar: a recording holds no cookies.
            self._session = aiohttp.ClientSession(
                timeout=_TIMEOUT, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._loop = loop
        return self._session

    def url_for(self, path: str, query: str) -> str:
        """The upstream's URL for a request's path and query. An upstream given with the first
        part of the APIs' paths (`.../v1`, Azure's `.../openai`, Ollama's `.../api`) does not get
        it twice."""
        base = self.upstream
        for prefix in _PREFIXES:
            if base.endswith(prefix) and (path == prefix or path.startswith(f"{prefix}/")):
                path = path[len(prefix) :]
                break
        return base + path + (f"?{query}" if query else "")

    def _headers(self, exchange: Exchange) -> CIMultiDict[str]:
        """The client's headers as the upstream gets them."""
        out: CIMultiDict[str] = CIMultiDict()
        for name, value in exchange.request.headers.items():
            if passed_on(name) and name.lower() != "accept-encoding":
                out.add(name, value)
        out["Accept-Encoding"] = "identity"  # the recording wants the bytes as they are
        if self.api_key is not None:  # every header that carried the client's key carries this one
            carried = [name for name in ("x-api-key", "api-key", "x-goog-api-key") if name in out]
            for name in carried:
                out[name] = self.api_key
            anthropic = exchange.dialect is not None and exchange.dialect.name == "messages"
            if "authorization" in out or (not carried and not anthropic):
                out["Authorization"] = f"Bearer {self.api_key}"
            elif not carried:
                out["x-api-key"] = self.api_key
        return out

    async def forward(self, exchange: Exchange, body: bytes) -> web.StreamResponse:
        request = exchange.request
        try:
            parsed_body: Any = bodies.parse(body)
        except ValueError:
            parsed_body = None
        secrets = self.redactor.secrets_of(request.headers, parsed_body, self.api_key)
        if self.redactor.paths and parsed_body is not None:
            exchange.body(bodies.journaled(body, self.redactor.body(parsed_body)))
        exchange.answered(f"forwarded to the upstream {self.upstream}")
        api = exchange.dialect.name if exchange.dialect is not None else None
        session = self._client()
        sent = time.monotonic()
        try:
            upstream = await session.request(
                request.method,
                self.url_for(exchange.path, request.query_string),
                data=body,
                headers=self._headers(exchange),
                allow_redirects=False,
            )
        except (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError) as exc:  # never connected: not recorded
            return unreachable(exchange, f"cannot reach the upstream {self.upstream}: {exc}")
        except (aiohttp.ClientConnectionError, OSError) as exc:  # connected, then cut before any answer
            return self._cut_before_headers(exchange, cut_kind(exc), api, parsed_body, secrets)
        capture = Capture(
            api or "chat",
            upstream.status,
            kept_headers(upstream.headers, self.redactor.headers),
            time.monotonic() - sent,
        )

        recorded = False

        def record() -> None:  # before the client sees the end: it then finds the rule there
            nonlocal recorded
            # Once: a client that leaves just after the upstream's end (the openai SDK closes
            # right after `[DONE]`) makes ending the answer fail after it was recorded, and
            # the drain for a client gone would record the same exchange again.
            if not recorded:
                recorded = True
                self._record(exchange, capture, api, parsed_body, secrets)

        try:
            response = await self._relay(exchange, upstream, capture, sent, record)
        except (asyncio.CancelledError, ConnectionError):
            # The client left (the openai SDK does, right after `[DONE]`): the upstream's
            # answer is read to its end all the same, and recorded; the task closes it.
            self._drain_later(upstream, capture, sent, record)
            raise
        except BaseException:
            upstream.close()
            raise
        upstream.release()
        return response

    def _drain_later(
        self, upstream: aiohttp.ClientResponse, capture: Capture, sent: float, record: Callable[[], None]
    ) -> None:
        async def drain() -> None:
            try:
                async for data in upstream.content.iter_any():
                    capture.reads.append((data, time.monotonic() - sent))
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
                capture.cut = cut_kind(exc)
            finally:
                upstream.close()
            record()

        task = asyncio.get_running_loop().create_task(drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def _relay(
        self,
        exchange: Exchange,
        upstream: aiohttp.ClientResponse,
        capture: Capture,
        sent: float,
        record: Callable[[], None],
    ) -> web.StreamResponse:
        """Send the upstream's answer on as it comes, each read as one write, noting its time;
        `record` it once it is over, unless the client left first (not the upstream's doing)."""
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if passed_on(name) and name.lower() != "content-encoding":  # inflated: plain bytes follow
                response.headers.add(name, value)
        if upstream.content_length is not None and "content-encoding" not in upstream.headers:
            response.content_length = upstream.content_length
        exchange.headers_sent(response.headers, upstream.status)
        framer = Framer(ndjson=capture.ndjson) if capture.streamed else None
        try:
            await response.prepare(exchange.request)
            try:
                async for data in upstream.content.iter_any():
                    at = time.monotonic() - sent
                    capture.reads.append((data, at))
                    check_open(exchange.request)
                    exchange.wrote(len(data))
                    await response.write(data)
                    if framer is not None:
                        exchange.frames(self._frame(capture, e.frame) for e in framer.feed(data, at))
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
                if isinstance(exc, ConnectionResetError) and client_gone(exchange.request):
                    raise
                capture.cut = cut_kind(exc)
                what = f"the upstream {'reset' if capture.cut == 'reset' else 'closed'} the stream"
                exchange.finish("fault", f"{what} after {capture.received} bytes: passed on to the client")
                record()
                cut(exchange.request, capture.cut)
                return response
            record()
            exchange.finish("completed")
            await response.write_eof()
        except (asyncio.CancelledError, ConnectionError) as exc:
            exchange.cut_short(exc, f"after {capture.received} bytes (the upstream's answer is recorded all the same)")
            raise
        return response

    @staticmethod
    def _frame(capture: Capture, data: bytes) -> Frame:
        """An event passed on, as the journal counts it: with output or not, as a replay of
        the recording will count it (`recorded_events`)."""
        return Frame(data, content=frame_of(capture.api, data).content)

    def _cut_before_headers(
        self, exchange: Exchange, kind: Cut, api: str | None, body: Any, secrets: Sequence[str]
    ) -> web.StreamResponse:
        """The upstream took the request and broke the connection before answering: the client
        gets the same, and the recording says so (a `reset`/`empty_response` before the headers)."""
        from sparring.scenario.builders import reply  # an answer whose fault strikes before any content

        exchange.finish("fault", f"the upstream {'reset' if kind == 'reset' else 'closed'} before answering")
        cut(exchange.request, kind)
        fault = "reset" if kind == "reset" else "empty_response"
        self._add(Rule(replies=(reply(fault=fault),), match=self._match(exchange, api, body, secrets)))
        return web.Response()  # never sent: the connection is gone

    def _record(self, exchange: Exchange, capture: Capture, api: str | None, body: Any, secrets: Sequence[str]) -> None:
        try:
            made = capture.reply(secrets)
            if made is None:
                exchange.note(f"status {capture.status}: passed on, not recorded (a recording is 2xx or an error)")
                return
            rule = Rule(replies=(made,), match=self._match(exchange, api, body, secrets))
        except ValueError as exc:  # beyond a scenario's limits (e.g. more events than a reply may have)
            log.warning(
                "sparring record: %s %s passed on but not recorded: %s", exchange.request.method, exchange.path, exc
            )
            exchange.note(f"passed on, not recorded: {exc}")
            return
        self._add(rule)

    def _match(self, exchange: Exchange, api: str | None, body: Any, secrets: Sequence[str]) -> Match:
        return match_of(
            self.match_on,
            api=api,
            path=exchange.path,
            body=self.redactor.without(body),
            request=request_of(exchange, body),
            secrets=secrets,
        )


class _Forward:
    """`Recorder.passthrough`'s answer: the Passthrough protocol, bound to one recorder."""

    def __init__(self, recorder: Recorder, forward_all: bool) -> None:
        self.recorder = recorder
        self.forward_all = forward_all

    async def __call__(self, exchange: Exchange, body: bytes) -> web.StreamResponse:
        return await self.recorder.forward(exchange, body)

    async def aclose(self) -> None:
        await self.recorder.aclose()
