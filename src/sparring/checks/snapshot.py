"""Syrupy snapshots of event sequences, as stable, readable text.

    def test_stream(snapshot):
        assert events == snapshot(extension_class=EventSnapshot)

Accepts a sequence of events, a single object, or a collected stream (anything with
`.events`, `.error` and `.closed`). Format v1, which the first line names:

    # sparring events v1
    StreamEvent(type=EventType.TEXT_DELTA, text_delta=TextDelta(content='Hel'))
    ChatCompletionChunk(choices=[Choice(delta=ChoiceDelta(content='lo'), index=0)], id=<id>, ...)
    ended: raised openai.APIError('Connection reset')
    closed: yes

One line per event and no indices, so inserting an event changes one line of the diff, not
all that follow. Objects render as `Class(field=value, ...)`: dataclasses in field order
without fields still at their default, pydantic models (`openai` chunks) with their fields
sorted and without unset or None ones, so neither a new optional field nor a new SDK release
rewrites every snapshot.
Dicts sort their keys, enums read `Class.NAME`, floats are rounded to 6 places.

Volatile values are masked (ids, `created`, fingerprints, `obfuscation`, times, datetimes,
memory addresses) so repeated runs are byte-identical; `mask()` masks more, in syrupy's
matcher style: `snapshot(extension_class=EventSnapshot, matcher=mask("trace_id"))`.

Why `SingleFileSnapshotExtension` and not amber: each assertion gets a file of its own named
after the test (`__snapshots__/test_x/test_stream.txt`) holding exactly the text above, no
quoting or indentation layer, so a review diff shows the test's name in the path and only the
event lines that changed, and two tests' snapshots never conflict in one shared file.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sparring._optional import require

require("syrupy", feature="sparring's snapshots (EventSnapshot, mask, sparring_snapshot)")
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode  # noqa: E402
from syrupy.matchers import compose_matchers  # noqa: E402

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.types import PropertyFilter, PropertyMatcher, PropertyPath, SerializableData

HEADER = "# sparring events v1"

#: Fields whose values are volatile in every provider's stream; masked as `<name>`.
VOLATILE_FIELDS = (
    "id",
    "created",
    "created_at",
    "system_fingerprint",
    "obfuscation",
    "timestamp",
    "timestamps",
    "times",
    "elapsed",
)
#: Provider ids (OpenAI chat, tool calls, Responses, Anthropic, request ids), wherever they appear in a
#: string. The random tail must be 8+ characters, so short scripted ids such as `call_1` stay visible.
ID_PATTERN = re.compile(r"(?<![\w-])(?:chatcmpl-|call_|resp_|msg_|toolu_|req_)[A-Za-z0-9]{8,}")
_ADDRESS = re.compile(r"\bat 0x[0-9A-Fa-f]+")


class Masked:
    """A masked value, rendered bare as `<label>` so it never reads as a real value."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


def mask(*fields: str, patterns: Iterable[str | re.Pattern[str]] = (), label: str = "masked") -> PropertyMatcher:
    """A syrupy matcher that hides volatile values from event snapshots.

    A field (attribute or dict key) named in `fields`, or a dotted path ending like one
    (`"usage.total_tokens"`), renders as `<name>`. A match of a `patterns` regex inside a
    string renders as `<label>`, and a string that matches whole renders as bare `<label>`.
    """
    names = [tuple(field.split(".")) for field in fields]
    regexes = [re.compile(p) for p in patterns]

    def matcher(*, data: SerializableData, path: PropertyPath) -> SerializableData:
        if data is not None and names and path:
            keys = tuple(str(key) for key, _ in path)
            if any(keys[-len(name) :] == name for name in names):
                return Masked(keys[-1])
        if isinstance(data, str) and not isinstance(data, enum.Enum):  # a str enum renders as `Class.NAME`
            for regex in regexes:
                if regex.fullmatch(data):
                    return Masked(label)
                data = regex.sub(f"<{label}>", data)
        return data

    return matcher


def _volatile_types(*, data: SerializableData, path: PropertyPath) -> SerializableData:
    return Masked(type(data).__name__) if isinstance(data, (datetime.datetime, uuid.UUID)) else data


DEFAULT_MATCHER = compose_matchers(mask(*VOLATILE_FIELDS), mask(patterns=[ID_PATTERN], label="id"), _volatile_types)


class EventSnapshot(SingleFileSnapshotExtension):
    """Snapshots event sequences as text, one event a line, volatile values masked.

    `matcher=`, `exclude=` and `include=` work as in syrupy; the matcher runs after the
    built-in masks (`default_matchers`; set it to `()` in a subclass to see raw values).
    """

    file_extension = "txt"
    _file_extension = "txt"  # syrupy 4 reads the private name
    _write_mode = WriteMode.TEXT
    default_matchers: tuple[PropertyMatcher, ...] = (DEFAULT_MATCHER,)  # a tuple: a bare function would bind

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> str:
        matchers = (*self.default_matchers, *([matcher] if matcher else []))
        return _Renderer(compose_matchers(*matchers), exclude, include).document(data)


def sparring_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Fixture body: syrupy's `snapshot`, storing event snapshots (`assert events == sparring_snapshot`)."""
    return snapshot.use_extension(EventSnapshot)


class _Renderer:
    def __init__(self, matcher: PropertyMatcher, exclude: PropertyFilter | None, include: PropertyFilter | None):
        self.matcher, self.exclude, self.include = matcher, exclude, include

    def document(self, data: Any) -> str:
        tail: list[str] = []
        if all(hasattr(data, name) for name in ("events", "error", "closed")) and not isinstance(data, Mapping):
            error = data.error
            ended = "completed" if error is None else "raised " + self.value(error, (("error", type(error)),))
            tail = [f"ended: {ended}", f"closed: {'yes' if data.closed else 'no'}"]
            data = data.events
        events = list(data) if isinstance(data, (list, tuple)) and not hasattr(data, "_fields") else [data]
        lines = [self.value(event, ((i, type(event)),)) for i, event in enumerate(events)]
        return "\n".join([HEADER, *(lines or ["(no events)"]), *tail]) + "\n"

    def value(self, data: Any, path: PropertyPath, seen: frozenset[int] = frozenset()) -> str:
        data = self.matcher(data=data, path=path)
        if isinstance(data, enum.Enum):  # before int and str: IntEnum and StrEnum are both
            return f"{type(data).__name__}.{data.name}"
        if isinstance(data, float):
            return repr(round(data, 6))
        if data is None or isinstance(data, (bool, int, str, bytes, bytearray, Masked)):
            return repr(data)
        if id(data) in seen:
            return "..."
        seen = seen | {id(data)}

        def each(items: Iterable[tuple[Any, Any]]) -> list[str]:
            return [self.value(v, (*path, (k, type(v))), seen) for k, v in items]

        if isinstance(data, BaseException):
            return f"{_exception_name(type(data))}({', '.join(each(enumerate(data.args)))})"
        fields = _fields(data)
        if fields is not None:
            kept = [(k, v) for k, v in fields if self._keep(k, path)]
            pairs = zip([k for k, _ in kept], each(kept), strict=True)
            return f"{type(data).__name__}({', '.join(f'{k}={v}' for k, v in pairs)})"
        if isinstance(data, Mapping):
            kept = [(k, data[k]) for k in sorted(data, key=str) if self._keep(k, path)]
            pairs = zip([k for k, _ in kept], each(kept), strict=True)
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in pairs) + "}"
        if isinstance(data, (list, tuple)):
            rendered = each(enumerate(data))
            if isinstance(data, list):
                return f"[{', '.join(rendered)}]"
            return f"({rendered[0]},)" if len(rendered) == 1 else f"({', '.join(rendered)})"
        if isinstance(data, (set, frozenset)):
            rendered = sorted(each(enumerate(data)))
            return f"{{{', '.join(rendered)}}}" if rendered else f"{type(data).__name__}()"
        return _ADDRESS.sub("at <address>", repr(data))  # no structure known: repr, minus what varies per run

    def _keep(self, prop: Any, path: PropertyPath) -> bool:
        if self.exclude is not None and self.exclude(prop=prop, path=path):
            return False
        return self.include is None or self.include(prop=prop, path=path)


def _fields(obj: Any) -> list[tuple[str, Any]] | None:
    """An object's fields worth showing, in declaration order; None if it has no known fields."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [
            (f.name, getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.repr and not _is_default(getattr(obj, f.name), f.default)
        ]
    # Pydantic models (2, then 1): set, non-None fields, extras included, sorted by name like JSON keys, so
    # a field the server sent stays put when an SDK release declares it (openai's `obfuscation` did).
    if isinstance(getattr(type(obj), "model_fields", None), dict) and hasattr(obj, "model_fields_set"):
        names = {*obj.model_fields_set, *(obj.model_extra or {})}
    elif isinstance(getattr(type(obj), "__fields__", None), dict) and hasattr(obj, "__fields_set__"):
        names = set(obj.__fields_set__)
    else:
        names = None
    if names is not None:
        return [(name, value) for name in sorted(names) if (value := getattr(obj, name, None)) is not None]
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return list(zip(obj._fields, obj, strict=True))
    return None


def _is_default(value: Any, default: Any) -> bool:
    # Same type first: 0 == False and 1 == 1.0 must not hide a field.
    return default is not dataclasses.MISSING and type(value) is type(default) and bool(value == default)


def _exception_name(cls: type[BaseException]) -> str:
    """`ValueError`, `openai.APIError`: builtins bare, private modules (`_exceptions`) left out."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    public = [part for part in cls.__module__.split(".") if not part.startswith("_")]
    return ".".join([*public, cls.__qualname__])
