"""Fuzz a running fake server: malformed HTTP, bad control payloads, random JSON bodies.

Run by bench/soak.py (`--fuzz N`). Checks that every answer to a bad API request is an error
in the API's own shape (OpenAI `{"error": {...}}`, Anthropic `{"type": "error", "error": {...}}`),
every bad control payload a 4xx with `{"error": {"message": ...}}`, nothing a 500 that says
"internal error", and that the server still answers afterwards. Tracebacks, fds and
connections are checked by the soak around it. Seeded: the same seed, the same inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import string
from collections import Counter
from typing import Any

import aiohttp

NS = "fuzz"
POST = b"POST /ns/fuzz-raw/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
# Raw bytes where an HTTP request should be. The server may answer 400 or close; never 500.
SOCKET_PAYLOADS: list[bytes] = [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"POST /ns/fuzz-raw/v1/chat/completions HTTP/9.9\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\x00" * 64,  # a TLS ClientHello's start
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # the HTTP/2 preface
    b"GET /ns/fuzz-raw/" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /ns/fuzz-raw/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n",
    b"GET /ns/fuzz-raw/ HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(500)) + b"\r\n",
    POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    POST + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a"',
    POST + b'Content-Length: 100\r\n\r\n{"model":',
    POST + b"Content-Length: -1\r\n\r\n",
    POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    POST + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    POST + b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"GET /ns/fuzz-raw/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /ns/fuzz-raw/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    b"GET /ns/fuzz-raw/ HTTP/1.1\nHost: x\n\n",
    b"",
]
# Control-API bodies that are not a scenario; each must be a 4xx with a JSON error.
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
CONTROL_BODIES: list[bytes] = [
    b"replies: [\n",
    b"? ",
    b"!!!!",
    b"<<: ",
    b"? replies:",
    b"replies: 5",
    b"[]",
    b"null",
    b"just text",
    b'{"replies": [{"text": 5}]}',
    b"replies:\n  - {text: !!float abc}\n",
    b"replies:\n  - {text: !!python/object/apply:os.system [echo pwned]}\n",
    b"a: &a [*a]\n",
    b"replies: " + b"[" * 5000 + b"]" * 5000,
    b"replies:\n  - {text: hi, times: " + b"9" * 5000 + b"}\n",
    b"\xff\xfe\x00r\x00e",
    b"{1: 2}",
    LAUGHS.encode(),
]
# Large but well-formed: a 2xx or a 4xx, whichever the server's limits say; never a 5xx.
LARGE_BODIES: list[bytes] = [
    b"replies:\n  - text: " + b"x" * 3_000_000 + b"\n",
    b"replies:\n" + b"  - {text: hi}\n" * 20_000,
]
# Scenarios a loader may accept: if it does, every request must still be answered without an
# internal error (the issue lists these as accepted, then a 500 with a traceback).
SUSPECT_SCENARIOS: list[str] = [
    "rules: [{match: {message: 5}, replies: [{text: hi, repeat: true}]}]",
    "rules: [{match: {headers: x-a}, replies: [{text: hi, repeat: true}]}]",
    "rules: [{match: {headers: {1: 2}}, replies: [{text: hi, repeat: true}]}]",
    "replies: [{text: hi, repeat: true, rate_limits: {reset_requests: .inf}}]",
    "replies: [{text: hi, repeat: true, timing: {distribution: lognormal, sigma: 1000, gap: 0.001}}]",
    "replies: [{error: 500, body: 5, repeat: true}]",
    "replies: [{text: hi there, repeat: true, fault: {kind: close, after_chunk: 1.5}}]",
    "replies: [{text: hi, repeat: true, timing: {keepalive: .nan}}]",
    "replies: [{error: 429, retry_after: [1, 2], repeat: true}]",
    "replies: [{error: 429, retry_after: 1e300, retry_after_format: date, repeat: true}]",
    'replies: [{text: hi, repeat: true, headers: {x-a: "a\\r\\nb: c"}}]',
    "replies: [{text: hi, repeat: true, chunks: abc}]",
]
ENDPOINTS = ["/v1/chat/completions", "/v1/responses", "/v1/messages", "/v1/completions", "/v1/embeddings"]
KEYS = ["model", "messages", "stream", "input", "prompt", "max_tokens", "tools", "role", "content", "n", "system"]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**63, 1e308, -0.0, 3.5, 10**30])
    if kind in (3, 4):
        return "".join(rng.choice(string.printable + "é\u2028\U0001f600\x00") for _ in range(rng.randrange(12)))
    if kind in (5, 6):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def random_body(rng: random.Random, endpoint: str) -> Any:
    """A body close enough to valid to get past the first checks, often."""
    body: dict[str, Any] = {"model": rng.choice(["gpt-4o", 5, None, "", "x" * 300])}
    if "messages" in endpoint or "chat" in endpoint:
        body["messages"] = rng.choice(
            [[{"role": "user", "content": "hi"}], [random_json(rng)], random_json(rng), [{"role": random_json(rng)}]]
        )
    else:
        body[rng.choice(["input", "prompt"])] = random_json(rng)
    for _ in range(rng.randrange(3)):
        body[rng.choice(KEYS)] = random_json(rng)
    if "messages" in endpoint and rng.random() < 0.7:
        body["max_tokens"] = rng.choice([16, -1, "16", None])
    return rng.choice([body, body, body, random_json(rng)])


def api_shaped(endpoint: str, status: int, data: bytes) -> str | None:
    """None when `data` is an error in the endpoint's API shape, else what is wrong."""
    try:
        body = json.loads(data)
    except ValueError:
        return f"{status} not JSON: {data[:200]!r}"
    if endpoint.endswith("/messages"):
        ok = isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)
    else:
        ok = isinstance(body, dict) and isinstance(body.get("error"), dict)
    if not ok or not isinstance(body["error"].get("message"), str):
        return f"{status} not in the API's error shape: {data[:200]!r}"
    if status >= 500 and "internal error" in body["error"]["message"]:
        return f"{status} internal error: {data[:400]!r}"
    return None


async def socket_case(host: str, port: int, payload: bytes) -> str:
    """Send `payload`, read what comes back for at most 1 s, close: the status line, or how it ended."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        if payload.endswith((b'{"model":', b'{"a"')):
            writer.write_eof()  # a truncated body: the client goes away
        line = await asyncio.wait_for(reader.readline(), 1.0)
        return line.decode("latin-1").strip()[:40] or "closed"
    except (TimeoutError, asyncio.TimeoutError):
        return "no answer in 1 s"
    except ConnectionError as exc:
        return type(exc).__name__
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def fuzz(url: str, rng: random.Random, rounds: int, *, large: bool = True) -> dict[str, Any]:
    """The three kinds of fuzzing, then a health check; figures and failures. `large`: also
    load the large control bodies (seconds of parsing on the server)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    failures: list[str] = []
    sockets: Counter[str] = Counter()
    unanswered: list[str] = []  # payloads the server closed on, or kept waiting: not failures
    for payload in SOCKET_PAYLOADS:
        answer = await socket_case(host, int(port), payload)
        sockets[answer.split(" ")[1] if answer.startswith("HTTP/") else answer] += 1
        if not answer.startswith("HTTP/"):
            unanswered.append(f"{payload[:50]!r}: {answer}")
        if answer.startswith("HTTP/1.1 5"):
            failures.append(f"socket payload {payload[:60]!r} got {answer}")
    json_ct = {"Content-Type": "application/json"}
    yaml_ct = {"Content-Type": "application/yaml"}
    control: Counter[int] = Counter()
    api: Counter[int] = Counter()
    accepted = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for body in CONTROL_BODIES:
            async with session.put(f"{url}/ns/{NS}/_sparring/scenario", data=body, headers=yaml_ct) as r:
                data = await r.read()
                control[r.status] += 1
                if not 400 <= r.status < 500 or api_shaped("", r.status, data):
                    failures.append(f"control body {body[:60]!r}: {r.status} {data[:300]!r}")
        for body in LARGE_BODIES if large else []:
            big = io.BytesIO(body)  # aiohttp warns of a large bytes body, and warnings are errors in tests
            async with session.put(f"{url}/ns/{NS}/_sparring/scenario", data=big, headers=yaml_ct) as r:
                data = await r.read()
                control[r.status] += 1
                if r.status >= 500:
                    failures.append(f"control body {body[:60]!r} ({len(body):,} bytes): {r.status} {data[:300]!r}")
        for text in SUSPECT_SCENARIOS:
            ns = f"{NS}-suspect"
            async with session.put(f"{url}/ns/{ns}/_sparring/scenario", data=text, headers=yaml_ct) as r:
                data = await r.read()
                control[r.status] += 1
                if r.status != 200:
                    if not 400 <= r.status < 500 or api_shaped("", r.status, data):
                        failures.append(f"scenario {text!r}: {r.status} {data[:300]!r}")
                    continue
            accepted += 1
            for stream in (True, False):
                chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
                try:
                    async with session.post(f"{url}/ns/{ns}/v1/chat/completions", json=chat, headers={"x-a": "b"}) as r:
                        data = await r.read()
                except aiohttp.ClientError:
                    continue  # a fault the scenario asked for
                if r.status >= 500 and b"internal error" in data:
                    failures.append(f"accepted scenario {text!r} then answered {r.status}: {data[:300]!r}")
        for bad in (b"{", b"[]", b'{"fallback": 5}', b'{"api_keys": "k"}'):
            async with session.put(f"{url}/ns/{NS}-x/_sparring/namespace", data=bad, headers=json_ct) as r:
                control[r.status] += 1
                if not 400 <= r.status < 500:
                    failures.append(f"PUT namespace {bad!r}: {r.status}")
        async with session.get(f"{url}/ns/{NS}/_sparring/journal?after=abc&wait=1") as r:
            control[r.status] += 1
            if r.status != 400:
                failures.append(f"journal ?after=abc: {r.status}")

        ok = b'{"replies": [{"text": "fuzzed", "repeat": true}]}'
        async with session.put(f"{url}/ns/{NS}-json/_sparring/scenario", data=ok, headers=json_ct) as r:
            assert r.status == 200, await r.text()
        for _ in range(rounds):
            endpoint = rng.choice(ENDPOINTS)
            body = random_body(rng, endpoint)
            async with session.post(f"{url}/ns/{NS}-json{endpoint}", data=json.dumps(body), headers=json_ct) as r:
                data = await r.read()
                api[r.status] += 1
                if r.status >= 400 and (wrong := api_shaped(endpoint, r.status, data)):
                    failures.append(f"POST {endpoint} {json.dumps(body)[:200]}: {wrong}")
                elif r.status >= 500:
                    failures.append(f"POST {endpoint} {json.dumps(body)[:200]}: {r.status}")
        async with session.get(f"{url}/_sparring/health") as r:
            if r.status != 200:
                failures.append(f"after fuzzing, health answers {r.status}")
    return {
        "socket_answers": dict(sockets),
        "socket_unanswered": unanswered,
        "control_statuses": dict(sorted(control.items())),
        "suspect_scenarios_accepted": accepted,
        "api_statuses": dict(sorted(api.items())),
        "failures": failures[:50],
    }
