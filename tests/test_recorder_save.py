"""Saving after every exchange: the file is remade from cached pieces, and must be exactly what
`dump_scenario` writes for the same rules, whatever the rules hold and however they grew."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparring import Fault, Match, Rule, Scenario, dump_scenario, error, load_scenario, reply, rule
from sparring.recorder.dumped import Pieces
from sparring.scenario.builders import recorded
from sparring.scenario.recording import RecordedEvent

SAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "record-sample.yaml"


def test_pieces_give_dump_scenarios_text_as_rules_grow() -> None:
    stream = recorded(
        "chat",
        events=[RecordedEvent.of(b"data: {}\n\n", 0.1), RecordedEvent.of(b"data: [DONE]\n\n", 0.2, ((3, 0.25),))],
        headers={"x-request-id": "req_1"},
    )
    whole = recorded("messages", body='{"type":"message"}\n', headers_at=0.05, fault=Fault("close", after_byte=5))
    steps: list[list[Rule]] = [
        [],
        [rule(error(429, body={"error": {"message": "slow down"}}), model="m", message="hi")],
    ]
    first = steps[-1][0]
    steps.append([Rule(replies=(*first.replies, stream), match=first.match)])  # the retry's answer joins it
    steps.append([*steps[-1], Rule(replies=(whole,))])  # no match but the endpoint
    steps.append([*steps[-1], Rule(replies=(reply(fault="reset"),), match=Match(message="x"), name="named")])
    steps.append([*steps[-1], Rule(replies=(error(500, body="multi\nline: text\n"),))])  # no head at all
    steps.append([*load_scenario(str(SAMPLE)).rules, *steps[-1]])
    pieces = Pieces()
    for rules in steps:
        assert pieces.text(rules) == dump_scenario(Scenario(rules=tuple(rules)), fmt="yaml")
    assert pieces.text(steps[-1]) == dump_scenario(Scenario(rules=tuple(steps[-1])), fmt="yaml")  # all cached


def test_the_docs_sample_saves_as_it_reads(tmp_path: Path) -> None:
    from sparring import Recorder

    recorder = Recorder("http://127.0.0.1:1")
    recorder.rules.extend(load_scenario(str(SAMPLE)).rules)
    out = tmp_path / "again.yaml"
    recorder.save(out)
    assert out.read_text() == SAMPLE.read_text()


def test_a_save_that_fails_is_reported_and_the_next_one_goes_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sparring import Recorder
    from sparring.recorder.saver import Saver

    recorder = Recorder("http://127.0.0.1:1")
    held = rule(error(429), model="m")
    recorder.rules.append(held)
    path = tmp_path / "later" / "recorded.yaml"
    saved: list[int] = []
    saver = Saver(recorder, path, on_saved=lambda _, count: saved.append(count))
    saver(held)  # the folder is missing: nothing saved, said on stderr
    saver.close()
    assert f"sparring record: cannot save {path}" in capsys.readouterr().err
    assert saved == []
    path.parent.mkdir()
    saver = Saver(recorder, path, on_saved=lambda _, count: saved.append(count))
    saver(held)
    saver.close()
    assert saved == [1]
    assert load_scenario(str(path)).rules == (held,)
