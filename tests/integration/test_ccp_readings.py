"""A CCP's readings for people: downsampled on the server, shown at DETAIL only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from auth.audit import create_tables
from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.haccp import ccps
from graph_schema.haccp.ingest import CcpDefinition, check_readings, store_readings
from graph_schema.haccp.readings import SeriesPoint, series, to_ms
from graph_schema.records import CcpRecord
from hub.sql_store import create_sql_engine
from tests.factories import register_firms
from tests.graphql_client import SQL_ENGINE, execute, principal
from tests.integration.commerce import share

START = datetime(2026, 9, 1, tzinfo=UTC)
DEFINITION = CcpDefinition("heat", "plant", "8800000000015", "°C", 85.0, 100.0, frozenset({"tt-1"}))


def write(engine: Engine, definition: CcpDefinition, values: list[tuple[datetime, float]]) -> None:
    for start in range(0, len(values), 5_000):
        items = [
            {"ccpId": definition.id, "deviceId": "tt-1", "at": at.isoformat(), "value": v, "unit": "°C"}
            for at, v in values[start : start + 5_000]
        ]
        now = to_ms(datetime.now(UTC))
        rows, indexes, problems = check_readings(
            items, {definition.id: definition}, firm_id=definition.firm_id, now_ms=now, skew_ms=0
        )
        assert not problems.count, problems.listed
        store_readings(engine, rows, indexes, recorded_at_ms=now)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    yield engine
    engine.dispose()


def test_few_readings_come_back_as_they_are(engine: Engine) -> None:
    write(engine, DEFINITION, [(START + timedelta(seconds=i), 90.0 + i) for i in range(5)])
    points = series(engine, "heat", from_ms=to_ms(START), to_ms=to_ms(START + timedelta(seconds=4)), max_points=500)
    assert points == [SeriesPoint(to_ms(START) + i * 1000, 90.0 + i, None, None, 1) for i in range(4)]


def test_many_readings_come_back_as_buckets_with_min_max_and_count(engine: Engine) -> None:
    # two hours at one reading a second: 86..94.6 in a saw-tooth of one minute
    values = [(START + timedelta(seconds=i), 86.0 + (i % 60) / 60 * 10) for i in range(7_200)]
    write(engine, DEFINITION, values)
    begin, end = to_ms(START), to_ms(START + timedelta(hours=2))
    by_minute = series(engine, "heat", from_ms=begin, to_ms=end, max_points=120)
    assert len(by_minute) == 120
    assert {(p.count, p.min, p.max) for p in by_minute} == {(60, 86.0, 86.0 + 59 / 60 * 10)}
    assert by_minute[1].at_ms == begin + 60_000
    from_raw = series(engine, "heat", from_ms=begin, to_ms=begin + 600_000, max_points=100)
    assert [(p.at_ms - begin, p.count) for p in from_raw[:2]] == [(0, 6), (6_000, 6)]
    assert len(from_raw) == 100
    by_hour = series(engine, "heat", from_ms=begin, to_ms=begin + 10 * 3_600_000, max_points=5)  # 2 h buckets
    assert [(p.at_ms, p.count) for p in by_hour] == [(begin, 7_200)]
    shifted = series(engine, "heat", from_ms=begin - 3_600_000, to_ms=begin + 9 * 3_600_000, max_points=5)
    assert [(p.at_ms - begin, p.count) for p in shifted] == [(-3_600_000, 3_600), (3_600_000, 3_600)]
    assert by_hour[0].value == pytest.approx(sum(v for _, v in values) / 7_200)


READINGS = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  ccp(id: $id) { level readings(from: $from, to: $to, maxPoints: 2) { at value min max count } } }"""


@pytest.mark.neo4j
async def test_readings_show_at_detail_only(graph: Graph) -> None:
    sites = await register_firms(graph, ["plant", "buyer", "auditor-firm", "rival"])
    ccp_id = f"{sites['plant']}-CCP-1B"
    record = CcpRecord(
        id=ccp_id, site_gln=sites["plant"], code="CCP-1B", name="Heating", limit_low=85.0, limit_high=100.0,
        unit="°C", devices=["tt-1"],
    )  # fmt: skip
    await ccps.register_ccp(graph, record, firm_id="plant")
    definition = CcpDefinition(ccp_id, "plant", sites["plant"], "°C", 85.0, 100.0, frozenset({"tt-1"}))
    write(SQL_ENGINE, definition, [(START + timedelta(seconds=s), 90.0 + k) for k, s in enumerate((0, 10, 35, 45))])
    await share(graph, "plant", "CCP", "DETAIL", toFirmId="buyer")
    await share(graph, "plant", "CCP", "SUMMARY", toFirmId="auditor-firm")
    variables = {"id": ccp_id, "from": START.isoformat(), "to": (START + timedelta(minutes=1)).isoformat()}

    async def seen(firm: str) -> Any:
        result = await execute(graph, READINGS, principal(firm, Role.VIEWER), variables)
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data["ccp"]

    buckets = [
        {"at": "2026-09-01T00:00:00+00:00", "value": 90.5, "min": 90.0, "max": 91.0, "count": 2},
        {"at": "2026-09-01T00:00:30+00:00", "value": 92.5, "min": 92.0, "max": 93.0, "count": 2},
    ]
    assert await seen("plant") == {"level": "DETAIL", "readings": buckets}
    assert await seen("buyer") == {"level": "DETAIL", "readings": buckets}
    assert await seen("auditor-firm") == {"level": "SUMMARY", "readings": []}
    assert await seen("rival") is None
