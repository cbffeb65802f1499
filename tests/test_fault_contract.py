"""The fault contract matrix: every error preset and fault, by every client, over real sockets.

Runs under whichever `openai` major is installed; `make test` runs it under 3.x and 2.x.
"""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from sparring import FakeServer, Scenario
from tests.contract.clients import CLIENTS
from tests.contract.matrix import CASES, expected
from tests.contract.table import GENERATED, markdown

OPENAI_COLUMN = f"openai {openai.__version__.split('.')[0]}.x"
EXPECTED = expected()
ROOT = Path(__file__).resolve().parents[1]


def test_every_case_has_a_row() -> None:
    assert list(EXPECTED) == list(CASES)


@pytest.mark.asyncio
@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("case", list(CASES))
async def test_client_sees(case: str, client: str) -> None:
    column = OPENAI_COLUMN if client == "openai" else client
    with FakeServer(Scenario.of(CASES[case])) as server:
        outcome = await CLIENTS[client](server.base_url)
        attempts = len(server.journal())
    seen = f"{outcome} ×{attempts}" if client == "openai" else outcome
    assert seen == EXPECTED[case][column]
    if client != "openai":
        assert attempts == 1, "hand-written readers never retry"


def test_docs_table_is_current() -> None:
    """The docs page shows this very table; regenerate with `python -m tests.contract.table`."""
    assert (ROOT / GENERATED).read_text(encoding="utf-8") == markdown()
