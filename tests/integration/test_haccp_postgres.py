"""The readings ingest on a real PostgreSQL: the same checks, chains and seals, with concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from auth.audit import create_tables
from graph_schema.haccp.ingest import READINGS, CcpDefinition, check_readings, store_readings
from graph_schema.haccp.readings import series
from graph_schema.haccp.verify import ALTERED, verify
from hub.sql_store import create_sql_engine
from tests.postgres import scratch_postgres

T0 = 1_790_000_000_000
DEFINITION = CcpDefinition("heat", "plant", "8800000000015", "°C", 85.0, 100.0, frozenset({"tt-1", "tt-2"}))


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with scratch_postgres() as url:
        engine = create_sql_engine(url, pool_size=4)
        create_tables(engine)
        yield engine
        engine.dispose()


def batch(device: str, start: int, count: int, *, value: float = 90.0) -> tuple[list[list[object]], list[int]]:
    items = [
        {
            "ccpId": "heat",
            "deviceId": device,
            "at": datetime.fromtimestamp((T0 + (start + i) * 1000) / 1000, UTC).isoformat(),
            "value": value + i % 5,
            "unit": "°C",
        }
        for i in range(count)
    ]
    rows, indexes, problems = check_readings(items, {"heat": DEFINITION}, firm_id="plant", now_ms=T0 + 10**9, skew_ms=0)
    assert not problems.count
    return rows, indexes


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(READINGS)).scalar_one())


def test_readings_on_postgresql_are_idempotent_chained_and_verifiable(engine: Engine) -> None:
    rows, indexes = batch("tt-1", 0, 1_000)
    assert store_readings(engine, rows, indexes).accepted == 1_000
    again = store_readings(engine, *batch("tt-1", 500, 1_000))
    assert (again.accepted, again.duplicates) == (500, 500)
    changed = store_readings(engine, *batch("tt-1", 100, 1, value=50.0))
    assert [p.code for p in changed.problems] == ["CONFLICT"]
    assert stored(engine) == 1_500
    points = series(engine, "heat", from_ms=T0, to_ms=T0 + 1_500_000, max_points=25)
    assert sum(p.count for p in points) == 1_500
    assert verify(engine).findings == []

    # two gateways' batches for the same devices at once: each chain stays one chain
    def post(device: str, start: int) -> None:
        for k in range(5):
            store_readings(engine, *batch(device, 10_000 + start + k * 200, 200))

    writers = [threading.Thread(target=post, args=(d, s)) for d, s in (("tt-1", 0), ("tt-1", 1_000), ("tt-2", 0))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert stored(engine) == 1_500 + 3_000
    assert verify(engine).findings == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE ccp_reading SET value = 88.0 WHERE device_id = 'tt-2' AND seq = 7"))
    assert [(f.kind, f.device_id, f.seq) for f in verify(engine).findings or []] == [(ALTERED, "tt-2", 7)]
