"""Compliance figures of a CCP over a time range: readings within limits, intervals monitored, deviations and
how long they waited for a corrective action. Figures only: shown to SUMMARY grantees and the agency too."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine

from graph_schema.access import CCP_IN_DETAIL, CCP_IN_SUMMARY, Viewer
from graph_schema.db import Graph
from graph_schema.haccp.readings import CcpReading, to_ms

READINGS: Final = CcpReading.__table__  # type: ignore[attr-defined]

# The CCP if the viewer may see its figures, with its deviations overlapping the range and, for each, the
# seconds from its opening to its first corrective action (none yet: null).
CCP_DEVIATION_FIGURES: Final = (
    """
MATCH (c:CCP {id: $ccpId})
WHERE """
    + CCP_IN_DETAIL
    + " OR "
    + CCP_IN_SUMMARY
    + """
OPTIONAL MATCH (c)-[:HAS_DEVIATION]->(d:Deviation)
WHERE d.windowStart < datetime($to) AND (d.windowEnd IS NULL OR d.windowEnd > datetime($from))
WITH c, d, COLLECT { MATCH (d)-[:CORRECTED_BY]->(a:CorrectiveAction) RETURN a.takenAt ORDER BY a.takenAt LIMIT 1 }[0]
       AS firstAction
RETURN c.id AS id, c.monitoringIntervalSeconds AS interval,
       count(d) AS deviations,
       count(CASE WHEN d.kind = 'OUT_OF_LIMITS' THEN 1 END) AS outOfLimits,
       count(CASE WHEN d.kind = 'MISSED_MONITORING' THEN 1 END) AS missedMonitoring,
       count(CASE WHEN d.status = 'OPEN' THEN 1 END) AS open,
       collect(CASE WHEN firstAction IS NOT NULL
                    THEN firstAction.epochMillis - d.openedAt.epochMillis END) AS toActionMs
"""
)


@dataclass(frozen=True)
class Compliance:
    """One CCP's figures over ``from_ms .. to_ms``."""

    ccp_id: str
    reading_count: int
    in_limit_count: int
    interval_count: int | None  # monitoring intervals in the range (None when the CCP has no interval)
    covered_interval_count: int | None  # of which at least one reading came
    deviation_count: int
    out_of_limits_count: int
    missed_monitoring_count: int
    open_deviation_count: int
    corrected_count: int
    mean_seconds_to_action: float | None
    max_seconds_to_action: float | None


def _reading_figures(engine: Engine, ccp_id: str, from_ms: int, to_ms_: int, interval_ms: int | None) -> Any:
    in_range = and_(READINGS.c.ccp_id == ccp_id, READINGS.c.at_ms >= from_ms, READINGS.c.at_ms < to_ms_)
    columns: list[Any] = [
        func.count(),
        func.coalesce(func.sum(case((READINGS.c.in_limits.is_(True), 1), else_=0)), 0),
    ]
    if interval_ms is not None:
        # integer division on both SQLite and PostgreSQL (BIGINT / BIGINT): the interval a reading falls in
        columns.append(func.count(func.distinct((READINGS.c.at_ms - from_ms) / interval_ms)))
    with engine.connect() as conn:
        return conn.execute(select(*columns).where(in_range)).one()


async def ccp_compliance(
    graph: Graph, engine: Engine, viewer: Viewer, *, ccp_id: str, start: datetime, end: datetime
) -> Compliance | None:
    """The CCP's figures over ``start .. end`` (end excluded), or None when the viewer may not see them."""
    params = {"ccpId": ccp_id, "from": start.isoformat(), "to": end.isoformat()}
    rows = await graph.read(CCP_DEVIATION_FIGURES, {**params, **viewer.shared_params()})
    if not rows:
        return None
    row = rows[0]
    from_ms, to_ms_ = to_ms(start), to_ms(end)
    interval_ms = int(row["interval"]) * 1000 if row["interval"] else None
    figures = await asyncio.to_thread(_reading_figures, engine, ccp_id, from_ms, to_ms_, interval_ms)
    waits = [ms / 1000 for ms in row["toActionMs"]]
    waits = [max(w, 0.0) for w in waits]  # an action taken before the hub saw the (late) readings: no wait
    intervals = -(-(to_ms_ - from_ms) // interval_ms) if interval_ms else None
    return Compliance(
        ccp_id=ccp_id,
        reading_count=int(figures[0]),
        in_limit_count=int(figures[1]),
        interval_count=intervals,
        covered_interval_count=int(figures[2]) if interval_ms else None,
        deviation_count=int(row["deviations"]),
        out_of_limits_count=int(row["outOfLimits"]),
        missed_monitoring_count=int(row["missedMonitoring"]),
        open_deviation_count=int(row["open"]),
        corrected_count=len(waits),
        mean_seconds_to_action=sum(waits) / len(waits) if waits else None,
        max_seconds_to_action=max(waits) if waits else None,
    )
