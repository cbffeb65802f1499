"""The contract's rows for litellm, run in the libs environment (`.venv-libs`)."""

from __future__ import annotations

import pytest

pytest.importorskip("litellm")

from tests.libraries import clients
from tests.libraries.contract_tests import make_tests

test_cell, test_events = make_tests(clients.LITELLM)
