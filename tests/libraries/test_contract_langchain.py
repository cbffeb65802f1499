"""The contract's rows for langchain, run in the libs environment (`.venv-libs`)."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_openai")

from tests.libraries import clients
from tests.libraries.contract_tests import make_tests

test_cell, test_events = make_tests(clients.LANGCHAIN)
