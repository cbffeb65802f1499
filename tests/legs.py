"""Which leg of `make test` this is. The openai-2 leg (`SPARRING_TEST_LEG=openai2`, set by the
Makefile) exists to run what depends on the `openai` major under 2.x; a test whose outcome
cannot depend on it skips there, since the main leg runs it."""

from __future__ import annotations

import os

import pytest

SECOND_LEG = os.environ.get("SPARRING_TEST_LEG") == "openai2"


def main_leg_only(what: str) -> None:
    """Skip `what` in the openai-2 leg: it does not depend on the openai major."""
    if SECOND_LEG:
        pytest.skip(f"{what} does not depend on the openai major; the main leg of `make test` runs it")
