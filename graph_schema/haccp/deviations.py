"""Deviations of Smart HACCP critical control points: found in the readings, kept in the graph with their lots.

A deviation is ``(:CCP)-[:HAS_DEVIATION]->(:Deviation)``, linked ``-[:DURING]->`` to every lot produced at the
CCP's site within its window (only the CCP's ``productGtins`` when it names them):

- ``OUT_OF_LIMITS``: one excursion, consecutive readings outside the critical limits. Its window runs from the
  last in-limit reading before the excursion to the first in-limit reading after it (``windowEnd`` null while
  the CCP is still out of limits): the time in which the product is not known to be safe. An excursion in the
  very first readings of a CCP starts its window at its first reading.
- ``MISSED_MONITORING``: a silence longer than the CCP's ``monitoringIntervalSeconds`` plus a grace, from the
  last reading before it to the first after it (``windowEnd`` null while it lasts).

Readings are placed by measurement time, not arrival: ``evaluate`` looks at the stretch of readings a batch
touched, widened to the neighbouring in-limit readings (or readings, for silences) and to the deviations
already recorded there, computes that stretch's deviations afresh and reconciles them with the recorded
ones. So a late batch can open a deviation in the past, extend, shrink or split one, and the lot links
follow. A recorded deviation keeps its id, status and corrective actions; the part split off one is a new
deviation that inherits its status and its corrective actions (the action covered the whole of it as it was
known). A missed monitoring that late readings fill is removed, unless a corrective action was recorded on it.

Each CCP is evaluated in one write transaction that first locks the CCP node, and reads the readings after
taking the lock, so concurrent batches of one CCP are evaluated one after the other on committed readings.

Holds: with ``hold`` the deviation puts the lots it links ``ON_HOLD`` (never a ``RECALLED`` one), lots linked
later included (``d.hold``). A corrective action that closes the deviation releases them: a lot goes back to
the status it had before any open deviation or recall held it, unless another open deviation or recall still
holds it (then that one's release does it). Recalls keep the same bookkeeping (graph_schema/recalls.py).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from neo4j import AsyncManagedTransaction
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from graph_schema.access import DEVIATION_IN_DETAIL, Viewer
from graph_schema.db import Graph, Row, keyed_lists, run
from graph_schema.errors import HubError, NotFound
from graph_schema.haccp.readings import CcpReading, ReadingSpan, to_ms
from graph_schema.model import DeviationKind, DeviationStatus

DEFAULT_GRACE_SECONDS: Final = 60
READINGS: Final = CcpReading.__table__  # type: ignore[attr-defined]

# Lot ``l`` was produced within the window of deviation ``d`` of CCP ``c``: the one definition every link uses
# (the evaluation below and every lot write path: recordLots, EPCIS commissioning, spreadsheet import).
DEVIATION_COVERS_LOT: Final = (
    "(l.siteGln = c.siteGln AND l.producedAt >= d.windowStart"
    " AND (d.windowEnd IS NULL OR l.producedAt <= d.windowEnd)"
    " AND (size(coalesce(c.productGtins, [])) = 0 OR l.productGtin IN c.productGtins))"
)

# Linking lot ``l`` to deviation ``d``: an open deviation with ``hold`` holds it unless it is RECALLED. The
# prior status is the one before any open deviation or recall held the lot, inherited from one that holds it.
LINK_LOT: Final = """
WITH d, l, d.hold AND d.status = 'OPEN' AND l.status <> 'RECALLED' AS held
WITH d, l, held, CASE WHEN held THEN coalesce(
       COLLECT { MATCH (l)<-[other:DURING {held: true}]-(od:Deviation {status: 'OPEN'}) WHERE od <> d
                 RETURN other.priorStatus LIMIT 1 }[0],
       COLLECT { MATCH (l)<-[other:AFFECTS {held: true}]-(:Recall {status: 'OPEN'})
                 RETURN other.priorStatus LIMIT 1 }[0],
       l.status) END AS prior
MERGE (d)-[link:DURING]->(l)
ON CREATE SET link.held = held, link.priorStatus = prior,
              l.status = CASE WHEN held AND l.status = 'ACTIVE' THEN 'ON_HOLD' ELSE l.status END
"""

# Releasing lot ``l`` from deviation ``d``'s hold (``link``): back to its prior status when nothing else holds it.
RELEASE_LOT: Final = """
WITH d, l, link, link.held AND l.status = 'ON_HOLD' AND link.priorStatus = 'ACTIVE'
  AND NOT EXISTS { MATCH (l)<-[:DURING {held: true}]-(od:Deviation {status: 'OPEN'}) WHERE od <> d }
  AND NOT EXISTS { MATCH (l)<-[:AFFECTS {held: true}]-(:Recall {status: 'OPEN'}) } AS release
SET l.status = CASE WHEN release THEN 'ACTIVE' ELSE l.status END
"""

# For the lot write paths: once lot ``l`` is written (``created`` when new), link it to the deviations whose
# window covers it; recorded after the deviation opened, it is linked all the same.
LINK_NEW_LOT: Final = (
    """
CALL (l, created) {
  WITH l WHERE created
  MATCH (c:CCP {siteGln: l.siteGln})-[:HAS_DEVIATION]->(d:Deviation)
  WHERE """
    + DEVIATION_COVERS_LOT
    + LINK_LOT
    + """
  RETURN count(*) AS deviations
}
"""
)

DEVIATION_FIELDS: Final = (
    "d {.id, .ccpId, .siteGln, .firmId, .kind, .status, .worstValue, openedAt: toString(d.openedAt),"
    " closedAt: toString(d.closedAt), windowStart: toString(d.windowStart), windowEnd: toString(d.windowEnd),"
    " lotIds: [(d)-[:DURING]->(x) | x.id],"
    " actions: [(d)-[:CORRECTED_BY]->(a) | a {.id, .action, .by, takenAt: toString(a.takenAt),"
    " recordedAt: toString(a.recordedAt)}]}"
)


@dataclass(frozen=True)
class Point:
    """One reading as the evaluation needs it."""

    at_ms: int
    value: float
    in_limits: bool
    limit_low: float | None
    limit_high: float | None

    def excess(self) -> float:
        """How far outside its limits the reading lies (0 within them)."""
        below = self.limit_low - self.value if self.limit_low is not None else 0.0
        above = self.value - self.limit_high if self.limit_high is not None else 0.0
        return max(below, above, 0.0)


@dataclass(frozen=True)
class Window:
    """A deviation as computed from readings: its window (end None while it lasts) and worst value."""

    kind: DeviationKind
    start_ms: int
    end_ms: int | None
    worst: float | None = None

    def overlaps(self, start_ms: int, end_ms: int | None) -> bool:
        """True when the window shares some time (more than a boundary instant) with ``start_ms..end_ms``."""
        return (end_ms is None or self.start_ms < end_ms) and (self.end_ms is None or start_ms < self.end_ms)


def excursions(points: Sequence[Point]) -> list[Window]:
    """The OUT_OF_LIMITS windows among readings in time order."""
    windows: list[Window] = []
    last_in: int | None = None
    start: int | None = None
    worst: Point | None = None
    for point in points:
        if point.in_limits:
            if start is not None and worst is not None:
                windows.append(Window(DeviationKind.OUT_OF_LIMITS, start, point.at_ms, worst.value))
                start, worst = None, None
            last_in = point.at_ms
            continue
        if start is None:
            start = last_in if last_in is not None else point.at_ms
        if worst is None or point.excess() > worst.excess():
            worst = point
    if start is not None and worst is not None:
        windows.append(Window(DeviationKind.OUT_OF_LIMITS, start, None, worst.value))
    return windows


def silences(times: Sequence[int], *, allowed_ms: int, until_ms: int | None) -> list[Window]:
    """The MISSED_MONITORING windows: gaps longer than ``allowed_ms`` between readings in time order, and the
    silence since the last one when ``until_ms`` (now) is given and no reading follows it."""
    windows = [
        Window(DeviationKind.MISSED_MONITORING, before, after)
        for before, after in itertools.pairwise(times)
        if after - before > allowed_ms
    ]
    if until_ms is not None and times and until_ms - times[-1] > allowed_ms:
        windows.append(Window(DeviationKind.MISSED_MONITORING, times[-1], None))
    return windows


@dataclass(frozen=True)
class Recorded:
    """A deviation already in the graph, as the reconciliation needs it."""

    id: str
    start_ms: int
    end_ms: int | None
    has_actions: bool


@dataclass(frozen=True)
class Change:
    """What to write for one computed window: the recorded deviation it continues, or a new one."""

    window: Window
    id: str
    new: bool
    split_from: str | None = None


def reconcile(recorded: Sequence[Recorded], windows: Sequence[Window]) -> tuple[list[Change], list[str]]:
    """Match computed windows to recorded deviations (in time order): each recorded deviation continues in the
    first window it overlaps; a later window overlapping it is split off it; a window overlapping none is new.
    Returns the changes and the ids of recorded deviations no window continues (a silence filled late)."""
    ordered = sorted(recorded, key=lambda r: r.start_ms)
    continued: set[str] = set()
    changes: list[Change] = []
    for window in windows:
        touching = [r for r in ordered if window.overlaps(r.start_ms, r.end_ms)]
        free = [r for r in touching if r.id not in continued]
        if free:
            continued.add(free[0].id)
            changes.append(Change(window, free[0].id, new=False))
        else:
            parent = touching[0].id if touching else None
            changes.append(Change(window, f"DEV-{uuid.uuid4().hex}", new=True, split_from=parent))
    orphans = [r.id for r in ordered if r.id not in continued]
    return changes, orphans


# --- the readings (SQL store) ----------------------------------------------------------------------------


def _neighbour(conn: Any, ccp_id: str, *, before: int | None, after: int | None, in_limits: bool) -> int | None:
    column = READINGS.c.at_ms
    conditions = [READINGS.c.ccp_id == ccp_id]
    if in_limits:
        conditions.append(READINGS.c.in_limits.is_(True))
    if before is not None:
        query = select(func.max(column)).where(and_(*conditions, column < before))
    else:
        query = select(func.min(column)).where(and_(*conditions, column > after))
    value = conn.execute(query).scalar()
    return int(value) if value is not None else None


def _points(conn: Any, ccp_id: str, lo: int | None, hi: int | None) -> list[Any]:
    conditions = [READINGS.c.ccp_id == ccp_id]
    if lo is not None:
        conditions.append(READINGS.c.at_ms >= lo)
    if hi is not None:
        conditions.append(READINGS.c.at_ms <= hi)
    query = (
        select(READINGS.c.at_ms, READINGS.c.value, READINGS.c.in_limits, READINGS.c.limit_low, READINGS.c.limit_high)
        .where(and_(*conditions))
        .order_by(READINGS.c.at_ms, READINGS.c.in_limits)
    )
    return list(conn.execute(query))


def _bounds(engine: Engine, span: ReadingSpan, *, in_limits: bool) -> tuple[int | None, int | None]:
    with engine.connect() as conn:
        lo = _neighbour(conn, span.ccp_id, before=span.first_at_ms, after=None, in_limits=in_limits)
        hi = _neighbour(conn, span.ccp_id, before=None, after=span.last_at_ms, in_limits=in_limits)
    return lo, hi


def _read_points(engine: Engine, ccp_id: str, lo: int | None, hi: int | None) -> list[Point]:
    with engine.connect() as conn:
        rows = _points(conn, ccp_id, lo, hi)
    return [Point(int(r[0]), float(r[1]), bool(r[2]), r[3], r[4]) for r in rows]


def last_readings(engine: Engine, ccp_ids: Sequence[str]) -> dict[str, int]:
    """The time (ms) of each CCP's latest reading, for those that have one."""
    if not ccp_ids:
        return {}
    query = (
        select(READINGS.c.ccp_id, func.max(READINGS.c.at_ms))
        .where(READINGS.c.ccp_id.in_(list(ccp_ids)))
        .group_by(READINGS.c.ccp_id)
    )
    with engine.connect() as conn:
        return {str(r[0]): int(r[1]) for r in conn.execute(query)}


# --- the graph -------------------------------------------------------------------------------------------

LOCK_CCP: Final = """
MATCH (c:CCP {id: $ccpId})
SET c.deviationsCheckedAt = datetime($now)
RETURN c.monitoringIntervalSeconds AS interval
"""

RECORDED_IN: Final = """
MATCH (:CCP {id: $ccpId})-[:HAS_DEVIATION]->(d:Deviation {kind: $kind})
WITH d, d.windowStart.epochMillis AS startMs, d.windowEnd.epochMillis AS endMs
WHERE ($hi IS NULL OR startMs <= $hi) AND ($lo IS NULL OR endMs IS NULL OR endMs >= $lo)
RETURN d.id AS id, startMs, endMs, EXISTS { (d)-[:CORRECTED_BY]->() } AS hasActions
"""

WRITE_DEVIATIONS: Final = (
    """
MATCH (c:CCP {id: $ccpId})
UNWIND $rows AS row
OPTIONAL MATCH (parent:Deviation {id: row.splitFrom})
MERGE (d:Deviation {id: row.id})
ON CREATE SET d.ccpId = c.id, d.siteGln = c.siteGln, d.firmId = c.firmId, d.kind = row.kind,
              d.openedAt = datetime($now), d.hold = $hold, d.splitFrom = row.splitFrom,
              d.status = coalesce(parent.status, 'OPEN'), d.closedAt = parent.closedAt
SET d.windowStart = datetime({epochMillis: row.startMs}),
    d.windowEnd = CASE WHEN row.endMs IS NULL THEN null ELSE datetime({epochMillis: row.endMs}) END,
    d.worstValue = row.worst
MERGE (c)-[:HAS_DEVIATION]->(d)
WITH c, d, row
CALL (d, row) {
  MATCH (:Deviation {id: row.splitFrom})-[:CORRECTED_BY]->(a:CorrectiveAction)
  MERGE (d)-[:CORRECTED_BY]->(a)
  RETURN count(a) AS inherited
}
CALL (c, d) {
  MATCH (d)-[link:DURING]->(l:Lot)
  WHERE NOT """
    + DEVIATION_COVERS_LOT
    + RELEASE_LOT
    + """
  DELETE link
  RETURN count(*) AS unlinked
}
CALL (c, d) {
  MATCH (l:Lot {siteGln: c.siteGln})
  WHERE """
    + DEVIATION_COVERS_LOT
    + LINK_LOT
    + """
  RETURN count(*) AS linked
}
RETURN """
    + DEVIATION_FIELDS
    + " AS deviation"
)

REMOVE_FILLED: Final = (
    """
UNWIND $ids AS id
MATCH (d:Deviation {id: id})
WHERE NOT EXISTS { (d)-[:CORRECTED_BY]->() }
CALL (d) {
  MATCH (d)-[link:DURING]->(l:Lot)"""
    + RELEASE_LOT
    + """
  RETURN count(*) AS released
}
DETACH DELETE d
"""
)


@dataclass(frozen=True)
class Evaluation:
    """A deviation the evaluation opened or changed (``opened`` for a new one), as read back."""

    deviation: Row
    opened: bool


async def _evaluate_kind(
    tx: AsyncManagedTransaction,
    engine: Engine,
    span: ReadingSpan,
    *,
    kind: DeviationKind,
    allowed_ms: int | None,
    now: datetime,
    hold: bool,
) -> list[Evaluation]:
    if kind is DeviationKind.MISSED_MONITORING and allowed_ms is None:
        return []
    in_limits = kind is DeviationKind.OUT_OF_LIMITS
    lo, hi = await asyncio.to_thread(_bounds, engine, span, in_limits=in_limits)
    lo = span.first_at_ms if lo is None and kind is DeviationKind.MISSED_MONITORING else lo
    params = {"ccpId": span.ccp_id, "kind": kind.value, "lo": lo, "hi": hi}
    recorded = [
        Recorded(r["id"], int(r["startMs"]), None if r["endMs"] is None else int(r["endMs"]), bool(r["hasActions"]))
        for r in await run(tx, RECORDED_IN, params)
    ]
    # the stretch recomputed: the batch's readings, their neighbours, and the deviations recorded there
    for r in recorded:
        lo = None if lo is None else min(lo, r.start_ms)
        hi = None if hi is None or r.end_ms is None else max(hi, r.end_ms)
    if kind is DeviationKind.OUT_OF_LIMITS:
        windows = excursions(await asyncio.to_thread(_read_points, engine, span.ccp_id, lo, hi))
    else:
        points = await asyncio.to_thread(_read_points, engine, span.ccp_id, lo, hi)
        windows = silences(
            [p.at_ms for p in points], allowed_ms=allowed_ms or 0, until_ms=to_ms(now) if hi is None else None
        )
    changes, orphans = reconcile(recorded, windows)
    before = {r.id: r for r in recorded}
    rows = [
        {
            "id": change.id,
            "kind": kind.value,
            "startMs": change.window.start_ms,
            "endMs": change.window.end_ms,
            "worst": change.window.worst,
            "splitFrom": change.split_from,
        }
        for change in changes
        if change.new
        or (before[change.id].start_ms, before[change.id].end_ms) != (change.window.start_ms, change.window.end_ms)
        or kind is DeviationKind.OUT_OF_LIMITS  # the worst value may have changed
    ]
    if orphans:
        await run(tx, REMOVE_FILLED, {"ids": orphans})
    if not rows:
        return []
    written = await run(
        tx, WRITE_DEVIATIONS, {"ccpId": span.ccp_id, "rows": rows, "now": now.isoformat(), "hold": hold}
    )
    new = {change.id for change in changes if change.new}
    return [Evaluation(row["deviation"], row["deviation"]["id"] in new) for row in written]


async def evaluate(
    graph: Graph,
    engine: Engine,
    spans: Sequence[ReadingSpan],
    *,
    now: datetime,
    hold: bool,
    grace_seconds: int = DEFAULT_GRACE_SECONDS,
) -> list[Evaluation]:
    """Open, extend, shrink or split the deviations of the CCPs a committed batch of readings touched."""
    results: list[Evaluation] = []
    for span in sorted(spans, key=lambda s: s.ccp_id):

        async def work(tx: AsyncManagedTransaction, span: ReadingSpan = span) -> list[Evaluation]:
            locked = await run(tx, LOCK_CCP, {"ccpId": span.ccp_id, "now": now.isoformat()})
            if not locked:
                return []
            interval = locked[0]["interval"]
            allowed = None if interval is None else (int(interval) + grace_seconds) * 1000
            found: list[Evaluation] = []
            for kind in DeviationKind:
                found += await _evaluate_kind(tx, engine, span, kind=kind, allowed_ms=allowed, now=now, hold=hold)
            return found

        results += await graph.transaction(work)
    return results


MONITORED_CCPS: Final = """
MATCH (c:CCP) WHERE c.monitoringIntervalSeconds IS NOT NULL
RETURN c.id AS id, c.monitoringIntervalSeconds AS interval,
       EXISTS { (c)-[:HAS_DEVIATION]->(d:Deviation {kind: 'MISSED_MONITORING'}) WHERE d.windowEnd IS NULL } AS silent
"""


async def sweep_missed_monitoring(
    graph: Graph, engine: Engine, *, now: datetime, hold: bool, grace_seconds: int = DEFAULT_GRACE_SECONDS
) -> list[Evaluation]:
    """Open a MISSED_MONITORING deviation for every CCP silent past its interval and grace (the periodic sweep).

    A CCP that never reported is left alone: nothing says when its monitoring began.
    """
    ccps = await graph.read(MONITORED_CCPS)
    last = await asyncio.to_thread(last_readings, engine, [c["id"] for c in ccps])
    now_ms = to_ms(now)
    stale = [
        ReadingSpan(c["id"], last[c["id"]], last[c["id"]], 0)
        for c in ccps
        if not c["silent"] and c["id"] in last and now_ms - last[c["id"]] > (int(c["interval"]) + grace_seconds) * 1000
    ]
    return await evaluate(graph, engine, stale, now=now, hold=hold, grace_seconds=grace_seconds) if stale else []


OPEN_SINCE: Final = """
MATCH (d:Deviation) WHERE d.status = 'OPEN' AND d.openedAt >= datetime($since)
RETURN d.id AS id, d.ccpId AS ccpId, d.siteGln AS siteGln
ORDER BY d.openedAt, d.id LIMIT $limit
"""


async def open_since(graph: Graph, *, since: datetime, limit: int = 10_000) -> list[Row]:
    """Deviations still open that were opened at or after ``since``, oldest first (the status index finds them)."""
    return await graph.read(OPEN_SINCE, {"since": since.isoformat(), "limit": limit})


# --- reads -----------------------------------------------------------------------------------------------

LIST_DEVIATIONS: Final = (
    """
MATCH (c:CCP)-[:HAS_DEVIATION]->(d:Deviation)
WHERE ($siteGln IS NULL OR d.siteGln = $siteGln) AND ($ccpId IS NULL OR d.ccpId = $ccpId)
  AND ($status IS NULL OR d.status = $status) AND ($after IS NULL OR d.id > $after)
  AND """
    + DEVIATION_IN_DETAIL
    + """
RETURN """
    + DEVIATION_FIELDS
    + """ AS deviation
ORDER BY d.id
LIMIT $limit
"""
)

COUNT_DEVIATIONS: Final = (
    """
MATCH (c:CCP)-[:HAS_DEVIATION]->(d:Deviation)
WHERE ($siteGln IS NULL OR d.siteGln = $siteGln) AND ($ccpId IS NULL OR d.ccpId = $ccpId)
  AND ($status IS NULL OR d.status = $status)
  AND """
    + DEVIATION_IN_DETAIL
    + """
RETURN count(d) AS total
"""
)

DEVIATIONS_BY_ID: Final = (
    """
UNWIND $ids AS id
MATCH (c:CCP)-[:HAS_DEVIATION]->(d:Deviation {id: id})
WHERE """
    + DEVIATION_IN_DETAIL
    + """
RETURN id, """
    + DEVIATION_FIELDS
    + " AS deviation"
)

DEVIATIONS_OF_LOTS: Final = (
    """
UNWIND $ids AS id
MATCH (:Lot {id: id})<-[:DURING]-(d:Deviation)<-[:HAS_DEVIATION]-(c:CCP)
WHERE """
    + DEVIATION_IN_DETAIL
    + """
WITH id, d ORDER BY d.windowStart, d.id
RETURN id, collect("""
    + DEVIATION_FIELDS
    + ") AS deviations"
)


def _params(viewer: Viewer) -> dict[str, Any]:
    return {**viewer.params(), **viewer.shared_params()}


async def list_deviations(
    graph: Graph,
    viewer: Viewer,
    *,
    site_gln: str | None,
    ccp_id: str | None,
    status: DeviationStatus | None,
    after: str | None,
    limit: int,
) -> list[Row]:
    """A page of the deviations the viewer may see in detail, ordered by id."""
    params = {
        "siteGln": site_gln,
        "ccpId": ccp_id,
        "status": status.value if status else None,
        "after": after,
        "limit": limit,
        **_params(viewer),
    }
    return [row["deviation"] for row in await graph.read(LIST_DEVIATIONS, params)]


async def count_deviations(
    graph: Graph, viewer: Viewer, *, site_gln: str | None, ccp_id: str | None, status: DeviationStatus | None
) -> int:
    """How many deviations the viewer may see in detail with these filters."""
    params = {"siteGln": site_gln, "ccpId": ccp_id, "status": status.value if status else None, **_params(viewer)}
    return int((await graph.read(COUNT_DEVIATIONS, params))[0]["total"])


async def deviations_by_id(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[Row | None]:
    """Deviations the viewer may see in detail, in the order of ``ids`` (None where unknown or hidden)."""
    rows = await graph.read(DEVIATIONS_BY_ID, {"ids": list(ids), **_params(viewer)})
    found = {row["id"]: row["deviation"] for row in rows}
    return [found.get(i) for i in ids]


async def deviations_of_lots(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[list[Row]]:
    """For each lot, the deviations it was produced during that the viewer may see in detail."""
    rows = await graph.read(DEVIATIONS_OF_LOTS, {"ids": list(ids), **_params(viewer)})
    return keyed_lists(rows, ids, key="id", value="deviations")


# --- corrective actions ----------------------------------------------------------------------------------

DEVIATION_FOR_ACTION: Final = (
    """
MATCH (c:CCP)-[:HAS_DEVIATION]->(d:Deviation {id: $id})
WHERE """
    + DEVIATION_IN_DETAIL
    + """
RETURN c.firmId AS firmId, d.windowStart.epochMillis AS startMs
"""
)

RECORD_ACTION: Final = (
    """
MATCH (c:CCP)-[:HAS_DEVIATION]->(d:Deviation {id: $id})
CREATE (a:CorrectiveAction {id: $actionId, deviationId: d.id, action: $action, takenAt: datetime($takenAt),
                           by: $by, firmId: $firmId, recordedAt: datetime($now)})
CREATE (d)-[:CORRECTED_BY]->(a)
WITH c, d, $closes AND d.status = 'OPEN' AS closing
SET d.status = CASE WHEN closing THEN 'CLOSED' ELSE d.status END,
    d.closedAt = CASE WHEN closing THEN datetime($takenAt) ELSE d.closedAt END
WITH c, d, closing
CALL (d, closing) {
  MATCH (d)-[link:DURING {held: true}]->(l:Lot)
  WHERE closing"""
    + RELEASE_LOT
    + """
  SET link.held = false
  RETURN count(*) AS released
}
RETURN """
    + DEVIATION_FIELDS
    + " AS deviation"
)


async def record_corrective_action(
    graph: Graph,
    viewer: Viewer,
    *,
    deviation_id: str,
    action: str,
    taken_at: datetime,
    by: str,
    closes: bool,
    now: datetime,
    may_act: Any,
) -> Row:
    """Append a corrective action (who, what, when) to a deviation; ``closes`` closes it and releases its holds.

    ``may_act(firm_id)`` raises when the caller may not act for the CCP's firm (decided in auth/). An unknown
    deviation and one the caller may not see answer alike.
    """

    async def work(tx: AsyncManagedTransaction) -> Row:
        found = await run(tx, DEVIATION_FOR_ACTION, {"id": deviation_id, **_params(viewer)})
        if not found:
            raise NotFound(
                f"deviation {deviation_id!r} is not recorded, or not visible to your firm", field="deviationId"
            )
        may_act(found[0]["firmId"])
        if to_ms(taken_at) < int(found[0]["startMs"]):
            raise HubError("takenAt is before the deviation's window began", field="takenAt")
        params = {
            "id": deviation_id,
            "actionId": f"CA-{uuid.uuid4().hex}",
            "action": action,
            "takenAt": taken_at.isoformat(),
            "by": by,
            "firmId": viewer.firm_id,
            "closes": closes,
            "now": now.isoformat(),
        }
        [row] = await run(tx, RECORD_ACTION, params)
        deviation: Row = row["deviation"]
        return deviation

    return await graph.transaction(work)
