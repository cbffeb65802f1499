"""Render the contract as the Markdown table the docs include.

python -m tests.contract.table > docs/generated/fault-contract-table.md
"""

from __future__ import annotations

from tests.contract.matrix import COLUMNS, expected

GENERATED = "docs/generated/fault-contract-table.md"


def markdown() -> str:
    head = "| scripted | " + " | ".join(COLUMNS) + " |"
    rule = "|" + "---|" * (len(COLUMNS) + 1)
    rows = [f"| `{case}` | " + " | ".join(cells[c] for c in COLUMNS) + " |" for case, cells in expected().items()]
    return "\n".join([head, rule, *rows]) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
