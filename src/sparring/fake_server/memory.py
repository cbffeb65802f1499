"""Memory a server hands back to the system after a burst, instead of keeping it.

Both measures are glibc's (Linux); elsewhere they do nothing.

- **Large buffers to mmap** (`serve` only). glibc raises its mmap threshold each time a large
  buffer is freed, so after a big journal read (a page of entries serialized into one string
  of megabytes) later large buffers come from the heap, which keeps their pages. Fixing the
  threshold sends them to mmap for good, and they go back to the system when freed. At
  512 KiB, not glibc's starting 128 KiB: asyncio reads a socket into a 256 KiB buffer, and
  that one, made and shrunk at every read, is better taken from the heap.
- **Trimming** (`serve` and `FakeServer`). glibc gives memory back on its own only from the
  top of its heap; a free chunk below a live one stays with the process. Python objects over
  512 bytes (dicts and lists that grew, bodies, buffers) live there, so a burst of requests
  leaves the heap full of holes. `malloc_trim(0)` gives back every free page, holes included:
  after the soak's 10,000 mixed requests and fuzz, `serve` held 75.5 MiB instead of 88.6. The server looks every
  `TRIM_EVERY` seconds and trims when it went quiet after serving, or when `TRIM_BATCH`
  journal entries were let go since the last trim (a server never quiet). Trimming changes no
  setting of the allocator, so `FakeServer` does it inside a test process too.

Only `serve` changes the allocator's settings, in a process of its own: `FakeServer` runs
inside a test process whose allocator is not sparring's to tune. Running `serve` under the C
library's allocator for every object (`PYTHONMALLOC=malloc`) as well was measured and left
out: with trimming, it saved 5 MiB at the end of the soak and cost 12-15 % more CPU a request
(bench/README.md, soak section).
"""

from __future__ import annotations

import ctypes
import functools
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the journal imports this module, and must not load aiohttp (or asyncio)
    import asyncio

    from aiohttp import web

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 512 * 1024  # buffers this large or larger: mmap, and back at free
_TRIM_THRESHOLD = 128 * 1024  # free memory at the heap's top beyond this goes back (glibc's start)

TRIM_EVERY = 2.0  # seconds between two looks; a trim takes 0.5 ms (nothing to give) to 50 ms (76 MB)
TRIM_BATCH = 1_000  # entries let go since the last trim that call for one even while busy


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (absent from musl and other C libraries)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def give_back_large_buffers() -> bool:
    """Fix glibc's mmap and trim thresholds, so freed large buffers leave the process; whether
    it could (glibc only)."""
    libc = _glibc()
    if libc is None:
        return False
    mmap = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return bool(mmap) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


class _Freed:
    """Process-wide totals (the C heap is the process's, not a server's); they only grow."""

    # Added to from any thread without a lock: a count lost in a race only delays a trim.
    served = 0  # requests answered: API requests ended, control requests done
    let_go = 0  # journal entries forgotten: past a journal's limit, cleared, dropped
    trims = 0
    trim_seconds = 0.0  # spent in malloc_trim, for the soak's figures


FREED = _Freed()


def served() -> None:
    """A request was answered (its short-lived objects are garbage now)."""
    FREED.served += 1


def let_go(entries: int) -> None:
    """A journal forgot `entries` entries."""
    FREED.let_go += entries


def trim() -> bool:
    """Give every free page of the C heap back to the system; whether any went (glibc only)."""
    libc = _glibc()
    if libc is None:
        return False
    started = time.perf_counter()
    gave = bool(libc.malloc_trim(0))
    FREED.trims += 1
    FREED.trim_seconds += time.perf_counter() - started
    return gave


class Trimmer:
    """Looks every `every` seconds; trims when the server went quiet after serving (no request
    answered since the last look, some since the last trim), or when `batch` entries were let
    go since the last trim."""

    def __init__(self, every: float = TRIM_EVERY, batch: int = TRIM_BATCH) -> None:
        self.every, self.batch = every, batch
        self.trims = 0
        self._seen = self._served_at_trim = FREED.served
        self._let_go_at_trim = FREED.let_go
        self._handle: asyncio.TimerHandle | None = None

    def look(self) -> None:
        served_now, let_go_now = FREED.served, FREED.let_go
        quiet = served_now == self._seen
        served = served_now != self._served_at_trim or let_go_now != self._let_go_at_trim
        if (quiet and served) or let_go_now - self._let_go_at_trim >= self.batch:
            trim()
            self.trims += 1
            self._served_at_trim, self._let_go_at_trim = served_now, let_go_now
        self._seen = served_now
        self.start()

    def start(self) -> None:
        import asyncio

        self._handle = asyncio.get_running_loop().call_later(self.every, self.look)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


async def trimming(app: web.Application) -> AsyncIterator[None]:
    """The app's trimmer, on glibc only: a timer on the loop, not a task (a leak check counts
    the loop's tasks)."""
    trimmer = Trimmer() if _glibc() is not None else None
    if trimmer is not None:
        trimmer.start()
    yield
    if trimmer is not None:
        trimmer.stop()
