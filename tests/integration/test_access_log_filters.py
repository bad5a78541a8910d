"""The access log filtered by date range, reader firm and operation, and the link to its CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from auth.audit import AccessLogEntry
from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.spreadsheet_safety import safe_cell
from tests.graphql_client import SQL_ENGINE, codes, execute, principal

pytestmark = pytest.mark.neo4j

T0 = datetime(2026, 10, 1, tzinfo=UTC)
LOG = """query($since: DateTime, $until: DateTime, $firm: ID, $op: String) {
  accessLog(since: $since, until: $until, accessorFirmId: $firm, operation: $op) {
    totalCount edges { node { accessorFirmId operation recordCount } } }
  accessLogExport(since: $since, until: $until, accessorFirmId: $firm, operation: $op) }"""


def _entries() -> None:
    rows = [
        ("plant", "dist", "lots", T0),
        ("plant", "dist", "trace", T0 + timedelta(days=1)),
        ("plant", "retail", "trace", T0 + timedelta(days=2)),
        ("plant", "retail", "=cmd|' /C calc'!A0", T0 + timedelta(days=3)),
        ("rival", "dist", "trace", T0 + timedelta(days=1)),  # another owner's entry
    ]
    with Session(SQL_ENGINE) as session:
        for i, (owner, accessor, operation, at) in enumerate(rows):
            session.add(
                AccessLogEntry(
                    at=at,
                    owner_firm_id=owner,
                    accessor_firm_id=accessor,
                    accessor_subject=f"test:{accessor}",
                    operation=operation,
                    record_count=i + 1,
                )
            )
        session.commit()


async def read(graph: Graph, **variables: Any) -> tuple[list[tuple[str, str, int]], str]:
    result = await execute(graph, LOG, principal("plant", Role.AUDITOR), variables)
    assert result.errors is None, result.errors
    assert result.data is not None
    log = result.data["accessLog"]
    entries = [(e["node"]["accessorFirmId"], e["node"]["operation"], e["node"]["recordCount"]) for e in log["edges"]]
    assert log["totalCount"] == len(entries)
    return entries, result.data["accessLogExport"]


async def test_filters_narrow_the_log_to_one_owner_s_matching_entries(graph: Graph) -> None:
    _entries()
    everything, link = await read(graph)
    assert [count for _, _, count in everything] == [4, 3, 2, 1]  # newest first; the rival's entry never shows
    assert link == "/exports/access-log"
    assert await read(graph, firm="dist") == (
        [("dist", "trace", 2), ("dist", "lots", 1)],
        "/exports/access-log?accessorFirmId=dist",
    )
    by_kind, _ = await read(graph, op="trace")
    assert by_kind == [("retail", "trace", 3), ("dist", "trace", 2)]
    window, link = await read(
        graph, since=(T0 + timedelta(days=1)).isoformat(), until=(T0 + timedelta(days=3)).isoformat()
    )
    assert window == [("retail", "trace", 3), ("dist", "trace", 2)]  # until is exclusive
    assert link.startswith("/exports/access-log?since=2026-10-02T00%3A00%3A00%2B00%3A00&until=")
    in_seoul, _ = await read(graph, since="2026-10-04T09:00:00+09:00")  # the same instant as day 3, 00:00 UTC
    assert in_seoul == [("retail", "=cmd|' /C calc'!A0", 4)]
    for variables in ({"since": "2026-10-04T00:00:00"}, {"until": T0.isoformat(), "since": T0.isoformat()}):
        result = await execute(graph, LOG, principal("plant", Role.AUDITOR), variables)
        assert "BAD_USER_INPUT" in codes(result), variables
    refused = await execute(graph, LOG, principal("plant", Role.VIEWER), {})
    assert set(codes(refused)) == {"FORBIDDEN"}
    assert refused.data is None


def test_formula_text_reaches_a_spreadsheet_as_text() -> None:
    assert safe_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert [safe_cell(v) for v in ("+1", "-1", "@SUM(A1)", "\t=x", "tofu", 5, None)] == [
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=x",
        "tofu",
        5,
        None,
    ]
