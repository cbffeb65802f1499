"""`collect_sync`: `collect` for sync streams (the openai SDK's `Stream`, a generator): the same
`Collected`, with events, times, the error (recorded, never raised) and whether the stream
was left closed; stopping early calls `close()`, which the fake server sees."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import openai
import pytest

from sparring import Collected, FakeLLM, Fault, Timing, reply
from sparring.checks import collect_sync

HI: list[dict[str, str]] = [{"role": "user", "content": "Hi"}]
PIECES = ["Hel", "lo", "!"]


def letters(log: list[str], text: str = "abc") -> Iterator[str]:
    try:
        yield from text
    finally:
        log.append("finally")


def test_records_events_times_and_a_clean_end() -> None:
    log: list[str] = []
    got = collect_sync(letters(log))
    assert isinstance(got, Collected)
    assert got.events == ["a", "b", "c"]
    assert got.ok
    assert log == ["finally"]
    assert len(got.times) == 3
    assert got.times == sorted(got.times)
    assert got.times[-1] <= got.duration


def test_limit_stops_early_and_closes_the_generator() -> None:
    log: list[str] = []
    got = collect_sync(letters(log), limit=1)
    assert (got.events, got.error, got.closed) == (["a"], None, True)
    assert log == ["finally"]


def test_the_sdks_sync_stream_is_collected_and_closed(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=PIECES, timing=Timing(gap=0.05)))
    with fake_llm.openai() as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)  # type: ignore[arg-type]
        got = collect_sync(stream, limit=2)
    assert [c.choices[0].delta.content for c in got.events] == ["", "Hel"]
    assert got.closed
    (entry,) = fake_llm.wait_until(lambda journal: journal[0].outcome is not None)
    assert entry.outcome == "client_disconnected"  # close() hung up at once: not streamed to its end


def test_the_streams_error_is_recorded_not_raised(fake_llm: FakeLLM) -> None:
    fake_llm.add(reply(chunks=PIECES, fault=Fault("reset", after_chunk=2)))
    with fake_llm.openai(max_retries=0) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)  # type: ignore[arg-type]
        got = collect_sync(stream)
    assert [c.choices[0].delta.content for c in got.events] == ["", "Hel"]
    # openai 3.x wraps the reset in APIConnectionError; 2.x lets httpx's ReadError through
    assert isinstance(got.error, (openai.APIConnectionError, httpx.HTTPError))
    assert got.closed


def test_a_yield_during_close_is_recorded_and_leaves_it_open() -> None:
    def stubborn() -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            yield "c"  # BUG: a yield in finally

    got = collect_sync(stubborn(), limit=1)
    assert got.events == ["a"]
    assert isinstance(got.error, RuntimeError)
    assert str(got.error) == "generator ignored GeneratorExit"
    assert not got.closed


def test_an_iterator_without_close_is_never_closed() -> None:
    got = collect_sync([1, 2, 3])
    assert got.events == [1, 2, 3]
    assert got.error is None
    assert not got.closed
    assert re.fullmatch(r"Collected\(3 events in \d\.\d{3} s: \[1, 2, 3\], no error, NOT closed\)", repr(got))


def test_an_exception_of_the_generator_is_recorded() -> None:
    def fails() -> Iterator[int]:
        yield 1
        raise ValueError("bad chunk")

    got = collect_sync(fails())
    assert got.events == [1]
    assert repr(got.error) == "ValueError('bad chunk')"
    assert got.closed


@pytest.mark.parametrize(("limit", "message"), [(-1, "got -1"), (True, "got True"), (1.5, "got 1.5")])
def test_bad_limits_are_refused(limit: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"limit must be an integer >= 0 or None, {message}")):
        collect_sync(letters([]), limit=limit)  # type: ignore[arg-type]
