"""The record of a response's writes to the socket, packed: a stream of one-byte writes makes
thousands of them, and a `Chunk` object each would cost some 90 bytes where 13 do (a double
for the time, four bytes for the size, one for the kind, in one buffer for the whole list)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

KINDS = ["event", "keepalive", "garbage"]  # a write's kind is kept as its place here


@dataclass(slots=True)
class Chunk:
    """One write to the socket: when (seconds after the request arrived), how many bytes, and
    what it carried: `event` bytes, a `keepalive` comment, or `garbage`."""

    at: float
    nbytes: int
    kind: str = "event"


_NARROW = struct.Struct("<dIB")  # at, nbytes, kind: sizes under 4 GiB, every real write
_WIDE = struct.Struct("<dqB")  # a record read from elsewhere with a size beyond that


class Writes(Sequence[Chunk]):
    """A list of `Chunk`s, kept as packed records in one buffer; equal to any sequence of equal
    chunks. `freeze()` trims the buffer to its length once nothing more is written."""

    __slots__ = ("_data", "_record")

    def __init__(self, chunks: Iterable[Chunk] = ()) -> None:
        self._data: bytearray | bytes = bytearray()
        self._record = _NARROW
        for chunk in chunks:
            self.append(chunk)

    def append(self, chunk: Chunk) -> None:
        self.add(chunk.at, chunk.nbytes, chunk.kind)

    def add(self, at: float, nbytes: int, kind: str) -> None:
        if kind not in KINDS:  # a kind read from elsewhere (a newer server's journal)
            if len(KINDS) >= 256:
                raise ValueError(f"too many kinds of write to keep another: {kind!r}")
            KINDS.append(kind)
        if not 0 <= nbytes < 2**32 and self._record is _NARROW:
            self._widen()
        if isinstance(self._data, bytes):
            self._data = bytearray(self._data)
        self._data += self._record.pack(at, nbytes, KINDS.index(kind))

    def _widen(self) -> None:
        records = list(self._records())
        self._record, self._data = _WIDE, bytearray()
        for at, nbytes, kind in records:
            self._data += _WIDE.pack(at, nbytes, kind)

    def _records(self) -> Iterator[tuple[float, int, int]]:
        # From a snapshot: an iterator over the growing buffer would lock its size.
        data = bytes(self._data) if isinstance(self._data, bytearray) else self._data
        return self._record.iter_unpack(data)

    def freeze(self) -> None:
        """Keep the records in a buffer of their exact size (a growing one has room to spare)."""
        self._data = bytes(self._data)

    def copy(self) -> Writes:
        twin = Writes()
        twin._record = self._record
        twin._data = self._data if isinstance(self._data, bytes) else self._data[:]
        return twin

    def __copy__(self) -> Writes:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> Writes:
        return self.copy()

    def __reduce__(self) -> tuple[type[Writes], tuple[list[Chunk]]]:
        return Writes, (list(self),)

    def total(self, kind: str | None = None) -> int:
        """The bytes written, of one kind or all."""
        if kind is None:
            return sum(n for _, n, _ in self._records())
        code = KINDS.index(kind)
        return sum(n for _, n, k in self._records() if k == code)

    def __len__(self) -> int:
        return len(self._data) // self._record.size

    @overload
    def __getitem__(self, index: int) -> Chunk: ...

    @overload
    def __getitem__(self, index: slice) -> list[Chunk]: ...

    def __getitem__(self, index: int | slice) -> Chunk | list[Chunk]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("write record index out of range")
        at, nbytes, kind = self._record.unpack_from(self._data, index * self._record.size)
        return Chunk(at, nbytes, KINDS[kind])

    def __iter__(self) -> Iterator[Chunk]:
        for at, nbytes, kind in self._records():
            yield Chunk(at, nbytes, KINDS[kind])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return repr(list(self))

    def to_json(self) -> list[dict[str, Any]]:
        return [{"at": at, "nbytes": nbytes, "kind": KINDS[kind]} for at, nbytes, kind in self._records()]
