"""The SQL side store's engine: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine


def create_sql_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; a SQLite file is opened in WAL mode.

    WAL lets the hub's workers read while one writes and makes a commit an append to the log instead of a
    rewrite of the database with two syncs: every request that returns another firm's records commits an
    access-log entry, so this is on the hot path. ``synchronous=NORMAL`` (SQLite's advice for WAL) keeps every
    commit through a crash of the hub; only a power cut can lose the last commits. The busy timeout lets a
    second worker wait for the write lock instead of failing.
    """
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine
