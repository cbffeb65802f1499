"""Wire shaping: whatever the write sizes, coalescing and line endings, the bytes a client
reassembles are the scripted bytes, and the events it parses are the scripted events."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparring import FakeServer, Scenario, Wire, reply, tool_call

TEXT = "Grüße aus Köln 🎉 — naïve café, 東京. "
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
ENDINGS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[FakeServer, FakeServer]]:
    """Two servers seeded alike and asked in lockstep: their ids and padding stay identical, so
    one can play a reply shaped and the other the same reply plain."""
    with FakeServer(seed=99) as shaped, FakeServer(seed=99) as plain:
        yield shaped, plain


def fetch(server: FakeServer) -> bytes:
    with httpx.Client() as client, client.stream("POST", f"{server.base_url}/chat/completions", json=BODY) as r:
        return b"".join(r.iter_raw())


def same_second(body: bytes) -> bytes:
    """The two servers may answer in different seconds; `created` is the only field allowed to differ."""
    return re.sub(rb'"created":\d+', b'"created":0', body)


def sse_events(body: bytes) -> list[str]:
    """A spec-following SSE parser: lines end with CRLF, LF or CR; a blank line dispatches."""
    events, data = [], []
    for line in re.split(r"\r\n|\r|\n", body.decode("utf-8")):
        if line == "":
            if data:
                events.append("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


sizes = st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(write_size=st.none() | sizes, per_write=st.integers(1, 6), ending=st.sampled_from(list(ENDINGS)))
def test_shaping_never_changes_bytes_or_events(
    twins: tuple[FakeServer, FakeServer], write_size: list[int] | None, per_write: int, ending: str
) -> None:
    shaped, plain = twins
    wire = Wire(write_size=tuple(write_size) if write_size else None, events_per_write=per_write, line_ending=ending)  # type: ignore[arg-type]
    content = {"text": TEXT, "split": "char", "tool_calls": [tool_call("lookup", {"q": "größe"})]}
    shaped.set_scenario(Scenario.of(reply(wire=wire, **content)))  # type: ignore[arg-type]
    plain.set_scenario(Scenario.of(reply(**content)))  # type: ignore[arg-type]
    got, want = same_second(fetch(shaped)), same_second(fetch(plain))
    assert got == want.replace(b"\n", ENDINGS[ending])
    assert sse_events(got) == sse_events(want)
    (entry,) = shaped.journal()
    if write_size:
        expected = [write_size[i % len(write_size)] for i in range(len(entry.chunks))]
        assert all(c.nbytes <= size for c, size in zip(entry.chunks, expected, strict=True))
    shaped.reset()
    plain.reset()


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize("write_size", [1, 2, 3, 7])
def test_the_sdk_reads_torn_frames_and_any_line_ending(server: FakeServer, ending: str, write_size: int) -> None:
    """One byte per write splits every UTF-8 character and every CRLF; the SDK still gets the text."""
    server.set_scenario(Scenario.of(reply(TEXT, split="token", wire=Wire(write_size=write_size, line_ending=ending))))  # type: ignore[arg-type]
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test") as client:
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == TEXT
    (entry,) = server.journal()
    assert max(c.nbytes for c in entry.chunks) <= write_size


def test_one_byte_writes_really_split_multibyte_characters(server: FakeServer) -> None:
    """The journal shows one write per byte, so a 4-byte emoji went out in four writes."""
    server.set_scenario(Scenario.of(reply("🎉", wire=Wire(write_size=1))))
    body = fetch(server)
    (entry,) = server.journal()
    assert len(entry.chunks) == len(body)
    assert {c.nbytes for c in entry.chunks} == {1}


def test_events_per_write_coalesces(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(reply(chunks=["a", "b", "c", "d", "e"], wire=Wire(events_per_write=3))))
    body = fetch(server)
    (entry,) = server.journal()
    events = sse_events(body)
    assert len(events) == 8  # role, 5 contents, finish, [DONE]
    assert len(entry.chunks) == 3  # ceil(8 / 3) writes
    assert sum(c.nbytes for c in entry.chunks) == len(body)
