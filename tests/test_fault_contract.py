"""The fault contract matrix: every error preset and fault, by every client, over real sockets.

Runs under whichever `openai` major is installed (`make test` runs it under 3.x and 2.x); the
anthropic column runs where the anthropic SDK is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import openai
import pytest

from sparring import FakeServer, Scenario
from tests.contract import clients
from tests.contract.matrix import CASES, expected, shown
from tests.contract.table import GENERATED, markdown
from tests.legs import main_leg_only

MAJOR = openai.__version__.split(".")[0]
HAS_ANTHROPIC = importlib.util.find_spec("anthropic") is not None
HAS_OLLAMA = importlib.util.find_spec("ollama") is not None
HAS_BOTO3 = importlib.util.find_spec("boto3") is not None
HAS_GENAI = importlib.util.find_spec("google") is not None and importlib.util.find_spec("google.genai") is not None
# client under test -> (the table column it answers, how it is run)
RUNS = {
    "aiohttp": ("aiohttp", clients.run_aiohttp),
    "httpx": ("httpx", clients.run_httpx),
    "openai": (f"openai {MAJOR}.x", clients.run_openai),
    "responses": (f"responses {MAJOR}.x", clients.run_responses),
    "anthropic": ("anthropic 2.x", clients.run_anthropic),
    "ollama": ("ollama", clients.run_ollama),
    "azure": (f"azure {MAJOR}.x", clients.run_azure),
    "bedrock": ("bedrock", clients.run_bedrock),
    "genai": ("genai", clients.run_genai),
}
SDKS = ("openai", "responses", "anthropic", "ollama", "azure", "bedrock", "genai")
ON_THE_OPENAI_SDK = ("openai", "responses", "azure")  # the columns whose cells can differ by major
EXPECTED = expected()
ROOT = Path(__file__).resolve().parents[1]


def test_every_case_has_a_row() -> None:
    assert list(EXPECTED) == list(CASES)


@pytest.mark.asyncio
@pytest.mark.parametrize("client", list(RUNS))
@pytest.mark.parametrize("case", list(CASES))
async def test_client_sees(case: str, client: str) -> None:
    if client not in ON_THE_OPENAI_SDK:
        main_leg_only(f"the {client} column")
    if client == "anthropic" and not HAS_ANTHROPIC:
        pytest.skip("the anthropic SDK is not installed here; the main environment runs this column")
    if client == "ollama" and not HAS_OLLAMA:
        pytest.skip("the ollama client is not installed here; the main environment runs this column")
    if client == "bedrock" and not HAS_BOTO3:
        pytest.skip("boto3 is not installed here; the main environment runs this column")
    if client == "genai" and not HAS_GENAI:
        pytest.skip("google-genai is not installed here; the main environment runs this column")
    column, run = RUNS[client]
    with FakeServer(Scenario.of(CASES[case])) as server:
        outcome = await run(server.base_url)
        attempts = len(server.journal())
    outcome = shown(outcome, column)
    seen = f"{outcome} ×{attempts}" if client in SDKS else outcome
    assert seen == EXPECTED[case][column]
    if client not in SDKS:
        assert attempts == 1, "hand-written readers never retry"


def test_docs_table_is_current() -> None:
    """The docs page shows this very table; regenerate with `python -m tests.contract.table`."""
    assert (ROOT / GENERATED).read_text(encoding="utf-8") == markdown()
