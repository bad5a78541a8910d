"""The shared change counter on a real SQLite file, as two hub processes would share it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from auth.audit import create_tables
from auth.changes import SharedChanges, bump
from hub.sql_store import create_sql_engine


def engine_at(path: Path) -> Engine:
    engine = create_sql_engine(f"sqlite:///{path}")
    create_tables(engine)
    return engine


async def test_a_write_announced_by_one_process_is_seen_by_another(tmp_path: Path) -> None:
    clock = [0.0]
    this = SharedChanges(engine_at(tmp_path / "hub.db"), check_seconds=1.0, clock=lambda: clock[0])
    other = SharedChanges(engine_at(tmp_path / "hub.db"), check_seconds=1.0)
    assert await this.moved() is False  # the first look only learns where the counter stands
    await other.announce()
    assert await this.moved() is False  # looked less than a second ago: no read
    clock[0] = 1.5
    assert await this.moved() is True
    clock[0] = 3.0
    assert await this.moved() is False  # nothing new since
    assert this.reads == 3


def test_the_first_write_creates_the_counter_and_later_ones_move_it(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "hub.db")
    for _ in range(3):
        bump(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT id, value FROM hub_change_counter").all() == [(1, 3)]


async def test_an_unreadable_store_counts_as_a_change(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "hub.db")
    changes = SharedChanges(engine, check_seconds=0)
    assert await changes.moved() is False
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE hub_change_counter")
    assert await changes.moved() is True
