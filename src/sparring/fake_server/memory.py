"""Memory `sparring serve` hands back to the system after a burst, instead of keeping it.

glibc's allocator raises its mmap threshold each time a large buffer is freed, so after a
big journal read (a page of entries is serialized into one string of megabytes) later large
buffers come from the heap, and the heap keeps their pages when they are freed: the soak saw
24 MiB held that way after one read of its journals. Fixing the threshold at its default
(128 KiB) sends large buffers to mmap for good, and they go back to the system when freed.

Only `serve` does this, in a process of its own: `FakeServer` runs inside a test process
whose allocator is not sparring's to tune. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 128 * 1024  # glibc's own starting value for both


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
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))
