"""The contract's rows for litellm, run in the libs environment (`.venv-libs`); and the facts
the docs' notes on litellm state."""

from __future__ import annotations

import openai
import pytest

pytest.importorskip("litellm")

from tests.libraries import clients, facts
from tests.libraries.contract_tests import make_tests

test_cell, test_events, test_retries_through_the_sdk = make_tests(clients.LITELLM)
CLIENT = clients.LITELLM[0]


@pytest.mark.asyncio
async def test_a_cut_stream_raises_a_status_error_of_a_status_never_sent() -> None:
    _, run = await facts.cut(CLIENT)
    assert isinstance(run.error, openai.APIStatusError)
    assert run.error.status_code == 500  # the server sent 200, then cut the stream
    assert "Connection error" in str(run.error)  # the original error, in the message
    assert [e.status for e in run.journal] == [200]
