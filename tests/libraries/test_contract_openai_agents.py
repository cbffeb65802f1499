"""The contract's rows for openai-agents, run in the libs environment (`.venv-libs`)."""

from __future__ import annotations

import pytest

pytest.importorskip("agents")

from tests.libraries import clients
from tests.libraries.contract_tests import make_tests

test_cell, test_events, test_retries_through_the_sdk = make_tests(clients.OPENAI_AGENTS)
