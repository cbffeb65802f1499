"""Whether a replay kept its recording's pace: shared by the record-and-replay tests.

Both runs are timed from the moment the request was sent, so on time their difference is the
scheduling noise of two runs on a busy 2-core machine (each part of either run may be late by
tens of milliseconds): `TOLERANCE` is well below the 200 ms per part by which a replay at the
wrong pace (or none) drifts from its recording, missing from the third part on.
"""

from __future__ import annotations

from collections.abc import Sequence

from sparring import Entry
from sparring.fake_server.playback import _CATCH_UP

TOLERANCE = 0.25  # seconds


def kept_pace(was: Sequence[float], now: Sequence[float], proxied: Entry, replayed: Entry) -> None:
    """Each part as long after the first as through the proxy. `was` and `now` are when each
    part reached the client through the proxy and from the replay, from the call. (Counted from
    the first part, not from the call: through the proxy, that also holds the proxy's own start,
    its first connection upstream, which the recording leaves out; seen at 270 ms.)

    A replay keeps its schedule from its headers, so one whose first part came late (a process
    starved for longer than `TOLERANCE`: seen once, 0.83 s, under a loaded suite) catches up
    by design, each write at least `_CATCH_UP` of its recorded wait after the one before.
    Then: no part later than its time after the first, and, in the servers' journals, no write
    sooner than that after the one before, so a replay that kept no pace still fails."""
    assert len(was) == len(now) > 0, (was, now)
    on_time = now[0] - was[0] < TOLERANCE
    for w, n in zip(was, now, strict=True):
        late = (n - now[0]) - (w - was[0])
        assert (abs(late) if on_time else late) < TOLERANCE, (was, now)
    if on_time:
        return
    sent, resent = [c.at for c in proxied.chunks], [c.at for c in replayed.chunks]
    assert len(sent) == len(resent), (sent, resent)
    for i in range(1, len(sent)):
        gap, recorded_gap = resent[i] - resent[i - 1], sent[i] - sent[i - 1]
        assert gap >= _CATCH_UP * recorded_gap - TOLERANCE / 5, (sent, resent)
