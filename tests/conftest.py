"""Shared fixtures: a fake server per test, and a raw SSE reader that sees exact bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sparring import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A started fake server with an empty scenario (every request misses until scripted)."""
    with FakeServer(seed=1234) as fake:
        yield fake
