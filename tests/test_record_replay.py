"""Record, then replay: what a client reads from a replay is what it read through the recording
proxy, for chat, Responses and Anthropic Messages.

The upstream (tests/recorder_upstreams.py) sends captured traffic in reads `GAP_S` (200 ms)
apart, one event torn across two reads. A raw httpx reader goes through `sparring record`'s proxy,
the recording is saved to a file, loaded, and served by a fresh server with no upstream; the
same reader then reads the replay. Checked: the bytes are identical; the replay's writes (its
journal) are the recorded reads, byte for byte; and each read arrives when it did through the
proxy, as tests/pacing.py judges it (scheduling noise of two runs is tens of milliseconds; a
replay at the wrong pace drifts 200 ms per read).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from sparring import FakeServer, Recorder, load_scenario
from tests.pacing import kept_pace
from tests.recorder_upstreams import (
    ANTHROPIC_HEADERS,
    CHAT_EVENTS,
    MESSAGES_EVENTS,
    RESPONSES_EVENTS,
    SSE_HEADERS,
    Script,
    Upstream,
    cut,
)

GAP_S = 0.2  # seconds between the upstream's reads

CASES: dict[str, tuple[str, dict[str, Any], Sequence[bytes], dict[str, str]]] = {
    "chat": (
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Say hello"}]},
        CHAT_EVENTS,
        SSE_HEADERS,
    ),
    "responses": (
        "/v1/responses",
        {"model": "gpt-4.1-nano", "stream": True, "input": "Say hi"},
        RESPONSES_EVENTS,
        SSE_HEADERS,
    ),
    "messages": (
        "/v1/messages",
        {
            "model": "claude-sonnet-4-5",
            "stream": True,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Say bonjour"}],
        },
        MESSAGES_EVENTS,
        ANTHROPIC_HEADERS,
    ),
}


def torn(events: Sequence[bytes]) -> list[bytes]:
    """The events in reads of one or two events each, the third event torn across two reads."""
    edges, at = [], 0
    for i, event in enumerate(events[:-1]):
        at += len(event)
        if i == 2:
            edges.append(at - len(event) // 2)
        if i % 2 == 1 or i == 2:
            edges.append(at)
    return cut(events, *sorted(set(edges)))


def read(base_url: str, path: str, body: dict[str, Any]) -> tuple[bytes, list[tuple[bytes, float]]]:
    """The body and each read of it with its arrival time, from the moment the request was sent."""
    reads: list[tuple[bytes, float]] = []
    headers = {"authorization": "Bearer sk-test-record-replay", "x-api-key": "sk-test-record-replay"}
    with httpx.Client(base_url=base_url.removesuffix("/v1"), timeout=30) as client:
        start = time.monotonic()
        with client.stream("POST", path, json=body, headers=headers) as response:
            assert response.status_code == 200
            for data in response.iter_raw():
                reads.append((data, time.monotonic() - start))
    return b"".join(data for data, _ in reads), reads


def arrivals(reads: Sequence[tuple[bytes, float]], edges: Sequence[int]) -> list[float]:
    """When the byte at each offset in `edges` had arrived."""
    times, seen, k = [], 0, 0
    for data, at in reads:
        seen += len(data)
        while k < len(edges) and edges[k] < seen:
            times.append(at)
            k += 1
    return times


@pytest.mark.parametrize("api", list(CASES))
def test_a_replay_gives_the_client_what_the_recording_proxy_gave_it(api: str, tmp_path: Path) -> None:
    path, body, events, headers = CASES[api]
    reads = torn(events)
    with Upstream(Script(reads=reads, headers=headers, gap=GAP_S)) as upstream:
        recorder = Recorder(upstream.url)
        with FakeServer(passthrough=recorder.passthrough(forward_all=True)) as proxy:
            recorded_body, recorded_reads = read(proxy.base_url, path, body)
            (proxied,) = proxy.journal()
    recorder.close()
    assert recorded_body == b"".join(reads)
    file = tmp_path / f"{api}.yaml"
    recorder.save(file)
    assert b"sk-test-record-replay" not in file.read_bytes()

    with FakeServer(load_scenario(file)) as replay:
        replayed_body, replayed_reads = read(replay.base_url, path, body)
        (entry,) = replay.journal()

    assert replayed_body == recorded_body
    assert [chunk.nbytes for chunk in entry.chunks] == [len(r) for r in reads]  # the recorded writes
    # Each upstream read's first byte reached the client when it did through the proxy.
    starts = [sum(len(r) for r in reads[:i]) for i in range(len(reads))]
    kept_pace(arrivals(recorded_reads, starts), arrivals(replayed_reads, starts), proxied, entry)
