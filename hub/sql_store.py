"""The SQL side store's engine: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import anyio
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process's write lock before "database is locked"


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
        # Owner-only from the start: SQLite gives the -wal and -shm files the mode of the database file.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(engine.url.database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

    return engine


async def sql_ready(engine: Engine, *, seconds: float) -> str | None:
    """None when the SQL store takes a write within ``seconds``, else what stops it (for /readyz).

    SQLite in WAL mode lets readers in while another process holds the write lock, so a ``SELECT 1`` would pass
    while every write waits: the check takes the write lock (and gives it back at once) instead.
    """

    def check() -> None:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(seconds * 1000)}")
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            else:
                conn.execute(text("SELECT 1"))

    try:
        with anyio.fail_after(seconds + 0.5):
            await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return None
