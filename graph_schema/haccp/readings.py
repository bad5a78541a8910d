"""CCP readings: the time series a plant's Smart HACCP devices report, kept in the SQL side store.

Readings are not a graph: millions of rows per CCP and year, read by time range. They live in the SQL store
(SQLite by default, PostgreSQL in production), one row per reading, idempotent on (device, time). Times are
stored as integer milliseconds since the Unix epoch (UTC): portable between SQLite and PostgreSQL, compact,
and compared and bucketed without parsing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, Column, Index, String, Text, UniqueConstraint, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from graph_schema.errors import HubError


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


class CcpRollupSeal(SQLModel, table=True):
    """A CCP's hourly aggregates before ``through_ms`` sealed when the raw readings behind them were pruned
    (graph_schema.haccp.retention)."""

    __tablename__ = "ccp_rollup_seal"

    ccp_id: str = Field(primary_key=True, max_length=100)
    through_ms: int = Field(sa_type=BigInteger)
    hours: int
    digest: str = Field(max_length=64)


class _Aggregate(SQLModel):
    """The readings of one CCP within one bucket of time (by measurement time): for charts and the retention."""

    ccp_id: str = Field(primary_key=True, max_length=100)
    bucket_ms: int = Field(primary_key=True, sa_type=BigInteger)  # the bucket's start
    count: int = Field(sa_type=BigInteger)
    min: float
    max: float
    sum: float
    out_of_limits: int = Field(sa_type=BigInteger)


class CcpReadingMinute(_Aggregate, table=True):
    """Per CCP and minute: what a chart of a few hours to a few weeks draws from."""

    __tablename__ = "ccp_reading_minute"


class CcpReadingHour(_Aggregate, table=True):
    """Per CCP and hour: what a chart of months draws from, and what stays of raw readings the retention removed."""

    __tablename__ = "ccp_reading_hour"


MINUTE_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class ReadingSpan:
    """The readings one accepted batch added to one CCP, by measurement time (a late batch may lie in the past)."""

    ccp_id: str
    first_at_ms: int
    last_at_ms: int
    count: int


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a CCP's chart: a reading (count 1, no min or max), or a bucket's mean, min, max and count."""

    at_ms: int
    value: float
    min: float | None
    max: float | None
    count: int


def series(engine: Engine, ccp_id: str, *, from_ms: int, to_ms: int, max_points: int) -> list[SeriesPoint]:
    """A CCP's readings measured in [from_ms, to_ms) as at most ``max_points`` points.

    The readings themselves where there are few enough; else buckets of equal width (their mean, min, max and
    count) taken from the hourly aggregates when a bucket spans an hour or more, from the per-minute ones when
    it spans a minute or more (buckets are then whole hours or minutes, the first and last aligned to them), and
    from the readings otherwise. A year of one reading a second is 8,760 hourly rows, not 31 million readings.
    """
    span = max(to_ms - from_ms, 1)
    width = -(-span // max_points)
    with engine.connect() as conn:
        if width >= HOUR_MS:
            return _buckets(conn, HOURS, ccp_id, from_ms, to_ms, -(-width // HOUR_MS) * HOUR_MS, HOUR_MS)
        if width >= MINUTE_MS:
            return _buckets(conn, MINUTES, ccp_id, from_ms, to_ms, -(-width // MINUTE_MS) * MINUTE_MS, MINUTE_MS)
        in_range = (READINGS.c.ccp_id == ccp_id) & (READINGS.c.at_ms >= from_ms) & (READINGS.c.at_ms < to_ms)
        count = int(conn.execute(select(func.count()).where(in_range)).scalar_one())
        if count <= max_points:
            query = select(READINGS.c.at_ms, READINGS.c.value).where(in_range).order_by(READINGS.c.at_ms)
            return [SeriesPoint(int(at), float(value), None, None, 1) for at, value in conn.execute(query)]
        k = ((READINGS.c.at_ms - from_ms) // width).label("k")
        query = (
            select(k, func.count(), func.min(READINGS.c.value), func.max(READINGS.c.value), func.sum(READINGS.c.value))
            .where(in_range)
            .group_by(k)
            .order_by(k)
        )
        return [_point(from_ms + int(b) * width, n, lo, hi, total) for b, n, lo, hi, total in conn.execute(query)]


def _buckets(
    conn: Connection, table: Any, ccp_id: str, from_ms: int, to_ms: int, width: int, unit: int
) -> list[SeriesPoint]:
    origin = from_ms - from_ms % unit
    k = ((table.c.bucket_ms - origin) // width).label("k")
    query = (
        select(k, func.sum(table.c.count), func.min(table.c.min), func.max(table.c.max), func.sum(table.c.sum))
        .where(table.c.ccp_id == ccp_id, table.c.bucket_ms >= origin, table.c.bucket_ms < to_ms)
        .group_by(k)
        .order_by(k)
    )
    return [_point(origin + int(b) * width, n, lo, hi, total) for b, n, lo, hi, total in conn.execute(query)]


def _point(at_ms: int, count: Any, low: Any, high: Any, total: Any) -> SeriesPoint:
    n = int(count)
    return SeriesPoint(at_ms, float(total) / n, float(low), float(high), n)


READINGS = CcpReading.__table__  # type: ignore[attr-defined]
MINUTES = CcpReadingMinute.__table__  # type: ignore[attr-defined]
HOURS = CcpReadingHour.__table__  # type: ignore[attr-defined]


def hourly_rows(engine: Engine, ccp_ids: list[str], *, from_ms: int, to_ms: int) -> list[tuple[Any, ...]]:
    """(ccp_id, hour_ms, count, min, max, sum, out_of_limits) of the CCPs' hourly aggregates in [from_ms, to_ms)."""
    if not ccp_ids:
        return []
    query = (
        select(HOURS.c.ccp_id, HOURS.c.bucket_ms, HOURS.c.count, HOURS.c.min, HOURS.c.max, HOURS.c.sum,
               HOURS.c.out_of_limits)
        .where(HOURS.c.ccp_id.in_(ccp_ids), HOURS.c.bucket_ms >= from_ms, HOURS.c.bucket_ms < to_ms)
        .order_by(HOURS.c.ccp_id, HOURS.c.bucket_ms)
    )  # fmt: skip
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def day_seals(engine: Engine, site_gln: str, *, first_day: str, last_day: str) -> list[tuple[str, int, str, bool]]:
    """(day, reading_count, digest, rolled_up) of a plant's sealed arrival days from first_day to last_day."""
    seals = CcpDaySeal.__table__  # type: ignore[attr-defined]
    query = (
        select(seals.c.day, seals.c.reading_count, seals.c.digest, seals.c.rolled_up)
        .where(seals.c.site_gln == site_gln, seals.c.day >= first_day, seals.c.day <= last_day)
        .order_by(seals.c.day)
    )
    with engine.connect() as conn:
        return [(str(d), int(n), str(x), bool(r)) for d, n, x, r in conn.execute(query)]


KST = timezone(timedelta(hours=9), "KST")  # the plants' days: Korea Standard Time, no daylight saving
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(month: str | None) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in KST; BAD_USER_INPUT unless month is YYYY-MM."""
    match = MONTH.match(month or "")
    if match is None:
        raise HubError("give the month as month=YYYY-MM, e.g. month=2026-11", field="month")
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, number, 1, tzinfo=KST)
    return start, start + timedelta(days=calendar.monthrange(year, number)[1])
