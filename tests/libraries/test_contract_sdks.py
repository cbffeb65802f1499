"""The contract's rows for the official SDKs: openai (chat and Responses, sync and async) and
anthropic. Runs under whichever `openai` major is installed: `make test` runs it under 3.x and
2.x; the other major's rows are skipped here."""

from __future__ import annotations

import openai

from tests.legs import SECOND_LEG
from tests.libraries import clients
from tests.libraries.contract_tests import make_tests

MAJOR = openai.__version__.split(".")[0]
ROWS = [*clients.sdk_clients("3"), *clients.sdk_clients("2"), *clients.ANTHROPIC]


def _other_major(client: clients.Client) -> str | None:
    if client.row.startswith("openai ") and not client.row.startswith(f"openai {MAJOR}.x"):
        return f"openai {MAJOR}.x is installed here; the other leg of `make test` runs this row"
    if SECOND_LEG and not client.row.startswith("openai "):
        return "this row does not depend on the openai major; the main leg of `make test` runs it"
    return None


test_cell, test_events, test_retries_through_the_sdk = make_tests(ROWS, skip=_other_major)
