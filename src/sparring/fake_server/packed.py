"""Journal entry fields kept packed: a server left running holds thousands of entries.

A parsed request body, a dict of headers or a list of event offsets is dozens of Python
objects (a small dict alone is over 600 bytes); the same data as one `bytes` object costs its
length plus 33. `Packed` is a dataclass field that keeps its value packed and gives readers
a fresh, unpacked value at each read: the same value, equal and of the same type, the
caller's to change. A value a packing cannot give back exactly (not JSON, a NUL in a header)
is kept as given.

Packing also means fewer objects that live long: the soak showed Python's allocator keeping
whole arenas for a few long-lived objects each, so entries made of many small objects cost
far more resident memory than their size.
"""

from __future__ import annotations

import array
import copy
import itertools
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class Packed(Generic[T]):
    """A dataclass field's value stored packed (`pack`) and read unpacked (`unpack`).

    Installed on the class after `@dataclass` made it (`install`), so the field keeps its plain
    type for readers and type checkers, and the generated `__init__`, `__eq__`, `__repr__` and
    `dataclasses.replace` go through it like through any attribute."""

    def __init__(self, pack: Callable[[Any], object], unpack: Callable[[Any], T]) -> None:
        self._pack, self._unpack = pack, unpack
        self._slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = "_packed_" + name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Packed[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Packed[T] | T:
        if obj is None:
            return self
        return self._unpack(obj.__dict__[self._slot])

    def __set__(self, obj: object, value: T) -> None:
        obj.__dict__[self._slot] = self._pack(value)


def install(cls: type, fields: Mapping[str, Packed[Any]]) -> None:
    """Put each `Packed` on `cls` in place of the dataclass field of its name."""
    for name, packed in fields.items():
        packed.__set_name__(cls, name)
        setattr(cls, name, packed)


class Kept:
    """A value kept as given, because packing it would not give it back; never
    changed in place, and read as a copy."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


# -- JSON values (request bodies) --------------------------------------------------------------


_JSON_TYPES = (dict, list, str, int, float, bool)


def pack_json(value: Any) -> object:
    """None as None, anything else as compact UTF-8 JSON if reading it back gives an equal value."""
    if value is None:
        return None
    try:
        packed = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError, RecursionError):
        return Kept(value)
    if type(value) in _JSON_TYPES and json.loads(packed) == value:  # no tuples, int keys, NaN
        return packed
    return Kept(value)


def unpack_json(stored: Any) -> Any:
    if stored is None:
        return None
    if isinstance(stored, Kept):
        return copy.deepcopy(stored.value)
    return json.loads(stored.decode("utf-8", "surrogatepass"))


# -- headers ----------------------------------------------------------------------------------


def pack_headers(headers: Mapping[str, str]) -> object:
    """`name NUL value NUL ...` in UTF-8, one object for the whole dict."""
    parts: list[str] = []
    for name, value in dict(headers).items():
        if not isinstance(name, str) or not isinstance(value, str) or "\0" in name or "\0" in value:
            return Kept(dict(headers))
        parts += (name, value)
    return "\0".join(parts).encode("utf-8", "surrogateescape") if parts else b""


def unpack_headers(stored: Any) -> dict[str, str]:
    if isinstance(stored, Kept):
        return dict(stored.value)
    if not stored:
        return {}
    parts = stored.decode("utf-8", "surrogateescape").split("\0")
    return dict(zip(parts[::2], parts[1::2], strict=True))


# -- lists of ints (event offsets, event numbers) ------------------------------------------------


def pack_ints(values: Any) -> object:
    """Differences between successive values in the narrowest signed array they fit: the
    offsets of a stream's events grow by a few hundred bytes each, so two bytes a value."""
    values = list(values)
    if not all(type(v) is int for v in values):
        return Kept(values)
    deltas = [b - a for a, b in zip([0, *values], values, strict=False)]
    for code in ("b", "h", "i", "q"):
        try:
            return code.encode() + array.array(code, deltas).tobytes()
        except OverflowError:
            continue
    return Kept(values)


def unpack_ints(stored: Any) -> list[int]:
    if isinstance(stored, (Kept, list)):  # a list: growing (`growing`)
        return list(stored.value if isinstance(stored, Kept) else stored)
    deltas = array.array(chr(stored[0]), stored[1:])
    return list(itertools.accumulate(deltas))


def growing(obj: object, name: str) -> list[int]:
    """The list of ints stored for `name`, unpacked once and kept as a plain list to append to
    while a stream goes (packing it again per append would cost the whole list each time);
    `settle` packs it when nothing more comes. Readers still get copies."""
    stored = obj.__dict__["_packed_" + name]
    if isinstance(stored, list):
        return stored
    plain = unpack_ints(stored)
    obj.__dict__["_packed_" + name] = plain
    return plain


def settle(obj: object, name: str) -> None:
    """Pack a list `growing` made plain."""
    stored = obj.__dict__["_packed_" + name]
    if isinstance(stored, list):
        obj.__dict__["_packed_" + name] = pack_ints(stored)


# -- strings of few kinds ------------------------------------------------------------------------


def pack_name(value: str | None) -> str | None:
    """Interned: labels like `answered_by` repeat across thousands of entries."""
    return sys.intern(value) if type(value) is str else value


def same(value: T) -> T:
    return value
