"""The SQL side store's engine: a SQLite file in WAL mode, other URLs as given."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

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
