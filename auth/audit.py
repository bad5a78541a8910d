"""The access log (SQL store): who read which firm's records, when, through which operation, and how many."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import anyio
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
    """Create the SQL store's tables that do not exist yet."""
    SQLModel.metadata.create_all(engine)


def _write(engine: Engine, entries: list[AccessLogEntry]) -> None:
    with Session(engine) as session:
        session.add_all(entries)
        session.commit()


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
    entries = [
        AccessLogEntry(
            at=now,
            owner_firm_id=owner,
            accessor_firm_id=accessor_firm_id,
            accessor_subject=accessor_subject,
            accessor_issuer=accessor_issuer,
            operation=operation,
            record_count=count,
        )
        for owner, count in sorted(counts.items())
    ]
    if entries:
        await anyio.to_thread.run_sync(_write, engine, entries)


def _read(engine: Engine, owner_firm_id: str, before_id: int | None, limit: int) -> list[AccessLogEntry]:
    with Session(engine) as session:
        query = select(AccessLogEntry).where(AccessLogEntry.owner_firm_id == owner_firm_id)
        if before_id is not None:
            query = query.where(col(AccessLogEntry.id) < before_id)
        return list(session.exec(query.order_by(col(AccessLogEntry.id).desc()).limit(limit)))


def _count(engine: Engine, owner_firm_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(AccessLogEntry).where(AccessLogEntry.owner_firm_id == owner_firm_id)
        return int(session.exec(query).one())


async def read_access_log(
    engine: Engine, *, owner_firm_id: str, before_id: int | None, limit: int
) -> list[AccessLogEntry]:
    """Entries about one owner's records, newest first."""
    return await anyio.to_thread.run_sync(_read, engine, owner_firm_id, before_id, limit)


async def count_access_log(engine: Engine, *, owner_firm_id: str) -> int:
    """How many entries concern one owner's records."""
    return await anyio.to_thread.run_sync(_count, engine, owner_firm_id)
