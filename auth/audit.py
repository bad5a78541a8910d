"""The access log (SQL store): who read which firm's records, when, through which operation, and how many."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import insert, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, func, select


class AccessLogEntry(SQLModel, table=True):
    """One request's reading of one owner firm's records by another firm."""

    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    owner_firm_id: str = Field(index=True, max_length=100)
    accessor_firm_id: str = Field(max_length=100)
    accessor_subject: str = Field(max_length=300)
    accessor_issuer: str = Field(default="", max_length=300)
    operation: str = Field(max_length=200)
    record_count: int


def create_tables(engine: Engine) -> None:
    """Create the SQL store's tables that do not exist yet, and the columns a newer hub added to existing ones."""
    SQLModel.metadata.create_all(engine)
    add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> list[str]:
    """Add to existing tables the nullable columns their models gained since the store was made.

    The store of a hub that ran before an upgrade keeps its tables: ``create_all`` creates only what is missing
    whole. A nullable column a model gains later is added here (``table.column`` names returned); anything else
    (a changed type, a new NOT NULL column) needs a migration by hand and is left alone, so new columns of
    existing tables are nullable.
    """
    existing = inspect(engine)
    added: list[str] = []
    with engine.begin() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if not existing.has_table(table.name):
                continue
            present = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in present or column.primary_key:
                    continue
                if not column.nullable:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                connection.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
                added.append(f"{table.name}.{column.name}")
    return added


def _write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(AccessLogEntry), rows)


class _GroupCommit:
    """One writer of the access log per engine and event loop: the entries of every request waiting at that
    moment are committed together, and each request goes on only once its own entries are committed.

    Requests writing in threads of their own contended for SQLite's write lock: under load a waiting writer
    slept in SQLite's busy handler for up to hundreds of milliseconds. Here no two writes of this process
    overlap, and one commit serves many requests.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def write(self, rows: list[dict[str, Any]]) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, done))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)  # a request that goes away leaves its entries to be written all the same

    async def _flush(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                await anyio.to_thread.run_sync(_write, self.engine, [row for rows, _ in batch for row in rows])
            except Exception as error:  # every request of the batch is refused: none of them was logged
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                        done.exception()  # the request raises it itself; no 'never retrieved' warning
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _GroupCommit]] = weakref.WeakKeyDictionary()


def _writer(engine: Engine) -> _GroupCommit:
    per_engine = _writers.setdefault(asyncio.get_running_loop(), {})
    writer = per_engine.get(id(engine))
    if writer is None or writer.engine is not engine:
        writer = per_engine[id(engine)] = _GroupCommit(engine)
    return writer


async def record_access(
    engine: Engine,
    *,
    accessor_firm_id: str,
    accessor_subject: str,
    accessor_issuer: str,
    operation: str,
    counts: Mapping[str, int],
) -> None:
    """Write one entry per owner firm whose records a request returned to another firm."""
    now = datetime.now(UTC)
    rows = [
        {
            "at": now,
            "owner_firm_id": owner,
            "accessor_firm_id": accessor_firm_id,
            "accessor_subject": accessor_subject,
            "accessor_issuer": accessor_issuer,
            "operation": operation,
            "record_count": count,
        }
        for owner, count in sorted(counts.items())
    ]
    if rows:
        await _writer(engine).write(rows)


@dataclass(frozen=True)
class AccessLogFilter:
    """Filters of the access log; None means not filtered. ``since`` is inclusive, ``until`` exclusive."""

    since: datetime | None = None
    until: datetime | None = None
    accessor_firm_id: str | None = None
    operation: str | None = None


def _filtered(query: Any, owner_firm_id: str, where: AccessLogFilter) -> Any:
    query = query.where(AccessLogEntry.owner_firm_id == owner_firm_id)
    if where.since is not None:
        query = query.where(col(AccessLogEntry.at) >= where.since.astimezone(UTC))
    if where.until is not None:
        query = query.where(col(AccessLogEntry.at) < where.until.astimezone(UTC))
    if where.accessor_firm_id is not None:
        query = query.where(AccessLogEntry.accessor_firm_id == where.accessor_firm_id)
    if where.operation is not None:
        query = query.where(AccessLogEntry.operation == where.operation)
    return query


def _read(
    engine: Engine, owner_firm_id: str, before_id: int | None, limit: int, where: AccessLogFilter
) -> list[AccessLogEntry]:
    with Session(engine) as session:
        query = _filtered(select(AccessLogEntry), owner_firm_id, where)
        if before_id is not None:
            query = query.where(col(AccessLogEntry.id) < before_id)
        return list(session.exec(query.order_by(col(AccessLogEntry.id).desc()).limit(limit)))


def _count(engine: Engine, owner_firm_id: str, where: AccessLogFilter) -> int:
    with Session(engine) as session:
        query = _filtered(select(func.count()).select_from(AccessLogEntry), owner_firm_id, where)
        return int(session.exec(query).one())


async def read_access_log(
    engine: Engine,
    *,
    owner_firm_id: str,
    before_id: int | None,
    limit: int,
    where: AccessLogFilter | None = None,
) -> list[AccessLogEntry]:
    """Entries about one owner's records, newest first, filtered by date range, reader firm and operation."""
    return await anyio.to_thread.run_sync(_read, engine, owner_firm_id, before_id, limit, where or AccessLogFilter())


async def count_access_log(engine: Engine, *, owner_firm_id: str, where: AccessLogFilter | None = None) -> int:
    """How many entries concern one owner's records (with the same filters)."""
    return await anyio.to_thread.run_sync(_count, engine, owner_firm_id, where or AccessLogFilter())
