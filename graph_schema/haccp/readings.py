"""CCP readings: the time series a plant's Smart HACCP devices report, kept in the SQL side store.

Readings are not a graph: millions of rows per CCP and year, read by time range. They live in the SQL store
(SQLite by default, PostgreSQL in production), one row per reading, idempotent on (device, time). Times are
stored as integer milliseconds since the Unix epoch (UTC): portable between SQLite and PostgreSQL, compact,
and compared and bucketed without parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def to_ms(moment: datetime) -> int:
    """A timezone-aware time as milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Milliseconds since the epoch as a UTC time."""
    return datetime.fromtimestamp(ms / 1000, UTC)


class CcpReading(SQLModel, table=True):
    """One reading of one device for one CCP: the value, the limits in force and whether it was within them."""

    __tablename__ = "ccp_reading"
    __table_args__ = (
        UniqueConstraint("device_id", "at_ms", name="uq_ccp_reading_device_time"),
        Index("ix_ccp_reading_ccp_time", "ccp_id", "at_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ccp_id: str = Field(max_length=100)
    site_gln: str = Field(max_length=13, index=True)
    firm_id: str = Field(max_length=100)
    device_id: str = Field(max_length=200)
    at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))  # when it was measured
    value: float
    unit: str = Field(max_length=20)
    limit_low: float | None = None  # the critical limits in force when it was measured
    limit_high: float | None = None
    in_limits: bool
    recorded_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))  # when the hub received it


@dataclass(frozen=True)
class ReadingSpan:
    """The readings one accepted batch added to one CCP, by measurement time (a late batch may lie in the past)."""

    ccp_id: str
    first_at_ms: int
    last_at_ms: int
    count: int
