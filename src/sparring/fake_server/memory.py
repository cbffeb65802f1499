"""Memory `sparring serve` hands back to the system after a burst, instead of keeping it.

glibc's allocator raises its mmap threshold each time a large buffer is freed, so after a
big journal read (a page of entries is serialized into one string of megabytes) later large
buffers come from the heap, and the heap keeps their pages when they are freed: the soak saw
24 MiB held that way after one read of its journals. Fixing the threshold sends large
buffers to mmap for good, and they go back to the system when freed. At 512 KiB, not glibc's
starting 128 KiB: asyncio reads a socket into a 256 KiB buffer, and that one, made and
shrunk at every read, is better taken from the heap than from a system call each time.

Only `serve` does this, in a process of its own: `FakeServer` runs inside a test process
whose allocator is not sparring's to tune. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 512 * 1024  # buffers this large or larger: mmap, and back at free
_TRIM_THRESHOLD = 128 * 1024  # free memory at the heap's top beyond this goes back (glibc's start)


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (absent from musl and other C libraries)
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
