"""The contract's rows for langchain-openai, run in the libs environment (`.venv-libs`); and the
facts the docs' notes on langchain-openai state."""

from __future__ import annotations

import openai
import pytest

pytest.importorskip("langchain_openai")

from langchain_core.exceptions import ModelConnectionError

from tests.libraries import clients, facts
from tests.libraries.contract_tests import make_tests

test_cell, test_events, test_retries_through_the_sdk = make_tests(clients.LANGCHAIN)


@pytest.mark.asyncio
async def test_a_cut_stream_raises_an_openai_connection_error() -> None:
    _, run = await facts.cut(clients.LANGCHAIN[0])
    assert isinstance(run.error, openai.APIConnectionError)
    assert isinstance(run.error, ModelConnectionError)
