"""The access log's writer: concurrent requests' entries committed together, each request waiting for its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from auth.audit import create_tables, read_access_log, record_access
from hub.sql_store import create_sql_engine


async def log_one(engine: Engine, n: int) -> None:
    await record_access(
        engine,
        accessor_firm_id=f"reader-{n}",
        accessor_subject=f"app-{n}",
        accessor_issuer="https://idp.example",
        operation="lot",
        counts={"owner": n + 1, "other-owner": 1},
    )


async def test_concurrent_requests_share_commits_and_every_entry_is_written(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))

    await asyncio.gather(*(log_one(engine, n) for n in range(20)))

    rows = await read_access_log(engine, owner_firm_id="owner", before_id=None, limit=100)
    assert sorted(row.record_count for row in rows) == list(range(1, 21))
    assert {row.accessor_firm_id for row in rows} == {f"reader-{n}" for n in range(20)}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM access_log")).scalar() == 40
    assert len(commits) <= 2  # one commit for the requests waiting together (two if the first went alone)
    engine.dispose()


async def test_when_the_store_refuses_every_waiting_request_fails(tmp_path: Path) -> None:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'hub.db'}")  # no tables: every write fails
    results = await asyncio.gather(*(log_one(engine, n) for n in range(5)), return_exceptions=True)
    assert len(results) == 5
    assert all(isinstance(result, Exception) for result in results)
    create_tables(engine)
    await log_one(engine, 7)  # the writer goes on after a failed batch
    rows = await read_access_log(engine, owner_firm_id="owner", before_id=None, limit=10)
    assert [row.accessor_firm_id for row in rows] == ["reader-7"]
    engine.dispose()
