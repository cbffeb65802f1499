"""Saving a recording after every exchange without holding the server's loop.

Writing the file means dumping every rule recorded so far (tens of milliseconds per stream of
a few hundred events, more as the file grows), so it runs in a thread of its own: each rule
recorded is queued, the thread saves once for everything queued since its last save (an
atomic replace), then reports each rule saved. Stopping saves what is left.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from sparring.recorder.proxy import Recorder
from sparring.scenario.model import Rule


class Saver:
    """`recorder.on_record = Saver(recorder, path)`; `close()` once the server has stopped."""

    def __init__(
        self, recorder: Recorder, path: str | Path, on_saved: Callable[[Rule, int], None] | None = None
    ) -> None:
        """`on_saved(rule, rules_in_file)` is called (in the saver's thread) for each rule saved."""
        self.recorder = recorder
        self.path = Path(path)
        self.on_saved = on_saved
        self._queue: queue.Queue[Rule | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sparring-record-saver", daemon=True)
        self._thread.start()

    def __call__(self, rule: Rule) -> None:
        self._queue.put(rule)

    def close(self) -> None:
        """Save what is queued, and stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while not self._queue.empty():  # everything recorded meanwhile: one save for all
                batch.append(self._queue.get())
            stopping = None in batch
            rules = [rule for rule in batch if rule is not None]
            if not rules:
                continue
            try:
                self.recorder.save(self.path)
            except OSError as exc:  # a full disk, a folder removed: say so, keep recording, try again next time
                print(f"sparring record: cannot save {self.path}: {exc}", file=sys.stderr, flush=True)
                continue
            count = len(self.recorder.rules)
            for rule in rules:
                if self.on_saved is not None:
                    self.on_saved(rule, count)
