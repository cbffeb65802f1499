"""Checks for any streaming client: drive it and record what it yielded (`collect`, and
`collect_sync` for sync streams), prove it cleans up on every way out of its stream, judge
its retries from the server's journal.

The snapshot extension lives in `sparring.checks.snapshot`, apart: it needs syrupy.
"""

from sparring.checks.cleanup import WAYS_OUT, CleanupError, CleanupReport, WayResult, check_cleanup
from sparring.checks.collect import Collected, collect, collect_sync
from sparring.checks.grouping import Attempt, attempts, calls
from sparring.checks.retries import RetryCheckError, RetryReport, check_retries

__all__ = [
    "WAYS_OUT",
    "Attempt",
    "CleanupError",
    "CleanupReport",
    "Collected",
    "RetryCheckError",
    "RetryReport",
    "WayResult",
    "attempts",
    "calls",
    "check_cleanup",
    "check_retries",
    "collect",
    "collect_sync",
]
