"""The contract's rows for langchain, run in the libs environment (`.venv-libs`)."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_openai")

from tests.libraries import clients  # noqa: E402
from tests.libraries.contract_tests import make_tests  # noqa: E402

test_cell, test_events = make_tests(clients.LANGCHAIN)
