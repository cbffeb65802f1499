"""EventSnapshot: the exact v1 text of events, what it masks, and a user's round trip through
syrupy (`--snapshot-update`, a passing rerun, a readable diff when the stream changes)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import importlib
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletionChunk
from syrupy.filters import props

from sparring.checks.snapshot import EventSnapshot, mask

pytest_plugins = ["pytester"]


def render(data: Any, **options: Any) -> str:
    return EventSnapshot().serialize(data, **options)


def body(data: Any, **options: Any) -> list[str]:
    """The rendered lines after the header."""
    header, *lines = render(data, **options).splitlines()
    assert header == "# sparring events v1"
    return lines


# -- the client's own events: dataclasses and enums -------------------------------------------


class EventType(enum.Enum):
    TEXT_DELTA = "text_delta"
    MESSAGE_COMPLETE = "message_complete"


@dataclasses.dataclass
class TextDelta:
    content: str


@dataclasses.dataclass
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclasses.dataclass
class StreamEvent:
    type: EventType
    text_delta: TextDelta | None = None
    finish_reason: str | None = None
    usage: Usage | None = None


EVENTS = [
    StreamEvent(EventType.TEXT_DELTA, text_delta=TextDelta("Hel")),
    StreamEvent(EventType.TEXT_DELTA, text_delta=TextDelta("lo\n")),
    StreamEvent(EventType.MESSAGE_COMPLETE, finish_reason="stop", usage=Usage(3, 2, 5)),
]


def test_dataclass_events_render_one_line_each_in_field_order_with_defaults_left_out() -> None:
    assert render(EVENTS) == (
        "# sparring events v1\n"
        "StreamEvent(type=EventType.TEXT_DELTA, text_delta=TextDelta(content='Hel'))\n"
        "StreamEvent(type=EventType.TEXT_DELTA, text_delta=TextDelta(content='lo\\n'))\n"
        "StreamEvent(type=EventType.MESSAGE_COMPLETE, finish_reason='stop',"
        " usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5))\n"
    )


@dataclasses.dataclass
class Flags:
    count: int = 0
    label: str = "x"
    secret: str = dataclasses.field(default="hidden", repr=False)


def test_a_field_is_left_out_only_when_it_equals_its_default_with_the_same_type() -> None:
    assert body([Flags(), Flags(count=False, label="y"), Flags(count=1, secret="shown?")]) == [
        "Flags()",
        "Flags(count=False, label='y')",
        "Flags(count=1)",  # repr=False keeps a field out, as in the dataclass's own repr
    ]


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 2


class Point(NamedTuple):
    x: int
    y: float


def test_plain_values_render_stably() -> None:
    data = {
        "z": [1, 2.0000001, 1 / 3, (3,), (), None, True],
        "a": b"\x00raw",
        "m": {"b": Color.RED, "a": Level.HIGH},
        "s": {"b", "a"},
        "e": frozenset(),
        "p": Point(1, 0.5),
        "u": "héllo ✓",
    }
    assert body(data) == [
        "{'a': b'\\x00raw', 'e': frozenset(), 'm': {'a': Level.HIGH, 'b': Color.RED}, 'p': Point(x=1, y=0.5),"
        " 's': {'a', 'b'}, 'u': 'héllo ✓', 'z': [1, 2.0, 0.333333, (3,), (), None, True]}"
    ]


def test_a_single_object_is_one_event_and_an_empty_sequence_says_so() -> None:
    assert render(TextDelta("hi")) == "# sparring events v1\nTextDelta(content='hi')\n"
    assert render(Point(1, 2)) == "# sparring events v1\nPoint(x=1, y=2)\n"  # a namedtuple is not a sequence
    assert render([]) == "# sparring events v1\n(no events)\n"


def test_cycles_and_unknown_objects_render_without_run_specific_text() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert body([loop, object()]) == ["[1, ...]", "<object object at <address>>"]


# -- pydantic models and openai chunks ----------------------------------------------------------


class Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    kind: str
    note: str | None = None
    level: int = 1


def test_pydantic_models_show_set_non_none_fields_and_extras_sorted_by_name() -> None:
    extras = Model.model_validate({"kind": "b", "note": None, "level": 1, "zeta": [1], "beta": {"k": 0.25}})
    assert body([Model(kind="a"), extras]) == [
        "Model(kind='a')",
        "Model(beta={'k': 0.25}, kind='b', level=1, zeta=[1])",
    ]


CHUNK = {
    "id": "chatcmpl-Bx7f2kQ9pLmN3vR8sT1uW4yZ6aC",
    "object": "chat.completion.chunk",
    "created": 1754000000,
    "model": "gpt-4o",
    "service_tier": "default",
    "system_fingerprint": "fp_07871e2ad8",
    "choices": [
        {
            "index": 0,
            "delta": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_Yq3mK8vN2pL5xR7tW9zB1cD4",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": None,
        }
    ],
    "obfuscation": "Xy7",
}


def test_an_openai_chunk_renders_without_nones_and_with_every_volatile_value_masked() -> None:
    assert body(ChatCompletionChunk.model_validate(CHUNK)) == [
        "ChatCompletionChunk(choices=[Choice(delta=ChoiceDelta(role='assistant', tool_calls=[ChoiceDeltaToolCall("
        "function=ChoiceDeltaToolCallFunction(arguments='', name='get_weather'), id=<id>, index=0, type='function')]),"
        " index=0)], created=<created>, id=<id>, model='gpt-4o', obfuscation=<obfuscation>,"
        " object='chat.completion.chunk', service_tier='default', system_fingerprint=<system_fingerprint>)"
    ]


def test_repeated_runs_are_byte_identical_though_ids_and_times_differ() -> None:
    other = {**CHUNK, "id": "chatcmpl-Zz9", "created": 1754000099, "system_fingerprint": "fp_1", "obfuscation": "q"}
    first = render([ChatCompletionChunk.model_validate(CHUNK)])
    assert first == render([ChatCompletionChunk.model_validate(other)])
    assert "chatcmpl-" not in first
    assert "1754000000" not in first


# -- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"id": "anything"}, "{'id': <id>}"),
        ({"created": 1754000000}, "{'created': <created>}"),
        ({"created_at": 1754000000.5}, "{'created_at': <created_at>}"),
        ({"system_fingerprint": "fp_07871e2ad8"}, "{'system_fingerprint': <system_fingerprint>}"),
        ({"obfuscation": "Xy7"}, "{'obfuscation': <obfuscation>}"),
        ({"timestamp": 12.5}, "{'timestamp': <timestamp>}"),
        ({"times": [0.1, 0.2]}, "{'times': <times>}"),
        ({"elapsed": 0.3}, "{'elapsed': <elapsed>}"),
        ({"ref": "chatcmpl-Bx7f2kQ9pLmN3vR8"}, "{'ref': <id>}"),
        ({"ref": "call_Yq3mK8vN2pL5xR7t"}, "{'ref': <id>}"),
        ({"ref": "resp_67ccd2bed1ec8190b14f"}, "{'ref': <id>}"),
        ({"ref": "msg_01XFDUDYJgAACzvnptvVoYEL"}, "{'ref': <id>}"),
        ({"ref": "toolu_01A09q90qw90lq917835"}, "{'ref': <id>}"),
        ({"ref": "req_0123456789abcdef"}, "{'ref': <id>}"),
        ({"msg": "failed (req_0123456789abcdef), retry"}, "{'msg': 'failed (<id>), retry'}"),
        ({"at": datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)}, "{'at': <datetime>}"),
        ({"key": uuid.UUID(int=7)}, "{'key': <UUID>}"),
        # Left alone: a missing id, short scripted ids, and words that merely contain a prefix.
        ({"id": None}, "{'id': None}"),
        ({"ref": "call_1"}, "{'ref': 'call_1'}"),
        ({"ref": "recall_abcdefgh1"}, "{'ref': 'recall_abcdefgh1'}"),
    ],
)
def test_volatile_values_are_masked_by_default(data: dict[str, Any], line: str) -> None:
    assert body(data) == [line]


def test_mask_hides_more_fields_dotted_paths_and_patterns() -> None:
    data = [
        {"trace_id": "t-1", "usage": {"total_tokens": 9}, "total_tokens": 9, "log": "run-42 ok"},
        {"log": "run-7"},
    ]
    matcher = mask("trace_id", "usage.total_tokens", patterns=[r"run-\d+"])
    assert body(data, matcher=matcher) == [
        "{'log': '<masked> ok', 'total_tokens': 9, 'trace_id': <trace_id>, 'usage': {'total_tokens': <total_tokens>}}",
        "{'log': <masked>}",
    ]


def test_exclude_and_include_filter_fields_as_in_syrupy() -> None:
    assert body(EVENTS[2], exclude=props("usage")) == [
        "StreamEvent(type=EventType.MESSAGE_COMPLETE, finish_reason='stop')"
    ]
    assert body({"a": 1, "b": 2}, include=props("b")) == ["{'b': 2}"]


class RawSnapshot(EventSnapshot):
    default_matchers = ()


def test_a_subclass_can_turn_the_default_masks_off() -> None:
    assert RawSnapshot().serialize({"id": "chatcmpl-Bx7f2kQ9pLmN3vR8"}).splitlines()[1:] == [
        "{'id': 'chatcmpl-Bx7f2kQ9pLmN3vR8'}"
    ]


# -- a collected stream: how it ended ----------------------------------------------------------


@dataclasses.dataclass
class Collected:
    events: list[Any]
    error: BaseException | None
    closed: bool


class Private(Exception):
    __module__ = "vendor._impl.errors"


def test_a_collected_stream_ends_with_its_outcome_and_whether_it_was_closed() -> None:
    # The SDK inspects the request's headers (3.60+), so it must be a real one of the HTTP
    # library this SDK major uses: httpx2 for openai 3.x, httpx for 2.x.
    http: Any = importlib.import_module("httpx2" if openai.__version__.startswith("3.") else "httpx")
    request = http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    error = openai.APIError("Connection reset (req_0123456789abcdef)", request=request, body=None)
    assert render(Collected(EVENTS[:1], error, closed=True)) == (
        "# sparring events v1\n"
        "StreamEvent(type=EventType.TEXT_DELTA, text_delta=TextDelta(content='Hel'))\n"
        "ended: raised openai.APIError('Connection reset (<id>)')\n"
        "closed: yes\n"
    )
    assert body(Collected([], None, closed=False)) == ["(no events)", "ended: completed", "closed: no"]
    assert body(Collected([], ValueError("bad", 2), closed=True))[1] == "ended: raised ValueError('bad', 2)"
    assert body(Collected([], Private(), closed=True))[1] == "ended: raised vendor.errors.Private()"


# -- as a user runs it: pytester ---------------------------------------------------------------

USER_TEST = """
import pytest
from sparring import reply
from sparring.checks.snapshot import EventSnapshot, sparring_snapshot as _sparring_snapshot

sparring_snapshot = pytest.fixture(_sparring_snapshot)  # as the plugin registers it

def stream(fake_llm):
    fake_llm.add(reply("Hello world"))
    messages = [{"role": "user", "content": "Hi"}]
    chunks = list(fake_llm.openai().chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    with open("ids.txt", "a") as ids:  # for the outer test: proof that the ids differ between runs
        ids.write(chunks[0].id + "\\n")
    return chunks

def test_chunks(fake_llm, snapshot):
    assert stream(fake_llm) == snapshot(extension_class=EventSnapshot)

def test_fixture(fake_llm, sparring_snapshot):
    assert stream(fake_llm) == sparring_snapshot
"""

TAIL = (
    "created=<created>, id=<id>, model='gpt-4o', obfuscation=<obfuscation>, object='chat.completion.chunk',"
    " service_tier='default', system_fingerprint=<system_fingerprint>)"
)


def chunk_line(choice: str) -> str:
    return f"ChatCompletionChunk(choices=[Choice({choice}, index=0)], {TAIL}"


SNAPSHOT = "\n".join(
    [
        "# sparring events v1",
        chunk_line("delta=ChoiceDelta(content='', role='assistant')"),
        chunk_line("delta=ChoiceDelta(content='Hello')"),
        chunk_line("delta=ChoiceDelta(content=' world')"),
        chunk_line("delta=ChoiceDelta(), finish_reason='stop'"),
        "",
    ]
)


def test_a_snapshot_of_real_sdk_chunks_is_written_rerun_and_diffed(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        # hypothesis's plugin imports hypothesis afresh at every in-process run's summary: 1.5 s a run
        "[pytest]\naddopts = -p no:cacheprovider -p no:hypothesispytest --strict-config --strict-markers\n"
        "asyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    test_file = pytester.makepyfile(test_stream=USER_TEST)

    pytester.runpytest("--snapshot-update").assert_outcomes(passed=2)
    written = Path(pytester.path, "__snapshots__", "test_stream")
    assert sorted(p.name for p in written.iterdir()) == ["test_chunks.txt", "test_fixture.txt"]
    for name in ("test_chunks.txt", "test_fixture.txt"):
        assert (written / name).read_text(encoding="utf-8") == SNAPSHOT

    pytester.runpytest().assert_outcomes(passed=2)
    ids = Path(pytester.path, "ids.txt").read_text(encoding="utf-8").split()
    assert len(ids) == len(set(ids)) == 4  # every request got a new id, masked away

    test_file.write_text(USER_TEST.replace("Hello world", "Hello there"), encoding="utf-8")
    result = pytester.runpytest("-vv", "-k", "test_chunks")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    before, after = (chunk_line(f"delta=ChoiceDelta(content={text!r})") for text in (" world", " there"))
    assert f"- {before}\n" in output
    assert f"+ {after}\n" in output
