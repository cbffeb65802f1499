"""What `sparring serve` defers to shorten the time to its first answer.

Importing aiohttp builds its two client TLS contexts, and the verifying one reads the system's
CA bundle: about 0.1 s, a fifth of `serve`'s start-up. `serve` opens no TLS connection (it
answers plain HTTP on its own port; `sparring record`, which goes upstream, does not defer), so
the bundle is read into the contexts built during the import in a thread once the server
listens. OpenSSL releases the GIL while it reads, so the loop answers meanwhile.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

Deferred = list[tuple[ssl.SSLContext, Any]]


@contextlib.contextmanager
def ca_certs_deferred() -> Iterator[Callable[[], threading.Thread | None]]:
    """Inside, `SSLContext.load_default_certs` only notes its context; the callable yielded
    loads what was noted in a daemon thread, and returns the thread (`None`: nothing noted, or
    already loading: a second call does nothing)."""
    noted: Deferred = []
    original = ssl.SSLContext.load_default_certs

    def note(self: ssl.SSLContext, purpose: Any = ssl.Purpose.SERVER_AUTH) -> None:
        noted.append((self, purpose))

    ssl.SSLContext.load_default_certs = note  # type: ignore[method-assign]
    try:
        yield lambda: _load_in_thread(noted, original)
    finally:
        ssl.SSLContext.load_default_certs = original  # type: ignore[method-assign]


def _load_in_thread(noted: Deferred, load: Callable[[ssl.SSLContext, Any], None]) -> threading.Thread | None:
    taken = noted[:]
    noted.clear()

    def run() -> None:
        for context, purpose in taken:
            load(context, purpose)

    if not taken:
        return None
    thread = threading.Thread(target=run, name="sparring-ca-certs", daemon=True)
    thread.start()
    return thread
