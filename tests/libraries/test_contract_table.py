"""The contract table itself: every row has a client that measures it, and the docs show it."""

from __future__ import annotations

from tests.libraries import clients
from tests.libraries.contract import GENERATED, expected, markdown
from tests.libraries.contract_tests import ROOT, findings_path

ALL_ROWS = [
    *clients.sdk_clients("3"),
    *clients.sdk_clients("2"),
    *clients.ANTHROPIC,
    *clients.LANGCHAIN,
    *clients.LITELLM,
    *clients.PYDANTIC_AI,
    *clients.OPENAI_AGENTS,
]


def test_every_row_has_a_client() -> None:
    assert [c.row for c in ALL_ROWS] == list(expected())


def test_docs_table_is_current() -> None:
    """Regenerate with `python -m tests.libraries.contract > docs/generated/client-libraries-table.md`."""
    assert (ROOT / GENERATED).read_text(encoding="utf-8") == markdown()


def test_docs_quote_every_leak() -> None:
    """Each row whose cleanup leaks has the check's output beside the table, and the page shows it."""
    page = (ROOT / "docs" / "client-libraries.md").read_text(encoding="utf-8")
    for row, cells in expected().items():
        if cells["check_cleanup"].startswith("leaks"):
            path = findings_path(row)
            assert path.is_file(), f"{row}: run the suite with SPARRING_UPDATE_FINDINGS=1 to write {path.name}"
            assert path.relative_to(ROOT).as_posix() in page, f"docs/client-libraries.md does not show {path.name}"
