"""CCP readings: the time series a plant's Smart HACCP devices report, kept in the SQL side store.

Readings are not a graph: millions of rows per CCP and year, read by time range. They live in the SQL store
(SQLite by default, PostgreSQL in production), one row per reading, idempotent on (device, time). Times are
stored as integer milliseconds since the Unix epoch (UTC): portable between SQLite and PostgreSQL, compact,
and compared and bucketed without parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, String, Text, UniqueConstraint
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
    # the device's hash chain, in arrival order (graph_schema.haccp.chain); nullable only so that a store made
    # before the chain gains the columns at start-up: every reading written since carries them
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class CcpDeviceChain(SQLModel, table=True):
    """The head of one device's hash chain: its last reading's sequence number and hash."""

    __tablename__ = "ccp_device_chain"

    device_id: str = Field(primary_key=True, max_length=200)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


class CcpDaySeal(SQLModel, table=True):
    """A plant's arrival day (UTC) sealed: how many readings arrived that day, where each device's chain stood at
    the day's last arrival, and the digest over both (graph_schema.haccp.chain.seal_digest). A day's seal stops
    changing once the day is over."""

    __tablename__ = "ccp_day_seal"

    site_gln: str = Field(primary_key=True, max_length=13)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD, UTC
    reading_count: int = Field(sa_column=Column(BigInteger, nullable=False))
    heads: str = Field(sa_column=Column(Text, nullable=False))  # JSON {device: [seq, hash]}
    digest: str = Field(max_length=64)
    rolled_up: bool = False  # its readings were rolled up into hourly aggregates by the retention


class CcpChainAnchor(SQLModel, table=True):
    """Where a device's chain resumes after the retention deleted its oldest readings: the sequence number and
    hash of the last reading rolled up. The first reading kept must follow it."""

    __tablename__ = "ccp_chain_anchor"

    device_id: str = Field(primary_key=True, max_length=200)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    hash: str = Field(max_length=64)


@dataclass(frozen=True)
class ReadingSpan:
    """The readings one accepted batch added to one CCP, by measurement time (a late batch may lie in the past)."""

    ccp_id: str
    first_at_ms: int
    last_at_ms: int
    count: int
