"""Speed: a scenario's `speed` and the server's `--speed` divide every scripted wait, and the
waits replies advise, so a client in any language meets minutes of misbehaviour in
milliseconds and still sees the same events and retries.

Bounds on time are generous and reasoned: a wait scripted at W seconds and divided by N must
take at least W/N (the server waited it) and far less than W (a bound of a few seconds, for a
loaded machine, stays far from both)."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from sparring import (
    FakeServer,
    Fault,
    Scenario,
    ScenarioError,
    ServerError,
    Timing,
    dump_scenario,
    error,
    parse_scenario,
    recorded,
    reply,
)
from sparring.fake_server.playback import Gaps
from sparring.fake_server.speed import scaled
from sparring.scenario.model import RecordedEvent
from tests.serve_process import ServeLog, serve_process

TEXT = "Paris is the capital of France"  # six word chunks: five gaps
EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
FAR_BELOW = 5.0  # seconds: every scaled wait here is well under it, every unscaled one well over


def sixty_seconds(speed: float = 1.0) -> Scenario:
    """60 s of scripted waits: two 429s advising 20 s each, a 10 s first token, 10 s of gaps."""
    return Scenario.of(
        error("rate_limit", retry_after=20, times=2),
        reply(TEXT, timing=Timing(first_chunk=10, gap=2)),
        speed=speed,
    )


def streamed(client: openai.OpenAI) -> tuple[str, int]:
    """The text a stream carries, and in how many chunks."""
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "capital?"}], stream=True
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    return "".join(pieces), len(pieces)


def test_sixty_seconds_of_waits_at_speed_1000_through_the_openai_sdk(server: FakeServer) -> None:
    server.set_scenario(sixty_seconds(speed=1000))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client:
        started = time.monotonic()
        text, chunks = streamed(client)
        wall = time.monotonic() - started
        print(f"\n60 s of scripted waits at speed 1000 through the openai SDK: {wall * 1000:.0f} ms wall")
        assert (text, chunks) == (TEXT, 6)  # the same events as at speed 1
        assert wall < FAR_BELOW * 4  # 60 s scripted; a fraction of a second expected
        first, second, answer = server.journal()
        assert [e.status for e in (first, second, answer)] == [429, 429, 200]
        assert [e.retry_count for e in (first, second, answer)] == [0, 1, 2]
        for entry in (first, second):  # the advice the client got, and journaled, is scaled
            assert entry.response_headers["retry-after"] == "0.02"
            assert entry.response_headers["x-ratelimit-reset-requests"] == "20ms"
            assert "retry-after-ms" not in entry.response_headers
        for before, after in ((first, second), (second, answer)):  # the client waited the scaled advice
            assert 0.02 * 0.9 <= after.arrived - before.arrived < FAR_BELOW
        assert answer.ended is not None
        assert 0.02 * 0.9 <= answer.ended < FAR_BELOW
        assert (answer.detail or "").startswith("speed 1000:")  # the journal says why it went fast


def test_the_server_speed_and_the_scenario_speed_multiply() -> None:
    with (
        FakeServer(sixty_seconds(speed=100), speed=10) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2) as client,
    ):
        assert streamed(client)[0] == TEXT
        first, _second, answer = server.journal()
    assert first.response_headers["retry-after"] == "0.02"  # 20 s / (10 * 100)
    assert answer.ended is not None
    assert answer.ended < FAR_BELOW


def test_the_anthropic_sdk_waits_the_scaled_retry_after(server: FakeServer) -> None:
    server.set_scenario(
        Scenario.of(error("rate_limit", retry_after=30), reply("Bonjour", timing=Timing(first_chunk=10)), speed=1000)
    )
    with anthropic.Anthropic(
        base_url=server.base_url.removesuffix("/v1"), api_key="sk-ant-test", max_retries=1
    ) as client:
        message = client.messages.create(
            model="claude-sparring-1", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].type == "text"
        assert message.content[0].text == "Bonjour"
        limited, answered = server.journal()
        assert limited.response_headers["retry-after"] == "0.03"
        assert 0.03 * 0.9 <= answered.arrived - limited.arrived < FAR_BELOW


@pytest.mark.parametrize(
    ("scripted", "headers"),
    [
        ({}, {"retry-after": "0.01", "x-ratelimit-reset-requests": "10ms"}),  # the preset's default 1 s
        ({"retry_after_ms": 20_000}, {"retry-after-ms": "200", "x-ratelimit-reset-requests": "200ms"}),
        ({"retry_after": 3, "retry_after_ms": 2500}, {"retry-after": "0.03", "retry-after-ms": "25"}),
        ({"retry_after": 200}, {"retry-after": "2"}),  # a whole number of seconds stays one
        ({"retry_after": "120"}, {"retry-after": "120"}),  # text goes out as written
        ({"headers": {"retry-after": "120"}}, {"retry-after": "120"}),  # and so do headers by hand
    ],
)
def test_retry_advice_is_scaled(server: FakeServer, scripted: dict[str, object], headers: dict[str, str]) -> None:
    server.set_scenario(Scenario.of(error("rate_limit", **scripted), speed=100))  # type: ignore[arg-type]
    with httpx.Client() as client:
        response = client.post(f"{server.base_url}/chat/completions", json=BODY)
    assert response.status_code == 429
    assert {name: response.headers.get(name) for name in headers} == headers


def test_a_retry_after_date_is_the_divided_wait_rounded_up_to_the_second(server: FakeServer) -> None:
    server.set_scenario(Scenario.of(error("unavailable", retry_after=30, retry_after_format="date"), speed=100))
    before = time.time()
    with httpx.Client() as client:
        response = client.post(f"{server.base_url}/chat/completions", json=BODY)
    when = parsedate_to_datetime(response.headers["retry-after"]).timestamp()
    assert before + 0.3 <= when <= time.time() + 1.3  # 0.3 s from now, up to the next second; not 30 s


def test_the_sdk_judges_the_divided_advice(server: FakeServer) -> None:
    """The openai SDK never retries a retry-after over 120 s; divided by 1000, 200 s is 0.2 s."""
    server.set_scenario(Scenario.of(error("rate_limit", retry_after=200), reply("Hi"), speed=1000))
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1) as client:
        assert streamed(client)[0] == "Hi"
        assert [e.status for e in server.journal()] == [429, 200]


def test_stalls_hangs_keepalives_and_recordings_are_scaled(server: FakeServer) -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    events = [
        RecordedEvent(at=at, data=json.dumps({**chunk, "choices": [{"index": 0, "delta": delta}]}))
        for at, delta in ((10.0, {"role": "assistant", "content": ""}), (20.0, {"content": "Hi"}))
    ]
    server.set_scenario(
        Scenario.of(
            reply(TEXT, fault=Fault("stall", after_chunk=2, duration=30)),
            reply(TEXT, timing=Timing(first_chunk=10, keepalive=2)),
            recorded("chat", events=[*events, RecordedEvent(at=30.0, data="[DONE]")], headers_at=5, speed=2),
            reply(TEXT, fault=Fault("hang", duration=30)),
            speed=1000,
        )
    )
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        assert streamed(client)[0] == TEXT  # through a 30 s stall
        assert streamed(client)[0] == TEXT  # after 10 s of keep-alives
        assert streamed(client)[0] == "Hi"  # a 30 s recording at its own speed 2, times 1000
        with pytest.raises(openai.APIConnectionError):  # a 30 s hang, then a FIN
            streamed(client)
        stalled, kept_alive, replayed, hung = server.journal()
        assert stalled.ended is not None
        assert 0.03 * 0.9 <= stalled.ended < FAR_BELOW
        assert [c.kind for c in kept_alive.chunks].count("keepalive") == 4  # one each 2 ms of the 10 ms
        assert replayed.ended is not None
        assert 30 / 2000 * 0.9 <= replayed.ended < FAR_BELOW
        assert hung.ended is not None
        assert 0.03 * 0.9 <= hung.ended < FAR_BELOW


def test_a_lognormal_timing_draws_the_same_gaps_divided() -> None:
    timing = Timing(first_chunk=4, gap=2, jitter=1, distribution="lognormal", sigma=0.7, seed=9, keepalive=3)
    fast = scaled(reply("x", timing=timing), 1000).timing
    assert fast.keepalive == pytest.approx(0.003)
    assert fast.first_chunk == pytest.approx(0.004)
    slow_gaps, fast_gaps = Gaps(timing), Gaps(fast)
    for _ in range(20):
        assert fast_gaps.gap() == pytest.approx(slow_gaps.gap() / 1000)


def test_speed_1_changes_nothing() -> None:
    answer = reply("x", timing=Timing(first_chunk=3))
    assert scaled(answer, 1) is answer


def test_sparring_serve_speed_plays_the_docs_example_1000_times_faster() -> None:
    """The command docs/cli.md shows: `sparring serve --speed 1000 docs/examples/slow-retries.yaml`."""
    log = ServeLog()
    with (
        serve_process("--speed", "1000", str(EXAMPLES / "slow-retries.yaml"), log=log) as (_, url, _),
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=2) as client,
    ):
        started = time.monotonic()
        text, chunks = streamed(client)
        wall = time.monotonic() - started
        entries = httpx.get(f"{url}/_sparring/journal").json()["entries"]
    assert (text, chunks) == (TEXT, 6)
    assert wall < FAR_BELOW * 4  # 60 s scripted, divided by 1000
    assert [e["status"] for e in entries] == [429, 429, 200]
    assert entries[0]["response_headers"]["retry-after"] == "0.02"
    assert entries[2]["detail"] == "speed 1000: scripted waits and retry advice divided by it"
    assert log.wait_for("serving").endswith("slow-retries.yaml at speed 1000")


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), 2e6, True, "fast"])
def test_a_scenario_speed_must_be_a_number_above_0_up_to_a_million(bad: object) -> None:
    with pytest.raises(ScenarioError, match="speed: must be a number above 0 and at most 1,000,000"):
        Scenario(speed=bad)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="at most 1,000,000"):
        Scenario.of(reply("x"), speed=bad)  # type: ignore[arg-type]


def test_a_server_speed_must_be_a_number_above_0_up_to_a_million() -> None:
    with pytest.raises(ServerError, match="FakeServer: speed must be a number above 0"):
        FakeServer(speed=0)


def test_a_file_speed_is_checked_where_it_is_written() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("replies:\n  - text: hi\nspeed: 1e7\n", source="fast.yaml")
    assert "fast.yaml:3: speed: must be a number above 0 and at most 1,000,000" in str(caught.value)
    with pytest.raises(ScenarioError, match="did you mean 'speed'"):
        parse_scenario("sped: 10\nreplies:\n  - text: hi\n")


def test_sparring_serve_refuses_a_bad_speed() -> None:
    with pytest.raises(RuntimeError, match="--speed must be a number above 0"), serve_process("--speed", "0"):
        pass


def test_speed_round_trips_through_a_file_and_adds_up() -> None:
    fast = Scenario.of(reply("x"), speed=250)
    assert parse_scenario(dump_scenario(fast)).speed == 250
    assert parse_scenario("speed: 0.5\nreplies:\n  - text: hi\n").speed == 0.5  # slower than scripted
    assert (Scenario() + fast).speed == 250
    assert (fast + Scenario.of(reply("y"), speed=3)).speed == 250
