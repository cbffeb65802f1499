"""An external `sparring serve` (a CI service, another machine) as `fake_llm`'s backend.

Everything goes through the control API with a small blocking HTTP client (the standard
library's, one keep-alive connection per thread): scenarios travel as scenario-file JSON,
the journal comes back as `Entry` objects, and `wait_until` long-polls the journal.

`Entry.arrived` is placed on this process's monotonic clock (the server's clock is read at
connect time), so checks that compare it with local times work across machines too.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from sparring.errors import SparringError
from sparring.fake_server.context import NAMESPACE_HEADER
from sparring.fake_server.journal import Entry
from sparring.fake_server.security import TOKEN_HEADER
from sparring.scenario.dump import dump_scenario
from sparring.scenario.model import Fallback, Scenario

_TIMEOUT = 30.0  # seconds for one control request (a long poll asks for less)
_POLL = 10.0  # the longest single long poll; wait_until chains them up to its timeout
_CLOCK_SAMPLES = 3
_PAGE = 1_000  # journal entries per control request


class ExternalServerError(SparringError, RuntimeError):
    """The external server could not be reached, or refused a control request."""


class Remote:
    """A running `sparring serve` at `url` (`http://host:port`), driven over HTTP."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ExternalServerError(f"not an http(s) URL: {url!r} (expected e.g. http://127.0.0.1:8000)")
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):  # the base URL `sparring serve` prints: its root is what is meant
            path = path[: -len("/v1")]
        self._parts = parts
        self._prefix = path
        self._url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []  # every thread's, closed by close()
        self._scenarios: dict[str, Scenario] = {}  # what each namespace was sent: scripts only come from here
        self._fallbacks: dict[str, Fallback] = {}  # each namespace's starting fallback, which a reset restores
        self._lock = threading.Lock()
        self.version = "?"
        self.clock_offset = 0.0  # add to a server monotonic time to get this process's
        self.path_namespaces = False
        self._token = os.environ.get("SPARRING_TOKEN") or None  # a server started with --token needs it

    # -- connecting --------------------------------------------------------------------------

    def connect(self) -> Remote:
        """Check the server answers, read its version and clock, and whether it serves the API
        under `/ns/{namespace}/` (then each test gets a base URL of its own). Raises
        `ExternalServerError` with what went wrong."""
        best: tuple[float, float] | None = None  # (round trip, offset)
        for _ in range(_CLOCK_SAMPLES):
            sent = time.monotonic()
            health = self._call("GET", "/_sparring/health")
            got = time.monotonic()
            if health.get("status") != "ok":
                raise ExternalServerError(f"{self._url} is not a sparring server (health said {health!r})")
            self.version = str(health.get("version", "?"))
            if "now" not in health:
                raise ExternalServerError(
                    f"the sparring server at {self._url} is version {self.version}, too old to be driven by "
                    "this plugin (its control API lacks namespaces); upgrade it to this sparring's version"
                )
            sample = (got - sent, (sent + got) / 2 - float(health["now"]))
            best = sample if best is None or sample[0] < best[0] else best
        assert best is not None
        self.clock_offset = best[1]
        self.path_namespaces = self._serves_path_namespaces()
        return self

    def _serves_path_namespaces(self) -> bool:
        probe = f"probe-{secrets.token_hex(4)}"
        # The header too: where the path is not understood, the 404 is journaled in the probe's namespace.
        status = self._send("GET", f"/ns/{probe}/v1/models", None, {NAMESPACE_HEADER: probe}, _TIMEOUT)[0]
        self._call("DELETE", "/_sparring/namespace", namespace=probe)
        return status == 200

    def describe(self) -> str:
        per_test = "a base URL per test" if self.path_namespaces else "tests told apart by API key"
        return f"external, {self._url} (sparring {self.version}, {per_test})"

    # -- the Backend protocol ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url

    def api_root(self, namespace: str) -> str:
        return f"{self._url}/ns/{namespace}" if self.path_namespaces else self._url

    def create(self, namespace: str, *, fallback: Fallback, api_key: str) -> None:
        self._call("PUT", "/_sparring/namespace", {"fallback": fallback, "api_keys": [api_key]}, namespace=namespace)
        with self._lock:
            self._scenarios[namespace] = Scenario(fallback=fallback)
            self._fallbacks[namespace] = fallback

    def extend(self, namespace: str, scenario: Scenario) -> None:
        body = dump_scenario(scenario)  # before anything is sent: what cannot travel says so here
        self._call("POST", "/_sparring/scenario/append", body, namespace=namespace)
        with self._lock:
            self._scenarios[namespace] = self._scenarios.get(namespace, Scenario()) + scenario

    def reset(self, namespace: str) -> None:
        self._call("POST", "/_sparring/reset", namespace=namespace)
        with self._lock:
            self._scenarios[namespace] = Scenario(fallback=self._fallbacks.get(namespace, "miss"))

    def scenario(self, namespace: str) -> Scenario:
        with self._lock:
            return self._scenarios.get(namespace, Scenario())

    def journal(self, namespace: str) -> list[Entry]:
        return self._journal(namespace)[1]

    def wait_until(self, namespace: str, check: Callable[[list[Entry]], bool], timeout: float) -> list[Entry]:
        deadline = time.monotonic() + timeout
        version, entries = self._journal(namespace)
        while not check(entries):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            version, entries = self._journal(namespace, after=version, wait=min(remaining, _POLL))
        return entries

    def unused(self, namespace: str) -> list[str]:
        return [str(u) for u in self._call("GET", "/_sparring/unused", namespace=namespace)["unused"]]

    def drop(self, namespace: str) -> tuple[list[Entry], list[str]]:
        with self._lock:
            self._scenarios.pop(namespace, None)
            self._fallbacks.pop(namespace, None)
        final = self._call("DELETE", "/_sparring/namespace", namespace=namespace)
        return self._entries(final["entries"]), [str(u) for u in final["unused"]]

    # -- HTTP --------------------------------------------------------------------------------

    def _journal(self, namespace: str, *, after: int | None = None, wait: float = 0.0) -> tuple[int, list[Entry]]:
        """The whole journal, page by page. The version is the first page's: if entries changed
        while later pages were read, the next long poll returns at once and reads them again."""
        query = f"?limit={_PAGE}" + ("" if after is None else f"&after={after}&wait={wait:.3f}")
        data = self._call("GET", f"/_sparring/journal{query}", namespace=namespace, timeout=wait + _TIMEOUT)
        version, raw = int(data["version"]), list(data["entries"])
        while data.get("more"):
            query = f"?limit={_PAGE}&since_index={int(data['next_index'])}"
            data = self._call("GET", f"/_sparring/journal{query}", namespace=namespace)
            raw.extend(data["entries"])
        return version, self._entries(raw)

    def _entries(self, raw: list[dict[str, Any]]) -> list[Entry]:
        entries = [Entry.from_json(item) for item in raw]
        for entry in entries:
            entry.arrived += self.clock_offset
        return entries

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | str | None = None,
        *,
        namespace: str | None = None,
        timeout: float = _TIMEOUT,
    ) -> dict[str, Any]:
        headers = {NAMESPACE_HEADER: namespace} if namespace else {}
        if self._token is not None:
            headers[TOKEN_HEADER] = self._token
        if isinstance(body, dict):
            body = json.dumps(body)
        status, text = self._send(method, path, body, headers, timeout)
        if status >= 400:
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text[:500]
            raise ExternalServerError(f"the sparring server at {self._url} refused {method} {path}: {status} {message}")
        try:
            data = json.loads(text)
        except ValueError:
            raise ExternalServerError(
                f"{self._url} answered {method} {path} with something not JSON: is it a sparring server? {text[:200]!r}"
            ) from None
        if not isinstance(data, dict):
            raise ExternalServerError(f"{self._url} answered {method} {path} with {type(data).__name__}, not an object")
        return data

    def _send(
        self, method: str, path: str, body: str | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, str]:
        """One request on this thread's keep-alive connection; once more on a fresh connection
        if a kept one turns out closed (the server dropped it while idle)."""
        target = self._prefix + path
        payload = body.encode() if body is not None else None
        if payload is not None:
            headers = {**headers, "content-type": "application/json"}
        for attempt in (1, 2):
            conn, reused = self._connection()
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, target, body=payload, headers=headers)
                response = conn.getresponse()
                return response.status, response.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                self._local.conn = None
                if not reused or attempt == 2:
                    raise self._unreachable(exc) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                raise self._unreachable(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(self._parts.hostname or "", self._parts.port, timeout=_TIMEOUT)
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn, False

    def close(self) -> None:
        """Close the connections to the server (the server and its namespaces stay)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _unreachable(self, exc: BaseException) -> ExternalServerError:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return ExternalServerError(f"cannot reach the sparring server at {self._url}: {reason}")
