"""The client-library contract and loops: telemetry off, and heavy libraries only where installed.

The libraries here phone home by default (litellm fetches its model cost map and sends
telemetry, openai-agents exports traces, langchain may trace to LangSmith). Their switches
are set before any of them is imported, so nothing leaves loopback.

The main environment has only the official SDKs: there, every module of this folder that
needs the `libs` extra is left uncollected (`make test` runs the folder again in
`.venv-libs`), instead of being collected only to be skipped.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# The contract's tests are made in this module: let pytest show their assertions' diffs.
pytest.register_assert_rewrite("tests.libraries.contract_tests", "tests.libraries.facts")

QUIET = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the model cost map from GitHub
    "LITELLM_TELEMETRY": "False",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "DO_NOT_TRACK": "1",
}
os.environ.update(QUIET)

# The libs extra's libraries; without any of them, only the SDK modules below run here.
LIBS = ("langchain_openai", "litellm", "pydantic_ai", "agents")
SDK_MODULES = {"test_contract_sdks.py", "test_contract_table.py"}

collect_ignore: list[str] = []
if not all(importlib.util.find_spec(name) for name in LIBS):
    here = Path(__file__).parent
    collect_ignore = sorted(p.name for p in here.glob("test_*.py") if p.name not in SDK_MODULES)


# litellm imports parts of itself lazily, on first use, and one of them makes pydantic warn;
# the suite turns warnings into errors, so the warning would fail whichever test came first.
QUIET_WARNINGS = ("ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            for spec in QUIET_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(autouse=True)
def _collect_what_the_library_left() -> Iterator[None]:
    """Some libraries leave sockets and event loops to the garbage collector (the contract
    says which, from `check_cleanup`). Collected here, after each test and with their
    warnings ignored, they cannot fail whichever later test the collector happens to run in."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
