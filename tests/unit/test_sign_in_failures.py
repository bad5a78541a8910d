"""Failed client authentications in the SQL store: the same rule as the in-process count."""

from __future__ import annotations

from pathlib import Path

import pytest

from auth.audit import create_tables
from hub import sign_in_failures  # noqa: F401 (its table)
from hub.oauth import FailedAttempts
from hub.sign_in_failures import SharedFailedAttempts
from hub.sql_store import create_sql_engine


async def test_the_shared_count_follows_the_in_process_rule(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    now = [1000.0]
    shared = SharedFailedAttempts(lambda: engine, limit=2, window_seconds=10, clock=lambda: now[0])
    local = FailedAttempts(limit=2, window_seconds=10, clock=lambda: now[0])
    for attempts in (shared, local):
        now[0] = 1000.0
        await attempts.failed("a")
        assert await attempts.wait_for("a") is None
        now[0] = 1004.0
        await attempts.failed("a")
        assert await attempts.wait_for("a") == pytest.approx(6)
        assert await attempts.wait_for("b") is None  # another client or address is not locked out
        now[0] = 1010.5
        assert await attempts.wait_for("a") is None  # the first failure left the window
    with engine.connect() as connection:  # rows out of the window are deleted as new failures come
        await shared.failed("c")
        assert connection.exec_driver_sql("SELECT count(*) FROM sign_in_failure").scalar() == 2
