"""CCP records nobody can quietly change: tampering with the SQL store directly is found, and where."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from auth.audit import create_tables
from graph_schema.haccp.ingest import CcpDefinition, check_readings, store_readings
from graph_schema.haccp.verify import ALTERED, DELETED, INSERTED, SEAL, verify
from hub.cli import main
from hub.sql_store import create_sql_engine

SITE = "8800000000015"
T0 = 1_790_000_000_000  # ms
DAY = 86_400_000
DEFINITIONS = {
    "heat": CcpDefinition("heat", "plant", SITE, "°C", 85.0, 100.0, frozenset({"tt-1"})),
    "cool": CcpDefinition("cool", "plant", SITE, "°C", None, 10.0, frozenset({"tt-2"})),
}


def post(engine: Engine, ccp: str, device: str, start: int, count: int, *, arrived: int) -> None:
    items = [
        {"ccpId": ccp, "deviceId": device, "at": iso(T0 + (start + i) * 1000), "value": 90.0 + i % 3, "unit": "°C"}
        for i in range(count)
    ]
    rows, indexes, problems = check_readings(items, DEFINITIONS, firm_id="plant", now_ms=arrived, skew_ms=0)
    assert not problems.count, problems.listed
    assert store_readings(engine, rows, indexes, recorded_at_ms=arrived).accepted == count


def iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    post(engine, "heat", "tt-1", 0, 50, arrived=T0 + 60_000)
    post(engine, "cool", "tt-2", 0, 20, arrived=T0 + 60_000)
    post(engine, "heat", "tt-1", 50, 50, arrived=T0 + DAY)  # the next day
    yield engine
    engine.dispose()


def tamper(engine: Engine, statement: str) -> None:
    with engine.begin() as conn:
        assert conn.execute(text(statement)).rowcount == 1


def kinds(engine: Engine) -> list[tuple[str, str | None, int | None]]:
    report = verify(engine)
    return [(f.kind, f.device_id, f.seq) for f in report.findings or []]


def test_untouched_records_verify(engine: Engine) -> None:
    report = verify(engine)
    assert report.findings == []
    assert (report.readings, report.devices, report.seals) == (120, 2, 2)


def test_an_altered_value_is_found_at_its_reading(engine: Engine) -> None:
    tamper(engine, "UPDATE ccp_reading SET value = 87.5 WHERE device_id = 'tt-1' AND seq = 17")
    assert kinds(engine) == [(ALTERED, "tt-1", 17)]


def test_a_recomputed_chain_still_breaks_the_days_seal(engine: Engine) -> None:
    from sqlalchemy import select

    from graph_schema.haccp.chain import link
    from graph_schema.haccp.ingest import READINGS

    # an insider changes a reading and recomputes the hashes of the rest of the chain and its head
    tamper(engine, "UPDATE ccp_reading SET value = 70.0, in_limits = 0 WHERE device_id = 'tt-2' AND seq = 5")
    with engine.begin() as conn:
        query = select(READINGS).where(READINGS.c.device_id == "tt-2").order_by(READINGS.c.seq)
        rows = [dict(r._mapping) for r in conn.execute(query)]
        previous = rows[3]["hash"]
        for row in rows[4:]:
            row["prev_hash"] = previous
            row["hash"] = previous = link(previous, row)
            conn.execute(
                text("UPDATE ccp_reading SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": row["prev_hash"], "h": row["hash"], "i": row["id"]},
            )
        conn.execute(text("UPDATE ccp_device_chain SET hash = :h WHERE device_id = 'tt-2'"), {"h": previous})
    report = verify(engine)
    assert [(f.kind, f.site_gln, f.day) for f in report.findings or []] == [(SEAL, SITE, "2026-09-21")]


def test_a_deleted_reading_is_found_where_it_was(engine: Engine) -> None:
    tamper(engine, "DELETE FROM ccp_reading WHERE device_id = 'tt-1' AND seq = 30")
    assert kinds(engine) == [(DELETED, "tt-1", 30), (SEAL, None, None)]


def test_deleting_a_devices_last_readings_is_found(engine: Engine) -> None:
    tamper(engine, "DELETE FROM ccp_reading WHERE device_id = 'tt-1' AND seq = 100")
    assert kinds(engine) == [(DELETED, "tt-1", 100), (SEAL, None, None)]


def test_an_inserted_reading_is_found(engine: Engine) -> None:
    tamper(
        engine,
        "INSERT INTO ccp_reading (ccp_id, site_gln, firm_id, device_id, at_ms, value, unit, limit_low, limit_high,"
        " in_limits, recorded_at_ms, seq, prev_hash, hash) SELECT ccp_id, site_gln, firm_id, device_id, at_ms + 500,"
        " 95.0, unit, limit_low, limit_high, in_limits, recorded_at_ms, seq, prev_hash, hash FROM ccp_reading"
        " WHERE device_id = 'tt-2' AND seq = 8",
    )
    found = kinds(engine)
    assert found[0] == (INSERTED, "tt-2", 8)
    assert found[-1] == (SEAL, None, None)


def test_hub_haccp_verify_says_where_and_exits_1(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path))
    assert main(["haccp", "verify", "--site", SITE]) == 0
    assert "120 readings of 2 devices and 2 day seals (site 8800000000015): intact" in capsys.readouterr().out
    tamper(engine, "UPDATE ccp_reading SET value = 99.0 WHERE device_id = 'tt-1' AND seq = 3")
    assert main(["haccp", "verify"]) == 1
    out = capsys.readouterr().out
    assert "ALTERED: device tt-1: reading 3 " in out
    assert "1 problems" in out


def test_a_prune_rolls_old_readings_up_and_the_records_still_verify(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import func, select

    from graph_schema.haccp.ingest import HOURS, READINGS
    from graph_schema.haccp.readings import series
    from graph_schema.haccp.retention import prune

    def count(table: object) -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]

    before = series(engine, "heat", from_ms=T0 - 3_600_000, to_ms=T0 + 7 * 3_600_000, max_points=2)
    # two days kept: the first arrival day (70 readings) is older than the retention, the second (50) is not
    report = prune(engine, now_ms=T0 + 3 * DAY + 1, retention_days=2)
    assert (report.cutoff_day, report.readings, report.devices, report.days) == ("2026-09-22", 70, 2, 1)
    assert count(READINGS) == 50
    assert count(HOURS) == 2  # per CCP, the one hour all of its readings were measured in
    assert series(engine, "heat", from_ms=T0 - 3_600_000, to_ms=T0 + 7 * 3_600_000, max_points=2) == before
    assert verify(engine).findings == []
    assert prune(engine, now_ms=T0 + 3 * DAY + 1, retention_days=2).readings == 0  # nothing more to prune
    # the kept chain must still follow the pruned one; the sealed aggregates must stay as they were
    tamper(engine, "DELETE FROM ccp_reading WHERE device_id = 'tt-1' AND seq = 51")
    tamper(engine, "UPDATE ccp_reading_hour SET max = 200.0 WHERE ccp_id = 'heat'")
    assert [(f.kind, f.device_id, f.seq) for f in verify(engine).findings or []] == [
        (DELETED, "tt-1", 51),
        (SEAL, None, None),
        ("ROLLUP", None, None),
    ]
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_HACCP_RETENTION_DAYS", "1")
    assert main(["haccp", "prune"]) == 0
    assert "raw readings of" in capsys.readouterr().out
