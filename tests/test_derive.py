"""A recording into its fault sweep: the names, the positions chosen from the stream, the keys
each derived scenario carries, files `sparring validate` accepts, and (once the server plays
recordings) what a client gets from each."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from sparring import (
    ErrorReply,
    FakeServer,
    Fault,
    Rule,
    Scenario,
    Wire,
    fault_sweep,
    import_transcript,
    load_scenario,
    parse_scenario,
)
from sparring.cli import main
from sparring.scenario.builders import recorded
from sparring.scenario.dump import dump_scenario
from sparring.scenario.recording import Recorded, RecordedEvent
from tests.inner_pytest import run_pytest

RECORD = Path(__file__).resolve().parents[1] / "docs" / "examples" / "record"
CHAT = import_transcript((RECORD / "chat.txt").read_bytes(), model="gpt-4o-mini")
MESSAGES = import_transcript((RECORD / "messages.txt").read_bytes())
RESPONSES = import_transcript((RECORD / "responses.txt").read_bytes())

# The chat transcript: a role chunk, three content chunks, the finish chunk, the usage chunk,
# [DONE]. Faults strike after the first content chunk (2 events), halfway (4), and just
# before [DONE] (6).
CHAT_SWEEP = [
    "rate-limit-then-ok",
    "server-error-then-ok",
    "slow-4x",
    "slow-first-chunk",
    *(f"{kind}-after-{k}" for k in (2, 4, 6) for kind in ("close", "reset", "truncate", "stall", "error-event")),
    "no-done",
    "torn-1",
    "crlf",
    "torn-crlf",
]


def the_recording(scenario: Scenario) -> Recorded:
    (reply,) = [r for rule in scenario.rules for r in rule.replies if isinstance(r, Recorded)]
    return reply


def test_the_chat_sweep() -> None:
    sweep = fault_sweep(CHAT)
    assert list(sweep) == CHAT_SWEEP
    assert len(sweep) == 23
    assert all(scenario.name == name for name, scenario in sweep.items())
    assert all(scenario.description for scenario in sweep.values())


def test_each_derived_scenario_is_the_recording_with_one_part_replaced() -> None:
    original = the_recording(CHAT)
    sweep = fault_sweep(CHAT)
    for name, scenario in sweep.items():
        assert [rule.match for rule in scenario.rules] == [rule.match for rule in CHAT.rules], name
        derived = the_recording(scenario)
        changed = {
            f.name for f in dataclasses.fields(Recorded) if getattr(derived, f.name) != getattr(original, f.name)
        }
        assert len(changed) == (0 if name.endswith("-then-ok") else 1), (name, changed)
    assert the_recording(sweep["close-after-2"]).fault == Fault("close", after_chunk=2)
    assert the_recording(sweep["reset-after-4"]).fault == Fault("reset", after_chunk=4)
    assert the_recording(sweep["truncate-after-6"]).fault == Fault("truncate", after_chunk=6)
    assert the_recording(sweep["stall-after-2"]).fault == Fault("stall", after_chunk=2)
    assert the_recording(sweep["error-event-after-4"]).fault == Fault("error_event", after_chunk=4)
    assert the_recording(sweep["no-done"]).fault == Fault("no_done")
    assert the_recording(sweep["torn-1"]).wire == Wire(write_size=1)
    assert the_recording(sweep["crlf"]).wire == Wire(line_ending="crlf")
    assert the_recording(sweep["slow-4x"]).speed == 0.25


def test_errors_go_before_the_real_stream() -> None:
    sweep = fault_sweep(CHAT, retry_after=0.2)
    original = the_recording(CHAT)
    assert sweep["rate-limit-then-ok"].rules[0].replies == (ErrorReply(preset="rate_limit", retry_after=0.2), original)
    assert sweep["server-error-then-ok"].rules[0].replies == (ErrorReply(preset="server_error"), original)
    # Anthropic's servers say they are overloaded (529), in band and out
    messages = fault_sweep(MESSAGES)
    assert messages["overloaded-then-ok"].rules[0].replies[0] == ErrorReply(preset="overloaded")
    assert the_recording(messages["error-event-after-4"]).fault == Fault(
        "error_event", after_chunk=4, error="overloaded"
    )


def test_a_long_first_chunk_moves_every_event_and_keeps_the_gaps() -> None:
    paced = import_transcript((RECORD / "chat.txt").read_bytes(), gap=0.1)
    late = the_recording(fault_sweep(paced, first_chunk_delay=3)["slow-first-chunk"])
    before = the_recording(paced)
    assert [e.at for e in late.events] == [round(e.at + 3, 6) for e in before.events]
    assert late.headers_at == before.headers_at  # the headers come on time; the answer does not


@pytest.mark.parametrize(
    ("scenario", "positions"),
    [(MESSAGES, [4, 5, 6]), (RESPONSES, [5, 7, 9])],
    ids=["messages", "responses"],
)
def test_positions_follow_the_stream(scenario: Scenario, positions: list[int]) -> None:
    """After the first content event, halfway, and before the end: Anthropic's closing pair
    (message_delta, message_stop), the Responses response.completed."""
    names = [n for n in fault_sweep(scenario) if n.startswith("close-after-")]
    assert names == [f"close-after-{k}" for k in positions]


def test_all_positions_and_your_own() -> None:
    every = fault_sweep(CHAT, positions="all")
    assert [n for n in every if n.startswith("reset-")] == [f"reset-after-{k}" for k in range(7)]
    mine = fault_sweep(CHAT, positions=[3, 1])
    assert [n for n in mine if n.startswith("truncate-")] == ["truncate-after-1", "truncate-after-3"]
    with pytest.raises(ValueError, match=r"0 to 6 here, got 7"):
        fault_sweep(CHAT, positions=[7])
    with pytest.raises(ValueError, match=r"'some', 'all' or counts"):
        fault_sweep(CHAT, positions="most")


def test_torn_writes_split_a_character_and_a_crlf() -> None:
    """Sizes chosen from the stream's bytes: the Anthropic answer has accents and an emoji."""
    sweep = fault_sweep(MESSAGES)
    frames = [e.frame for e in the_recording(MESSAGES).events]
    size = the_recording(sweep["torn-utf8"]).wire.write_size
    assert isinstance(size, int)
    assert size >= 5
    assert any(0x80 <= f[at] < 0xC0 for f in frames for at in range(size, len(f), size))
    crlf = the_recording(sweep["torn-crlf"]).wire
    assert crlf.line_ending == "crlf"
    assert isinstance(crlf.write_size, int)
    sent = [f.replace(b"\n", b"\r\n") for f in frames]
    assert any(f[at - 1 : at + 1] == b"\r\n" for f in sent for at in range(crlf.write_size, len(f), crlf.write_size))
    assert "torn-utf8" not in fault_sweep(CHAT)  # an ASCII stream has no character to split


def test_a_crlf_recording_gets_no_crlf_case() -> None:
    body = (RECORD / "chat.txt").read_bytes().split(b"\r\n\r\n", 1)[1].replace(b"\n", b"\r\n")
    sweep = fault_sweep(import_transcript(body))
    assert "crlf" not in sweep
    assert the_recording(sweep["torn-crlf"]).wire.line_ending == "lf"  # the recording's own CRLF


def test_a_stream_without_a_terminator_has_no_no_done() -> None:
    events = [
        RecordedEvent(data='{"type":"response.output_text.delta","delta":"Hi"}', event="response.output_text.delta")
    ]
    sweep = fault_sweep(recorded("responses", events=events * 3))
    assert "no-done" not in sweep
    assert [n for n in sweep if n.startswith("close-")] == ["close-after-1", "close-after-2"]


def test_a_whole_answer_is_cut_in_its_body() -> None:
    body = '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}'
    sweep = fault_sweep(recorded("chat", body=body))
    half = len(body) // 2
    assert list(sweep) == [
        "rate-limit-then-ok",
        "server-error-then-ok",
        "slow-4x",
        "slow-first-chunk",
        f"close-after-byte-{half}",
        f"reset-after-byte-{half}",
        f"stall-after-byte-{half}",
    ]
    assert the_recording(sweep[f"close-after-byte-{half}"]).fault == Fault("close", after_byte=half)


def test_several_recordings_are_broken_one_at_a_time() -> None:
    """An agent loop of two recorded turns: each derived scenario breaks one, keeps the other."""
    first, second = the_recording(CHAT), the_recording(MESSAGES)
    scenario = Scenario(rules=(Rule(replies=(first,)), Rule(replies=(second,))), name="agent")
    sweep = fault_sweep(scenario)
    assert len(sweep) == 23 + 24
    broken = sweep["rule-2-no-done"]
    assert broken.name == "agent: rule-2-no-done"
    assert broken.rules[0].replies == (first,)
    assert the_recording(Scenario(rules=broken.rules[1:])).fault == Fault("no_done")
    two_turns = Scenario(rules=(Rule(replies=(first, first)),))
    assert "rule-1-reply-2-torn-1" in fault_sweep(two_turns)
    assert fault_sweep(two_turns)["rule-1-reply-2-torn-1"].rules[0].replies[0] == first


def test_nothing_recorded_nothing_derived() -> None:
    with pytest.raises(ValueError, match=r"no recorded reply .*`sparring record`.*`sparring import`"):
        fault_sweep(load_scenario("plain-stream"))
    assert "slow-3.33x" in fault_sweep(CHAT, slow=0.3)
    with pytest.raises(ValueError, match=r"slow must be"):
        fault_sweep(CHAT, slow=2)


def test_every_derived_scenario_round_trips_its_file() -> None:
    for name, scenario in {**fault_sweep(CHAT), **fault_sweep(MESSAGES)}.items():
        again = parse_scenario(dump_scenario(scenario, fmt="yaml"), source=f"{name}.yaml")
        assert again.rules == scenario.rules, name


def test_derive_command_writes_files_validate_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recording = tmp_path / "chat.yaml"
    assert main(["import", str(RECORD / "chat.txt"), "--out", str(recording)]) == 0
    out = tmp_path / "faults"
    assert main(["derive", str(recording), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"23 scenarios from {recording} in {out}:" in printed
    assert "  close-after-2 " in printed
    files = sorted(out.glob("*.yaml"))
    assert sorted(p.stem for p in files) == sorted(CHAT_SWEEP)
    assert main(["validate", *map(str, files)]) == 0
    assert capsys.readouterr().out.count("ok: ") == 23
    assert main(["derive", str(recording), "--out", str(out / "some"), "--positions", "1,5"]) == 0
    assert (out / "some" / "error-event-after-5.yaml").is_file()


def test_derive_command_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "plain-stream", "--out", str(tmp_path)]) == 2
    assert "sparring derive: plain-stream: no recorded reply" in capsys.readouterr().err
    assert main(["derive", "no-such.yaml", "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["derive", "plain-stream", "--out", str(tmp_path), "--positions", "first"]) == 2
    assert "--positions takes some, all or counts" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# Served: these need the server to play recordings (branch `replay`).
QUESTION = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
CHAT_BODY = b"".join(e.frame for e in the_recording(CHAT).events)


async def read_raw(url: str) -> tuple[list[bytes], str | None]:
    """The body's pieces (chunked framing taken off) a socket reader gets, and why it ended
    early if it did: a raw socket, since an HTTP client may drop what came with the cut."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    reader, writer = await asyncio.open_connection(host, int(port))
    body = json.dumps(QUESTION).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
    data = b""
    failure = None
    try:
        while piece := await reader.read(65536):
            data += piece
    except ConnectionResetError:
        failure = "reset"
    writer.close()
    rest = data.split(b"\r\n\r\n", 1)[1]
    pieces: list[bytes] = []
    while True:  # chunked transfer: size line, bytes, CRLF; a 0 size ends the body
        line, _, rest = rest.partition(b"\r\n")
        size = int(line, 16) if line else -1
        if size == 0:
            return pieces, failure
        if size < 0 or len(rest) < size:
            pieces.append(rest[: max(size, 0)])
            return pieces, failure or "cut"
        pieces.append(rest[:size])
        rest = rest[size + 2 :]


SERVED = fault_sweep(CHAT, retry_after=0.1)


@pytest.mark.parametrize("name", [n for n in SERVED if n.startswith(("close-after", "reset-after", "truncate-after"))])
def test_a_cut_gives_the_raw_reader_the_events_before_it(name: str) -> None:
    k = int(name.rsplit("-", 1)[1])
    frames = [e.frame for e in the_recording(CHAT).events]
    with FakeServer(SERVED[name]) as server:
        reads, failure = asyncio.run(read_raw(f"{server.base_url}/chat/completions"))
        entry = server.journal()[0]
    body = b"".join(reads)
    assert failure is not None, "a cut stream must end in an error, not a clean end"
    if name.startswith("truncate"):
        assert body.startswith(b"".join(frames[: k + 1])[: len(b"".join(frames[:k])) + 1])
        assert len(body) < len(b"".join(frames[: k + 1]))
    else:
        assert body == b"".join(frames[:k])
    assert entry.outcome == "fault"


def test_torn_1_sends_every_byte_alone() -> None:
    with FakeServer(SERVED["torn-1"]) as server:
        reads, failure = asyncio.run(read_raw(f"{server.base_url}/chat/completions"))
        entry = server.journal()[0]
    assert failure is None
    assert b"".join(reads) == CHAT_BODY
    assert {chunk.nbytes for chunk in entry.chunks} == {1}


def test_the_sdk_retries_the_429_and_gets_the_real_stream() -> None:
    from openai import OpenAI

    with (
        FakeServer(SERVED["rate-limit-then-ok"]) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test") as client,
    ):
        chunks = list(client.chat.completions.create(**QUESTION))  # type: ignore[call-overload]
        journal = server.journal()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris."
    assert [entry.status for entry in journal] == [429, 200]


@pytest.mark.parametrize("name", ["error-event-after-2", "error-event-after-6"])
def test_an_in_band_error_reaches_the_sdk_after_the_real_events(name: str) -> None:
    import openai

    with (
        FakeServer(SERVED[name]) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        seen = []
        with pytest.raises(openai.APIError, match="server"):
            seen.extend(client.chat.completions.create(**QUESTION))  # type: ignore[call-overload]
    assert len(seen) == int(name.rsplit("-", 1)[1])


def test_anthropic_sdk_through_the_messages_sweep() -> None:
    import anthropic

    sweep = fault_sweep(MESSAGES, retry_after=0.1)
    question = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    with (
        FakeServer(sweep["overloaded-then-ok"]) as server,
        anthropic.Anthropic(base_url=server.url, api_key="sk-test") as client,
        client.messages.stream(**question) as stream,  # type: ignore[arg-type]
    ):
        assert stream.get_final_text() == "Bonjour à vous, ça va ? 👋"
    with (
        FakeServer(sweep["error-event-after-4"]) as server,
        anthropic.Anthropic(base_url=server.url, api_key="sk-test", max_retries=0) as client,
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(**question) as stream,  # type: ignore[arg-type]
    ):
        stream.get_final_text()
    assert caught.value.status_code == 200  # in band: the 200 was already sent
    with (
        FakeServer(sweep["torn-utf8"]) as server,
        anthropic.Anthropic(base_url=server.url, api_key="sk-test", max_retries=0) as client,
        client.messages.stream(**question) as stream,  # type: ignore[arg-type]
    ):
        assert stream.get_final_text() == "Bonjour à vous, ça va ? 👋"


def test_responses_sdk_through_torn_crlf() -> None:
    from openai import OpenAI

    with (
        FakeServer(fault_sweep(RESPONSES)["torn-crlf"]) as server,
        OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
        client.responses.stream(model="gpt-4.1-nano", input="Hi") as stream,
    ):
        assert stream.get_final_response().output_text == "Hi!"


# The how-to's examples (docs/how-to/record-and-replay.md), as it shows them.


def test_the_derive_output_the_docs_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "capital.yaml").write_bytes((RECORD / "capital.yaml").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["derive", "capital.yaml", "--out", "faults"]) == 0
    assert capsys.readouterr().out == (RECORD / "derive.txt").read_text(encoding="utf-8")


@pytest.mark.timeout(240)
def test_the_sweep_example_passes_every_case() -> None:
    """The how-to's test file, run by pytest as a user's would be: 1 replay and 23 cases."""
    result = run_pytest("-q", "docs/examples/record/test_fault_sweep.py", cwd=RECORD.parents[2], timeout=200)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "24 passed" in result.stdout
