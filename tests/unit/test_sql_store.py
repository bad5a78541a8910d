"""The SQL side store's engine: a SQLite file in WAL mode, other URLs as given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from auth.audit import add_missing_columns, create_tables
from hub import capture_jobs
from hub.sql_store import create_sql_engine


def test_a_sqlite_file_is_opened_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    engine.dispose()


def test_an_in_memory_database_keeps_sqlites_defaults() -> None:
    engine = create_sql_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "memory"
    engine.dispose()


def test_columns_a_model_gained_are_added_to_an_existing_table(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    with engine.begin() as connection:  # the capture jobs as an older hub made them: no owner, no heartbeat
        connection.execute(text("ALTER TABLE epcis_capture_job DROP COLUMN owner"))
        connection.execute(text("ALTER TABLE epcis_capture_job DROP COLUMN heartbeat_at"))
    assert sorted(add_missing_columns(engine)) == ["epcis_capture_job.heartbeat_at", "epcis_capture_job.owner"]
    assert add_missing_columns(engine) == []
    engine.dispose()


def test_a_new_not_null_column_is_left_to_a_migration_by_hand(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    with engine.begin() as connection:  # the access log without accessor_issuer (NOT NULL in the model)
        connection.execute(text("ALTER TABLE access_log DROP COLUMN accessor_issuer"))
    assert add_missing_columns(engine) == []
    engine.dispose()


async def test_only_jobs_whose_process_stopped_saying_so_are_declared_interrupted(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    for job_id, owner in (("alive", "host-a:1"), ("dead", "host-b:2"), ("older-hub", None)):
        await capture_jobs.start_job(
            engine, job_id=job_id, firm_id="plant", subject="s", error_behaviour="rollback", owner=owner
        )
    with engine.begin() as connection:  # host-b last beat two minutes ago; the older hub never did
        connection.execute(
            text("UPDATE epcis_capture_job SET heartbeat_at = :at WHERE id = 'dead'"),
            {"at": datetime.now(UTC) - timedelta(minutes=2)},
        )
        connection.execute(text("UPDATE epcis_capture_job SET heartbeat_at = NULL WHERE id = 'older-hub'"))
    assert await capture_jobs.heartbeat(engine, "host-a:1") == 1
    assert await capture_jobs.interrupt_stale_jobs(engine, stale_after=timedelta(seconds=60)) == 2
    states = {
        job_id: (job.running, job.success)
        for job_id in ("alive", "dead", "older-hub")
        if (job := await capture_jobs.get_job(engine, job_id, firm_id="plant")) is not None
    }
    assert states == {"alive": (True, None), "dead": (False, False), "older-hub": (False, False)}
    engine.dispose()
