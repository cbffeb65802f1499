"""The tests every library's contract module runs, made for its rows.

A module declares its rows and gets: every cell of the table measured and compared, the
cleanup check's output kept beside the docs (numbers masked), and a syrupy snapshot of the
text each client yields on a clean answer and on a cut one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from sparring import FakeServer, Fault, Scenario, collect
from tests.libraries import facts
from tests.libraries.clients import Client, owning
from tests.libraries.contract import COLUMNS, expected

ROOT = Path(__file__).resolve().parents[2]
FINDINGS = ROOT / "docs" / "generated" / "client-libraries"
EXPECTED = expected()
# Set to rewrite the cleanup outputs the docs show, from this run.
UPDATE = os.environ.get("SPARRING_UPDATE_FINDINGS") == "1"


def slug(row: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in row.lower()).strip("-").replace("--", "-").replace("--", "-")


def findings_path(row: str) -> Path:
    return FINDINGS / f"{slug(row)}.txt"


def _line(way: str, report: str) -> str | None:
    return next((line for line in report.splitlines() if line.startswith(f"- {way}:")), None)


def _from_sync(make: Callable[[str], Iterator[str]], url: str) -> AsyncIterator[str]:
    async def pieces() -> AsyncIterator[str]:
        for piece in make(url):  # blocks the loop; the fake server has a thread of its own
            yield piece

    return pieces()


def make_tests(rows: Sequence[Client], skip: Callable[[Client], str | None] = lambda _: None) -> tuple[Any, Any, Any]:
    """`test_cell`, `test_events` and `test_retries_through_the_sdk` for these rows;
    `skip(client)` gives a reason to skip one here."""
    ids = [slug(c.row) for c in rows]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("column", COLUMNS)
    @pytest.mark.parametrize("client", rows, ids=ids)
    async def test_cell(client: Client, column: str) -> None:
        reason = skip(client)
        if reason:
            pytest.skip(reason)
        cell, report = await facts.measure(client, column)
        detail = f"\n{report}" if report is not None else ""
        assert cell == EXPECTED[client.row][column], f"{client.row} / {column}: measured {cell!r}{detail}"
        if report is not None and not report.ok:
            # what the docs quote as the check's output, the same but for times and addresses
            path = findings_path(client.row)
            if UPDATE:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(str(report) + "\n", encoding="utf-8")
            quoted, now = path.read_text(encoding="utf-8"), str(report) + "\n"
            assert facts.masked(quoted, names=False) == facts.masked(now, names=False)
            # on `break` the consumer closes the stream itself: what stays open is always the same
            assert _line("break", facts.masked(quoted)) == _line("break", facts.masked(now))

    @pytest.mark.asyncio
    @pytest.mark.parametrize("client", rows, ids=ids)
    async def test_events(client: Client, sparring_snapshot: Any) -> None:
        reason = skip(client)
        if reason:
            pytest.skip(reason)
        fault = Fault("reset", after_chunk=facts.CUT_AFTER)
        for delivery in ({}, {"fault": fault, "repeat": True}):
            with FakeServer(Scenario.of(*facts.steps(client), client.answer(**delivery))) as server:
                async with owning():
                    url = client.url(server.base_url)
                    stream = client.stream(url) if client.stream is not None else _from_sync(client.sync, url)  # type: ignore[arg-type]
                    assert await collect(stream) == sparring_snapshot

    @pytest.mark.asyncio
    @pytest.mark.parametrize("client", rows, ids=ids)
    async def test_retries_through_the_sdk(client: Client) -> None:
        """The retry after the 429 is the SDK's own: it counts itself in `x-stainless-retry-count`."""
        reason = skip(client)
        if reason:
            pytest.skip(reason)
        _, _, run = await facts.rate_limit(client, "retry-after-ms")
        counts = [entry.headers.get("x-stainless-retry-count") for entry in run.journal]
        assert counts[:2] == ["0", "1"], counts

    return test_cell, test_events, test_retries_through_the_sdk
