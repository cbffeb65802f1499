"""The contract's rows for pydantic-ai, run in the libs environment (`.venv-libs`); and the facts
the docs' notes on pydantic-ai state."""

from __future__ import annotations

import pytest

pydantic_ai = pytest.importorskip("pydantic_ai")

from tests.libraries import clients, facts  # noqa: E402
from tests.libraries.contract_tests import make_tests  # noqa: E402

test_cell, test_events, test_retries_through_the_sdk = make_tests(clients.PYDANTIC_AI)


@pytest.mark.asyncio
async def test_a_cut_stream_raises_a_model_connection_error() -> None:
    _, run = await facts.cut(clients.PYDANTIC_AI[0])
    assert isinstance(run.error, pydantic_ai.ModelConnectionError)
    assert isinstance(run.error, pydantic_ai.exceptions.ModelAPIError)


@pytest.mark.asyncio
async def test_the_tool_loop_runs_the_tool_between_its_two_requests() -> None:
    _, run = await facts.clean(clients.PYDANTIC_AI[1])
    first, second = run.journal
    assert first.body["tools"][0]["function"]["name"] == "get_weather"
    tool_result = second.body["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["tool_call_id"] == "call_1"
    assert "sunny in Paris" in tool_result["content"]
