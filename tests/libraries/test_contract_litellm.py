"""The contract's rows for litellm, run in the libs environment (`.venv-libs`)."""

from __future__ import annotations

import pytest

pytest.importorskip("litellm")

from tests.libraries import clients  # noqa: E402
from tests.libraries.contract_tests import make_tests  # noqa: E402

test_cell, test_events = make_tests(clients.LITELLM)
