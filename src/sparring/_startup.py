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

_Load = Callable[[ssl.SSLContext, Any], None]


class DeferredCerts:
    """The contexts whose CA certificates are still to load."""

    def __init__(self, load: _Load) -> None:
        self._load = load
        self.noted: list[tuple[ssl.SSLContext, Any]] = []
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Load them in a daemon thread (once)."""
        if self.noted and self.thread is None:
            self.thread = threading.Thread(target=self._load_all, name="sparring-ca-certs", daemon=True)
            self.thread.start()

    def finish(self) -> None:
        """Load whatever no thread has, and wait for the thread: the interpreter must not exit
        while a daemon thread is inside OpenSSL (it can crash there)."""
        if self.thread is None:
            self._load_all()
        else:
            self.thread.join()

    def _load_all(self) -> None:
        while self.noted:
            context, purpose = self.noted.pop(0)
            self._load(context, purpose)


@contextlib.contextmanager
def ca_certs_deferred() -> Iterator[DeferredCerts]:
    """Inside, `SSLContext.load_default_certs` only notes its context, in what is yielded."""
    original = ssl.SSLContext.load_default_certs
    deferred = DeferredCerts(original)

    def note(self: ssl.SSLContext, purpose: Any = ssl.Purpose.SERVER_AUTH) -> None:
        deferred.noted.append((self, purpose))

    ssl.SSLContext.load_default_certs = note  # type: ignore[method-assign]
    try:
        yield deferred
    finally:
        ssl.SSLContext.load_default_certs = original  # type: ignore[method-assign]
