"""The soak's load: the scenario every namespace gets, the plan of requests, and the clients
that send them (bench/soak.py runs it and checks the server after)."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import fuzz
from soak_targets import Target, rss_mib

JSON = {"Content-Type": "application/json"}
TEXT = "The quick brown fox jumps over the lazy dog again and again."
# Each model names one behaviour; every namespace gets them all, each `repeat: true`.
BEHAVIOURS: dict[str, dict[str, Any]] = {
    "clean": {"text": TEXT},
    "chunks": {"chunks": [f"c{i} " for i in range(40)]},
    "tools": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    "rate-limited": {"error": 429, "retry_after": 1},
    "server-error": {"error": 500},
    "overloaded": {"error": "overloaded", "retry_after_ms": 20},
    "close": {"text": TEXT, "fault": {"kind": "close", "after_chunk": 2}},
    "truncate": {"text": TEXT, "fault": "truncate"},
    "reset": {"text": TEXT, "fault": {"kind": "reset", "after_chunk": 3}},
    "reset-before": {"text": TEXT, "fault": "reset"},
    "empty": {"text": TEXT, "fault": "empty_response"},
    "garbage": {"text": TEXT, "fault": {"kind": "garbage", "after_byte": 40, "size": 16}},
    "garbage-before": {"text": TEXT, "fault": "garbage"},
    "hang": {"text": TEXT, "fault": {"kind": "hang", "duration": 0.02}},
    "stall": {
        "text": TEXT,
        "fault": {"kind": "stall", "after_chunk": 2, "duration": 0.03},
        "timing": {"keepalive": 0.005},
    },
    "error-event": {"text": TEXT, "fault": {"kind": "error_event", "error": "rate_limit"}},
    "malformed": {"text": TEXT, "fault": "malformed_chunk"},
    "no-done": {"text": TEXT, "fault": "no_done"},
    "one-byte": {"text": "Short one.", "wire": {"write_size": 1}},
    "torn": {"text": TEXT, "wire": {"write_size": [1, 7, 3], "line_ending": "crlf"}},
    "delayed": {"text": TEXT, "timing": {"headers_delay": 0.005, "first_chunk": 0.005, "gap": 0.001, "jitter": 0.001}},
    # For the clients that give up: slow to start, or slow to finish.
    "slow-headers": {"text": TEXT, "timing": {"headers_delay": 0.2}},
    "slow": {"chunks": [f"s{i} " for i in range(30)], "timing": {"gap": 0.01}},
}
SCENARIO = {"rules": [{"match": {"model": m}, "replies": [{**r, "repeat": True}]} for m, r in BEHAVIOURS.items()]}
PLAIN = [m for m in BEHAVIOURS if not m.startswith("slow")]

ENDPOINTS = {  # path, a body for a model
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
    "completions": "/v1/completions",
    "embeddings": "/v1/embeddings",
}
# How a request is sent, and how often: (client, weight).
CLIENTS = [
    ("read", 50),  # raw aiohttp, reads the whole body
    ("sdk", 8),  # the openai SDK, max_retries=0, so one request a call
    ("abort-before-headers", 6),
    ("abort-after-first-chunk", 6),
    ("abort-mid-event", 6),
    ("cancel", 6),
    ("malformed-json", 5),
    ("unknown-path", 5),
]


def body_for(endpoint: str, model: str, stream: bool) -> dict[str, Any]:
    words = {"model": model, "stream": stream}
    if endpoint == "chat":
        return {**words, "messages": [{"role": "user", "content": "soak"}]}
    if endpoint == "responses":
        return {**words, "input": "soak"}
    if endpoint == "messages":
        return {**words, "max_tokens": 64, "messages": [{"role": "user", "content": "soak"}]}
    if endpoint == "completions":
        return {**words, "prompt": "soak"}
    return {"model": model, "input": "soak"}  # embeddings: no stream


@dataclass
class Plan:
    """One request: where it goes, what it asks for, how the client behaves."""

    namespace: str
    client: str
    endpoint: str
    model: str
    stream: bool
    pause: float = 0.0  # cancel: how long after the headers


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)  # per namespace, requests fully written
    client_outcomes: Counter[str] = field(default_factory=Counter)
    internal_500s: list[str] = field(default_factory=list)
    dropped_entries: int = 0  # journals answered by DELETE /_sparring/namespace
    drops: int = 0
    dropped_by_namespace: list[int] = field(default_factory=list)
    dropped_journal: list[dict[str, Any]] = field(default_factory=list)
    misshaped: list[str] = field(default_factory=list)  # errors not in the API's shape
    rss_over_run: list[float] = field(default_factory=list)  # MiB at each tenth of the run


def schedule(rng: random.Random, requests: int, namespaces: list[str]) -> list[Plan]:
    clients, weights = zip(*CLIENTS, strict=True)
    plans = []
    for _ in range(requests):
        client = rng.choices(clients, weights)[0]
        endpoint = rng.choice(list(ENDPOINTS))
        model = rng.choice(PLAIN)
        if client in ("abort-before-headers",):
            model = "slow-headers"
        elif client in ("abort-after-first-chunk", "abort-mid-event", "cancel"):
            model, endpoint = "slow", rng.choice(["chat", "responses", "messages", "completions"])
        elif client == "sdk":
            endpoint = "chat"
        stream = endpoint != "embeddings" and (client != "read" or rng.random() < 0.8)
        plans.append(Plan(rng.choice(namespaces), client, endpoint, model, stream, rng.uniform(0.0, 0.03)))
    return plans


def http_request(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-soak\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class Soak:
    def __init__(self, target: Target, args: argparse.Namespace) -> None:
        self.target, self.args = target, args
        self.tally = Tally()
        self.session: aiohttp.ClientSession | None = None
        self.sdks: dict[str, Any] = {}

    def path(self, plan: Plan) -> str:
        return f"/ns/{plan.namespace}{ENDPOINTS[plan.endpoint]}"

    async def one(self, plan: Plan) -> None:
        """Send `plan`, count it as sent once its bytes are written, note how it went."""
        try:
            outcome = await getattr(self, "_" + plan.client.replace("-", "_"))(plan)
        except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError) as exc:
            outcome = f"error {type(exc).__name__}"
        self.tally.client_outcomes[f"{plan.client}: {outcome}"] += 1

    async def _read(self, plan: Plan) -> str:
        assert self.session is not None
        body = body_for(plan.endpoint, plan.model, plan.stream)
        self.tally.sent[plan.namespace] += 1
        async with self.session.post(self.target.url + self.path(plan), json=body) as response:
            data = await response.read()
            self.check_500(plan, response.status, data)
            return str(response.status)

    def check_shape(self, plan: Plan, path: str, status: int, data: bytes) -> None:
        """A rejected request gets an error in its API's shape."""
        wrong = fuzz.api_shaped(path, status, data) if status >= 400 else f"{status}, not an error"
        if wrong:
            self.tally.misshaped.append(f"{plan}: {wrong}")

    def check_500(self, plan: Plan, status: int, data: bytes) -> None:
        if status == 500 and b"internal error" in data:
            self.tally.internal_500s.append(f"{plan}: {data[:300]!r}")

    async def _malformed_json(self, plan: Plan) -> str:
        assert self.session is not None
        self.tally.sent[plan.namespace] += 1
        bad = random.Random(plan.pause).choice([b"{not json", b'{"model": ', b"[1, 2]", b"\xff\xfe", b"", b"null"])
        async with self.session.post(self.target.url + self.path(plan), data=bad, headers=JSON) as response:
            data = await response.read()
            self.check_500(plan, response.status, data)
            self.check_shape(plan, ENDPOINTS[plan.endpoint], response.status, data)
            return str(response.status)

    async def _unknown_path(self, plan: Plan) -> str:
        assert self.session is not None
        self.tally.sent[plan.namespace] += 1
        url = f"{self.target.url}/ns/{plan.namespace}/v1/no-such-route"
        async with self.session.post(url, json=body_for("chat", plan.model, False)) as response:
            data = await response.read()
            self.check_500(plan, response.status, data)
            self.check_shape(plan, "/v1/no-such-route", response.status, data)
            return str(response.status)

    async def _sdk(self, plan: Plan) -> str:
        import openai

        client = self.sdks.get(plan.namespace)
        if client is None:
            client = self.sdks[plan.namespace] = openai.AsyncOpenAI(
                base_url=f"{self.target.url}/ns/{plan.namespace}/v1", api_key="sk-soak", max_retries=0, timeout=20
            )
        self.tally.sent[plan.namespace] += 1
        messages: Any = [{"role": "user", "content": "soak"}]
        try:
            if plan.stream:
                stream = await client.chat.completions.create(model=plan.model, messages=messages, stream=True)
                async for _ in stream:
                    pass
            else:
                await client.chat.completions.create(model=plan.model, messages=messages)
        except openai.APIStatusError as exc:
            self.check_500(plan, exc.status_code, exc.response.content)
            return f"{type(exc).__name__}"
        except (openai.APIError, ValueError) as exc:  # connection errors, in-band errors, bad JSON or UTF-8
            return type(exc).__name__
        return "ok"

    async def _abort_before_headers(self, plan: Plan) -> str:
        """Write the whole request, then close before the (delayed) headers come."""
        body = json.dumps(body_for(plan.endpoint, plan.model, plan.stream)).encode()
        _, writer = await asyncio.open_connection("127.0.0.1", self.target.port)
        writer.write(http_request(self.target.port, self.path(plan), body))
        await writer.drain()
        self.tally.sent[plan.namespace] += 1
        writer.close()
        await writer.wait_closed()
        return "closed"

    async def _abort_after_first_chunk(self, plan: Plan) -> str:
        assert self.session is not None
        self.tally.sent[plan.namespace] += 1
        async with self.session.post(
            self.target.url + self.path(plan), json=body_for(plan.endpoint, plan.model, True)
        ) as r:
            await r.content.readline()
            r.close()  # drops the connection, not back to the pool
            return "closed"

    async def _abort_mid_event(self, plan: Plan) -> str:
        """Raw socket: read the headers and a few bytes into an event, then close."""
        body = json.dumps(body_for(plan.endpoint, plan.model, True)).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.target.port)
        try:
            writer.write(http_request(self.target.port, self.path(plan), body))
            await writer.drain()
            self.tally.sent[plan.namespace] += 1
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(int(plan.pause * 1000) + 20)  # into the first events
            return "closed"
        finally:
            writer.close()
            await writer.wait_closed()

    async def _cancel(self, plan: Plan) -> str:
        """Cancel the reading task some time after the headers came (so the request was sent)."""
        assert self.session is not None
        headers = asyncio.Event()

        async def read() -> None:
            assert self.session is not None
            url, body = self.target.url + self.path(plan), body_for(plan.endpoint, plan.model, True)
            async with self.session.post(url, json=body) as response:
                headers.set()
                await response.read()

        task = asyncio.create_task(read())
        waiting = asyncio.create_task(headers.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():  # failed before the headers: still sent, unless the connection failed
            self.tally.sent[plan.namespace] += 1
            task.result()
            return "finished first"
        self.tally.sent[plan.namespace] += 1
        done, _ = await asyncio.wait([task], timeout=plan.pause)
        if done:
            task.result()
            return "finished first"
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return "cancelled"

    async def drop(self, namespace: str) -> None:
        assert self.session is not None
        async with self.session.delete(f"{self.target.url}/ns/{namespace}/_sparring/namespace") as response:
            answer = await response.json()
        kept = len(answer["entries"]) + answer.get("journal_dropped", 0)  # entries past the cap are counted
        self.tally.dropped_entries += kept
        self.tally.dropped_by_namespace.append(kept)
        self.tally.dropped_journal += [
            {k: e.get(k) for k in ("outcome", "status", "detail")} for e in answer["entries"]
        ]
        self.tally.drops += 1
        # Scripted again, it comes back: until then its requests get the ended namespace's 404.
        url = f"{self.target.url}/ns/{namespace}/_sparring/scenario"
        async with self.session.put(url, data=json.dumps(SCENARIO), headers=JSON) as response:
            response.raise_for_status()

    async def run(self, plans: list[Plan], drop_at: dict[int, str]) -> None:
        queue: asyncio.Queue[tuple[int, Plan]] = asyncio.Queue()
        for item in enumerate(plans):
            queue.put_nowait(item)

        tenths = {len(plans) * k // 10 for k in range(1, 10)}

        async def worker() -> None:
            while not queue.empty():
                i, plan = queue.get_nowait()
                if i in drop_at:
                    await self.drop(drop_at[i])
                if i in tenths:  # is memory flat over a long run, or does it climb?
                    self.tally.rss_over_run.append(round(rss_mib(self.target.pid), 1))
                await self.one(plan)

        timeout = aiohttp.ClientTimeout(total=20)
        connector = aiohttp.TCPConnector(limit=self.args.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as self.session:
            await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
            for client in self.sdks.values():
                await client.close()
        self.session = None
