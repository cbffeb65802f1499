"""The record of a response's writes to the socket, packed: a stream of one-byte writes makes
thousands of them, and a `Chunk` object each would cost some 90 bytes where 17 do."""

from __future__ import annotations

import array
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


class Writes(Sequence[Chunk]):
    """A list of `Chunk`s, kept as three packed arrays; equal to any sequence of equal chunks."""

    __slots__ = ("_at", "_kinds", "_nbytes")

    def __init__(self, chunks: Iterable[Chunk] = ()) -> None:
        self._at = array.array("d")
        self._nbytes = array.array("q")
        self._kinds = bytearray()
        for chunk in chunks:
            self.append(chunk)

    def append(self, chunk: Chunk) -> None:
        self.add(chunk.at, chunk.nbytes, chunk.kind)

    def add(self, at: float, nbytes: int, kind: str) -> None:
        if kind not in KINDS:  # a kind read from elsewhere (a newer server's journal)
            if len(KINDS) >= 256:
                raise ValueError(f"too many kinds of write to keep another: {kind!r}")
            KINDS.append(kind)
        self._at.append(at)
        self._nbytes.append(nbytes)
        self._kinds.append(KINDS.index(kind))

    def copy(self) -> Writes:
        twin = Writes()
        twin._at, twin._nbytes, twin._kinds = self._at[:], self._nbytes[:], self._kinds[:]
        return twin

    def total(self, kind: str | None = None) -> int:
        """The bytes written, of one kind or all."""
        if kind is None:
            return sum(self._nbytes)
        code = KINDS.index(kind)
        return sum(n for n, k in zip(self._nbytes, self._kinds, strict=True) if k == code)

    def __len__(self) -> int:
        return len(self._at)

    @overload
    def __getitem__(self, index: int) -> Chunk: ...

    @overload
    def __getitem__(self, index: slice) -> list[Chunk]: ...

    def __getitem__(self, index: int | slice) -> Chunk | list[Chunk]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Chunk(self._at[index], self._nbytes[index], KINDS[self._kinds[index]])

    def __iter__(self) -> Iterator[Chunk]:
        for at, nbytes, kind in zip(self._at, self._nbytes, self._kinds, strict=True):
            yield Chunk(at, nbytes, KINDS[kind])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return repr(list(self))

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"at": at, "nbytes": nbytes, "kind": KINDS[kind]}
            for at, nbytes, kind in zip(self._at, self._nbytes, self._kinds, strict=True)
        ]
