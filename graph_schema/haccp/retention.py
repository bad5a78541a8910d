"""The retention of raw CCP readings: after a set period only their hourly aggregates stay, still verifiable.

Every reading is counted into its CCP's hourly aggregate (count, min, max, sum, out of limits) as it arrives
(graph_schema.haccp.ingest), so pruning only deletes: the readings that arrived on days (UTC) wholly before the
cut-off, which are the oldest part of each device's chain, and the per-minute aggregates before it. What stays
provable, and how:
- each device's chain resumes from an anchor, the sequence number and hash of its last reading pruned: the
  first reading kept must follow it (``hub haccp verify`` checks this);
- the day seals of the pruned days are kept and marked rolled up: their digests stay in the monthly records;
- the hourly aggregates before the cut-off are sealed per CCP (a digest over their rows, in time order). The
  ingest refuses readings measured before the retention period, so those rows never change again and verify
  recomputes their digest.
Deviations and corrective actions live in the graph and are never pruned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from graph_schema.haccp.chain import DAY_MS, arrival_day
from graph_schema.haccp.readings import (
    CcpChainAnchor,
    CcpDaySeal,
    CcpReading,
    CcpReadingHour,
    CcpReadingMinute,
    CcpRollupSeal,
)

READINGS = CcpReading.__table__  # type: ignore[attr-defined]
ANCHORS = CcpChainAnchor.__table__  # type: ignore[attr-defined]
SEALS = CcpDaySeal.__table__  # type: ignore[attr-defined]
MINUTES = CcpReadingMinute.__table__  # type: ignore[attr-defined]
HOURS = CcpReadingHour.__table__  # type: ignore[attr-defined]


ROLLUP_SEALS = CcpRollupSeal.__table__  # type: ignore[attr-defined]
ROLLUP_FIELDS: Final = ("bucket_ms", "count", "min", "max", "sum", "out_of_limits")


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed and where it cut."""

    cutoff_day: str  # readings that arrived before this day (UTC) are gone
    readings: int
    devices: int
    days: int


def rollup_digest(ccp_id: str, rows: Iterable[Any]) -> str:
    """The digest over a CCP's hourly aggregates, in time order (rows of ``ROLLUP_FIELDS``)."""
    digest = hashlib.sha256(ccp_id.encode())
    for row in rows:
        digest.update(("|".join(repr(value) for value in row) + "\n").encode())
    return digest.hexdigest()


def hourly_rows(conn: Connection, ccp_id: str, through_ms: int) -> list[tuple[Any, ...]]:
    """A CCP's hourly aggregates before ``through_ms``, in time order, as the rollup seal covers them."""
    query = (
        select(*(HOURS.c[name] for name in ROLLUP_FIELDS))
        .where(HOURS.c.ccp_id == ccp_id, HOURS.c.bucket_ms < through_ms)
        .order_by(HOURS.c.bucket_ms)
    )
    return [(int(b), int(n), float(lo), float(hi), float(s), int(out)) for b, n, lo, hi, s, out in conn.execute(query)]


def prune(engine: Engine, *, now_ms: int, retention_days: int) -> PruneReport:
    """Delete the raw readings that arrived on days wholly before ``now - retention_days``; keep them provable."""
    cutoff_ms = (now_ms - retention_days * DAY_MS) // DAY_MS * DAY_MS
    cutoff_day = arrival_day(cutoff_ms)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        # per device, the last reading that arrived before the cut-off: its chain's prefix up to it goes
        last = (
            select(READINGS.c.device_id, func.max(READINGS.c.seq).label("seq"))
            .where(READINGS.c.recorded_at_ms < cutoff_ms)
            .group_by(READINGS.c.device_id)
            .subquery()
        )
        ends = conn.execute(
            select(READINGS.c.device_id, READINGS.c.seq, READINGS.c.hash).join(
                last, and_(READINGS.c.device_id == last.c.device_id, READINGS.c.seq == last.c.seq)
            )
        ).all()
        removed = 0
        if ends:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(ANCHORS)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["device_id"], set_={"seq": insert.excluded.seq, "hash": insert.excluded.hash}
                ),
                [{"device_id": device, "seq": int(seq), "hash": digest} for device, seq, digest in ends],
            )
            for device, seq, _ in ends:
                result = conn.execute(delete(READINGS).where(READINGS.c.device_id == device, READINGS.c.seq <= seq))
                removed += int(result.rowcount or 0)
        days = conn.execute(
            update(SEALS).where(SEALS.c.day < cutoff_day, SEALS.c.rolled_up.is_(False)).values(rolled_up=True)
        ).rowcount
        conn.execute(delete(MINUTES).where(MINUTES.c.bucket_ms < cutoff_ms))
        ccp_ids = [
            row[0] for row in conn.execute(select(HOURS.c.ccp_id).where(HOURS.c.bucket_ms < cutoff_ms).distinct())
        ]
        for ccp_id in ccp_ids:
            rows = hourly_rows(conn, ccp_id, cutoff_ms)
            values = {"through_ms": cutoff_ms, "hours": len(rows), "digest": rollup_digest(ccp_id, rows)}
            insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(ROLLUP_SEALS)
            conn.execute(
                insert.on_conflict_do_update(index_elements=["ccp_id"], set_=values), [{"ccp_id": ccp_id, **values}]
            )
        conn.commit()
    return PruneReport(cutoff_day=cutoff_day, readings=removed, devices=len(ends), days=int(days or 0))
