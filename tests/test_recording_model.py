"""Recorded replies are checked like every reply: a bad recording, from a file or the builder,
is a located error that says what is wrong."""

from __future__ import annotations

import pytest

from sparring import Fault, RecordedEvent, ScenarioError, parse_scenario, recorded, reply, rule
from sparring.scenario.recording import Recorded

EVENT = RecordedEvent(at=0.1, data='{"a":1}')


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RecordedEvent(raw="data: x\n\n", data="x"), "give either `raw`"),
        (lambda: RecordedEvent(event="a\nb", data="x"), "one line"),
        (lambda: RecordedEvent(data=5), "must be a string, got int 5"),  # type: ignore[arg-type]
        (lambda: RecordedEvent(data="x", at=-1), "must be a number >= 0"),
        (lambda: RecordedEvent(data="x", torn=((3,),)), "must be [byte offset, arrival time]"),  # type: ignore[arg-type]
        (lambda: RecordedEvent(data="x", at=0.5, torn=((3, 0.4),)), "times must not go back"),
        (lambda: RecordedEvent(data="x", torn=((3, 0.1), (2, 0.2))), "offsets must rise"),
        (lambda: recorded("chta", events=[EVENT]), "did you mean 'chat'"),
        (lambda: recorded("chat"), "either `events` (a stream) or a `body`"),
        (lambda: recorded("chat", events=[EVENT], body="{}"), "either `events` (a stream) or a `body`"),
        (lambda: recorded("chat", events=[EVENT], status=429), "errors are `error:` replies"),
        (lambda: recorded("chat", events=[EVENT], speed=0), "above 0"),
        (lambda: recorded("chat", events=[EVENT], speed=float("inf")), "above 0"),
        (lambda: recorded("chat", events=[EVENT], headers_at=float("nan")), "must be a number >= 0"),
        (lambda: recorded("chat", events=[EVENT], headers={"x-a": "1\r\n2"}), "line break"),
        (lambda: recorded("chat", events=[EVENT], times=0), "integer >= 1"),
    ],
)
def test_a_bad_recording_says_what_is_wrong(make: object, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        make()  # type: ignore[operator]
    assert message in str(caught.value)


def test_a_rule_answers_the_api_its_recording_is_of() -> None:
    made = rule(recorded("messages", events=[EVENT]), model="claude")
    assert made.match.endpoint == "messages"
    with pytest.raises(ScenarioError, match="replays a recording of 'messages'"):
        rule(recorded("messages", events=[EVENT]), endpoint="chat")
    with pytest.raises(ScenarioError, match=r"recordings of different APIs \(chat, messages\)"):
        rule(recorded("messages", events=[EVENT]), recorded("chat", events=[EVENT]))
    assert rule(reply("hi"), recorded("chat", events=[EVENT])).match.endpoint == "chat"


def test_every_mistake_of_a_recorded_reply_in_a_file_is_located() -> None:
    text = """\
replies:
- recorded: chat
  headers_at: 0.1
  events:
  - {at: 0.2, data: 'x', colour: red}
  - {at: -1, data: 'y'}
"""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="rec.yaml")
    problems = {(p.path, p.line) for p in caught.value.problems}
    assert ("replies[0].events[0].colour", 5) in problems
    assert ("replies[0].events[1].at", 6) in problems
    assert len(problems) == 2  # and no "needs events or a body" for the events it dropped


def test_a_file_and_the_builder_make_the_same_recording() -> None:
    text = """\
replies:
- recorded: chat
  headers_at: 0.1
  speed: 2
  events:
  - {at: 0.2, data: '{"a":1}', torn: [[4, 0.25]]}
  - {at: 0.3, raw: "data: [DONE]\\r\\n\\r\\n"}
  fault: {kind: close, after_chunk: 1}
"""
    (made,) = parse_scenario(text).rules[0].replies
    assert isinstance(made, Recorded)
    assert made == recorded(
        "chat",
        events=[
            RecordedEvent(at=0.2, data='{"a":1}', torn=((4, 0.25),)),
            RecordedEvent(at=0.3, raw="data: [DONE]\r\n\r\n"),
        ],
        headers_at=0.1,
        speed=2,
        fault=Fault("close", after_chunk=1),
    )
    assert [e.frame for e in made.events] == [b'data: {"a":1}\n\n', b"data: [DONE]\r\n\r\n"]
