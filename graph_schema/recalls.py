"""Recalls: declared by a coordinator for lots; while open, every lot of their trace is open to it.

A recall takes its trace once, at declaration, as ``(:Recall)-[:AFFECTS]->(:Lot)``: every lot downstream of
a recalled lot (the recalled lots themselves at depth 0) and every lot upstream of one. The downstream lots
are held: put ON_HOLD, or RECALLED, as the coordinator chose (``Recall.hold``). Upstream lots are in the
trace for the coordinator to see, but a supplier's other uses of them are not the recall's business, so
their status is left alone (a lot both upstream of one recalled lot and downstream of another is held).

Closing a recall releases the holds it placed: a lot it put ON_HOLD goes back to the status it had before
any open recall held it (ACTIVE, or ON_HOLD when it was held for another reason before), unless another
open recall or open deviation (graph_schema/haccp/deviations.py) still holds it. RECALLED is final: closing
the recall means the recall is complete, not undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, LiteralString, NoReturn

from neo4j import AsyncManagedTransaction

from graph_schema.access import LOT_IN_DETAIL, Viewer
from graph_schema.db import Graph, Row, checked_write, run
from graph_schema.errors import Conflict, NotFound
from graph_schema.model import LotHold

RECALL_FIELDS: Final = (
    "r {.id, .coordinatorFirmId, .reason, .recallClass, .status, .declaredAt, .closedAt, .hold,"
    " lotIds: [(r)-[:RECALLS]->(x) | x.id], affectedCount: COUNT { (r)-[:AFFECTS]->() },"
    " heldCount: COUNT { (r)-[:AFFECTS {held: true}]->() }}"
)

# A recall is shown to its coordinator's firm, to the agency, and to the firms holding lots it affects: their
# owners and the firms they were shipped to, the firms it tells (what each of them sees of its lots is decided
# lot by lot, by LOT_IN_DETAIL).
RECALL_SEEN_BY: Final = (
    "(r.coordinatorFirmId = $viewerFirm OR $overseer"
    " OR EXISTS { MATCH (r)-[:AFFECTS]->(:Lot {ownerFirmId: $viewerFirm}) }"
    " OR EXISTS { MATCH (r)-[:AFFECTS]->(:Lot)<-[:CARRIES]-(:Shipment {toFirmId: $viewerFirm}) })"
)

# The lots reached from lot ``o``, itself at depth 0, each once at its shortest depth in transformations.
# ANY SHORTEST plans as one breadth-first expansion (see graph_schema/trace.py), so a DAG with many paths
# between the same lots does not enumerate them; 100 hops are trace.MAX_DEPTH transformations.
DOWNSTREAM_OF_ORIGIN: Final = """
CALL (o) {
  RETURN o AS l, 0 AS depth
  UNION
  MATCH p = ANY SHORTEST (o)-[:CONSUMED_BY|PRODUCED]->{2,100}(l:Lot)
  RETURN l, length(p) / 2 AS depth
}
"""
UPSTREAM_OF_ORIGIN: Final = """
CALL (o) {
  RETURN o AS l, 0 AS depth
  UNION
  MATCH p = ANY SHORTEST (o)<-[:CONSUMED_BY|PRODUCED]-{2,100}(l:Lot)
  RETURN l, length(p) / 2 AS depth
}
"""

CHECK_RECALLED_LOTS: Final = (
    """
UNWIND $lotIds AS id
OPTIONAL MATCH (l:Lot {id: id})
WITH id, l, l IS NOT NULL AND ($overseer OR """
    + LOT_IN_DETAIL
    + """) AS allowed
WHERE NOT allowed
RETURN id
LIMIT 1
"""
)

# The trace is taken once, at declaration. A lot downstream of any recalled lot is held at its shortest
# downstream depth; the others are upstream. ``priorStatus`` is the status the lot had before any open
# recall held it (inherited from an open recall already holding it), which closing the last one restores.
DECLARE_RECALL: Final = (
    """
CREATE (r:Recall {id: $id, coordinatorFirmId: $firmId, reason: $reason, recallClass: $recallClass,
                  status: 'OPEN', declaredAt: $now, hold: $hold, declaredNotice: 'PENDING'})
WITH r
UNWIND $lotIds AS lotId
MATCH (o:Lot {id: lotId})
CREATE (r)-[:RECALLS]->(o)
WITH r, collect(o) AS origins
CALL (origins) {
  UNWIND origins AS o"""
    + DOWNSTREAM_OF_ORIGIN
    + """  RETURN l, depth, true AS down
  UNION ALL
  UNWIND origins AS o"""
    + UPSTREAM_OF_ORIGIN
    + """  RETURN l, depth, false AS down
}
WITH r, l, min(CASE WHEN down THEN depth END) AS downDepth, min(CASE WHEN down THEN null ELSE depth END) AS upDepth
WITH r, l, downDepth IS NOT NULL AS held, coalesce(downDepth, upDepth) AS depth
WITH r, l, held, depth,
     CASE WHEN held THEN coalesce(
       COLLECT { MATCH (l)<-[other:AFFECTS {held: true}]-(open:Recall {status: 'OPEN'}) WHERE open <> r
                 RETURN other.priorStatus LIMIT 1 }[0],
       COLLECT { MATCH (l)<-[other:DURING {held: true}]-(:Deviation {status: 'OPEN'})
                 RETURN other.priorStatus LIMIT 1 }[0],
       l.status) END AS prior
CREATE (r)-[:AFFECTS {direction: CASE WHEN held THEN 'DOWNSTREAM' ELSE 'UPSTREAM' END, depth: depth, held: held,
                      priorStatus: prior}]->(l)
SET l.status = CASE WHEN NOT held THEN l.status
                    WHEN $hold = 'RECALLED' THEN 'RECALLED'
                    WHEN l.status = 'ACTIVE' THEN 'ON_HOLD'
                    ELSE l.status END
WITH DISTINCT r
RETURN """
    + RECALL_FIELDS
    + " AS recall"
)

CLOSE_RECALL: Final = (
    """
MATCH (r:Recall {id: $id})
WITH r, r.coordinatorFirmId = $firmId AS mine, r.status AS before
SET r.status = CASE WHEN mine THEN 'CLOSED' ELSE r.status END,
    r.closedAt = CASE WHEN mine AND before = 'OPEN' THEN $now ELSE r.closedAt END,
    r.closedNotice = CASE WHEN mine AND before = 'OPEN' THEN 'PENDING' ELSE r.closedNotice END
RETURN mine, before, """
    + RECALL_FIELDS
    + " AS recall"
)

# Run right after the recall is set CLOSED, in the same transaction: only lots this recall put ON_HOLD
# (their prior status was ACTIVE) go back, and only when no other open recall still holds them.
RELEASE_HOLDS: Final = """
MATCH (r:Recall {id: $id})-[a:AFFECTS {held: true}]->(l:Lot)
WHERE l.status = 'ON_HOLD' AND a.priorStatus = 'ACTIVE'
  AND NOT EXISTS { MATCH (l)<-[:AFFECTS {held: true}]-(open:Recall {status: 'OPEN'}) WHERE open <> r }
  AND NOT EXISTS { MATCH (l)<-[:DURING {held: true}]-(:Deviation {status: 'OPEN'}) }
SET l.status = a.priorStatus
RETURN count(l) AS released
"""

GET_RECALL: Final = (
    """
MATCH (r:Recall {id: $id})
WHERE """
    + RECALL_SEEN_BY
    + """
RETURN """
    + RECALL_FIELDS
    + " AS recall"
)


# The recalls a viewer may see, newest first (keyset on declaredAt then id, both descending). Recalls are few
# beside lots: they are read by the status index when ``open`` is given, else all, each tested by RECALL_SEEN_BY.
_RECALL_PAGE: Final = (
    """
WITH r, r.declaredAt.epochMillis AS k
WHERE $afterId IS NULL OR k < $afterKey OR (k = $afterKey AND r.id < $afterId)
WITH r, k ORDER BY k DESC, r.id DESC LIMIT $limit
RETURN k AS sortKey, """
    + RECALL_FIELDS
    + " AS recall"
)
LIST_RECALLS: Final[dict[bool, LiteralString]] = {
    False: "MATCH (r:Recall) WHERE " + RECALL_SEEN_BY + _RECALL_PAGE,
    True: "MATCH (r:Recall) WHERE r.status = $status AND " + RECALL_SEEN_BY + _RECALL_PAGE,
}
COUNT_RECALLS: Final[dict[bool, LiteralString]] = {
    False: "MATCH (r:Recall) WHERE " + RECALL_SEEN_BY + " RETURN count(r) AS total",
    True: "MATCH (r:Recall) WHERE r.status = $status AND " + RECALL_SEEN_BY + " RETURN count(r) AS total",
}


def _recall_list_params(viewer: Viewer, *, overseer: bool, open_: bool | None) -> dict[str, Any]:
    status = None if open_ is None else ("OPEN" if open_ else "CLOSED")
    return {"status": status, "overseer": overseer, **viewer.params()}


async def list_recalls(
    graph: Graph, viewer: Viewer, *, overseer: bool, open_: bool | None, after: tuple[int, str] | None, limit: int
) -> list[Row]:
    """A page of the recalls the viewer may see, newest first: rows {sortKey, recall}; ``open_`` None for all."""
    after_key, after_id = after if after is not None else (None, None)
    params = {**_recall_list_params(viewer, overseer=overseer, open_=open_), "afterKey": after_key}
    params |= {"afterId": after_id, "limit": limit}
    return await graph.read(LIST_RECALLS[open_ is not None], params)


async def count_recalls(graph: Graph, viewer: Viewer, *, overseer: bool, open_: bool | None) -> int:
    """How many recalls the viewer may see (open, closed, or all)."""
    params = _recall_list_params(viewer, overseer=overseer, open_=open_)
    return int((await graph.read(COUNT_RECALLS[open_ is not None], params))[0]["total"])


async def declare_recall(
    graph: Graph,
    viewer: Viewer,
    *,
    recall_id: str,
    lot_ids: Sequence[str],
    reason: str,
    recall_class: str,
    overseer: bool,
    now: datetime,
    hold: LotHold = LotHold.ON_HOLD,
) -> Row:
    """Open a recall of lots the coordinator may see (the agency: any lot); hold them and every lot downstream."""
    params = {
        "id": recall_id,
        "firmId": viewer.firm_id,
        "lotIds": list(lot_ids),
        "reason": reason,
        "recallClass": recall_class,
        "hold": LotHold(hold).value,
        "now": now,
        "overseer": overseer,
        **viewer.params(),
    }
    written = await checked_write(
        graph, check=CHECK_RECALLED_LOTS, write=DECLARE_RECALL, params=params, reject=reject_recalled_lot
    )
    recall: Row = written[0]["recall"]
    return recall


def reject_recalled_lot(bad: Row) -> NoReturn:
    """The error for a lot that is not recorded or not visible to the coordinator (both answer alike)."""
    raise NotFound(f"lot {bad['id']} is not recorded, or not visible to your firm", field="lotIds")


async def close_recall(graph: Graph, *, recall_id: str, firm_id: str, now: datetime) -> Row:
    """Close an open recall of the coordinator's firm and release the holds it placed, in one transaction."""

    async def work(tx: AsyncManagedTransaction) -> Row:
        rows = await run(tx, CLOSE_RECALL, {"id": recall_id, "firmId": firm_id, "now": now})
        if not rows or not rows[0]["mine"]:
            raise NotFound(f"no recall {recall_id!r} coordinated by your firm", field="id")
        if rows[0]["before"] != "OPEN":
            raise Conflict(f"recall {recall_id!r} is already closed", field="id")
        await run(tx, RELEASE_HOLDS, {"id": recall_id})
        recall: Row = rows[0]["recall"]
        return recall

    return await graph.transaction(work)


async def get_recall(graph: Graph, viewer: Viewer, *, recall_id: str, overseer: bool) -> Row | None:
    """A recall, if the viewer coordinates it, oversees the cluster, or owns a lot it affects."""
    rows = await graph.read(GET_RECALL, {"id": recall_id, "overseer": overseer, **viewer.params()})
    return rows[0]["recall"] if rows else None


# --- telling the firms a recall reaches (graph_schema/notifications.py publishes, the hub delivers) -------------

# The firms holding a lot the recall affects: its owner and every firm it was shipped to (access.held_by).
RECALL_AUDIENCE: Final = """
MATCH (r:Recall {id: $id})-[:AFFECTS]->(l:Lot)
CALL (l) {
  RETURN l.ownerFirmId AS firm
  UNION
  MATCH (l)<-[:CARRIES]-(sh:Shipment)
  RETURN sh.toFirmId AS firm
}
RETURN collect(DISTINCT firm) AS firms
"""

# What each receiving firm is told: the recall, and the affected lots it holds (owns, or was shipped) in full;
# one read for every firm of ``$firms`` (the recall's fields are read once, the affected lots walked once).
RECALL_NOTICES: Final = (
    """
MATCH (r:Recall {id: $id})
WITH r, """
    + RECALL_FIELDS
    + """ AS recall
MATCH (r)-[a:AFFECTS]->(l:Lot)
CALL (l) {
  RETURN l.ownerFirmId AS firm
  UNION
  MATCH (l)<-[:CARRIES]-(sh:Shipment)
  RETURN sh.toFirmId AS firm
}
WITH recall, firm, l, a
WHERE firm IN $firms
ORDER BY firm, a.held DESC, a.depth, l.id
WITH recall, firm, collect(l {.id, .lotNumber, .productGtin, .ownerFirmId, .siteGln, .quantity, .uom, .status,
                              producedAt: toString(l.producedAt), direction: a.direction, depth: a.depth,
                              held: coalesce(a.held, false), recalled: l.id IN recall.lotIds}) AS lots
RETURN firm, recall, lots[0..$maxLots] AS lots, size(lots) AS heldByFirm
"""
)

UNNOTIFIED_RECALLS: Final = """
MATCH (r:Recall)
WHERE (r.declaredNotice = 'PENDING' AND r.declaredAt < $before) OR (r.closedNotice = 'PENDING' AND r.closedAt < $before)
RETURN r.id AS id, r.declaredNotice = 'PENDING' AS declared, r.closedNotice = 'PENDING' AS closed
LIMIT 100
"""

MARK_RECALL_NOTIFIED: Final = """
MATCH (r:Recall {id: $id})
SET r.declaredNotice = CASE WHEN $kind = 'RECALL_DECLARED' THEN 'PUBLISHED' ELSE r.declaredNotice END,
    r.closedNotice = CASE WHEN $kind = 'RECALL_CLOSED' THEN 'PUBLISHED' ELSE r.closedNotice END
"""


async def recall_audience(graph: Graph, *, recall_id: str) -> frozenset[str]:
    """The firms holding a lot the recall affects: the owners and the firms each lot was shipped to."""
    rows = await graph.read(RECALL_AUDIENCE, {"id": recall_id})
    return frozenset(f for f in rows[0]["firms"] if f) if rows else frozenset()


async def recall_notices(graph: Graph, *, recall_id: str, firm_ids: Sequence[str], max_lots: int) -> dict[str, Row]:
    """Per firm of ``firm_ids`` holding affected lots: the recall and those lots (at most ``max_lots``, and how
    many in all); a firm holding none is left out."""
    rows = await graph.read(RECALL_NOTICES, {"id": recall_id, "firms": list(firm_ids), "maxLots": max_lots})
    return {row["firm"]: row for row in rows}


RECALL_BY_ID: Final = "MATCH (r:Recall {id: $id}) RETURN " + RECALL_FIELDS + " AS recall"


async def recall_fields(graph: Graph, *, recall_id: str) -> Row | None:
    """A recall's own fields, for callers its audience rule (``recall_audience``) already admitted."""
    rows = await graph.read(RECALL_BY_ID, {"id": recall_id})
    return rows[0]["recall"] if rows else None


async def unnotified_recalls(graph: Graph, *, before: datetime) -> list[Row]:
    """Recalls declared or closed before ``before`` whose event was never published (the process died between)."""
    return await graph.read(UNNOTIFIED_RECALLS, {"before": before})


async def mark_recall_notified(graph: Graph, *, recall_id: str, kind: str) -> None:
    """Record that the recall's RECALL_DECLARED or RECALL_CLOSED event is in the outbox."""
    await graph.write(MARK_RECALL_NOTIFIED, {"id": recall_id, "kind": kind})


# Joins to an open recall whose RECALL_UPDATED is not published yet (graph_schema/lots.py EXTEND_OPEN_RECALLS),
# one row per recall and transformation; the index on AFFECTS.notice keeps the sweep from walking every recall
# (hinted: on a graph with few pending joins the planner's estimates otherwise pick a scan of the recalls).
PENDING_JOINS: Final = """
MATCH (r:Recall)-[a:AFFECTS {notice: 'PENDING'}]->(l:Lot)
USING INDEX SEEK a:AFFECTS(notice)
WITH r.id AS recallId, a.noticeKey AS noticeKey, l.id AS lotId
ORDER BY recallId, noticeKey, lotId
RETURN recallId, noticeKey, collect(lotId) AS lotIds
LIMIT $limit
"""

MARK_JOINS_NOTIFIED: Final = """
MATCH (:Recall {id: $id})-[a:AFFECTS {notice: 'PENDING'}]->(:Lot)
WHERE a.noticeKey = $key
SET a.notice = 'PUBLISHED'
"""

LOT_HOLDERS: Final = """
UNWIND $lotIds AS lotId
MATCH (l:Lot {id: lotId})
CALL (l) {
  RETURN l.ownerFirmId AS firm
  UNION
  MATCH (l)<-[:CARRIES]-(sh:Shipment)
  RETURN sh.toFirmId AS firm
}
RETURN collect(DISTINCT firm) AS firms
"""


async def pending_joins(graph: Graph, *, limit: int = 100) -> list[Row]:
    """Lots that joined an open recall and whose holders are not told yet: ``recallId``, ``noticeKey``, ``lotIds``."""
    return await graph.read(PENDING_JOINS, {"limit": limit})


async def mark_joins_notified(graph: Graph, *, recall_id: str, notice_key: str) -> None:
    """Record that the RECALL_UPDATED event of these joins is in the outbox."""
    await graph.write(MARK_JOINS_NOTIFIED, {"id": recall_id, "key": notice_key})


async def lot_holders(graph: Graph, *, lot_ids: Sequence[str]) -> frozenset[str]:
    """The firms holding any of ``lot_ids``: their owners and the firms each was shipped to."""
    rows = await graph.read(LOT_HOLDERS, {"lotIds": list(lot_ids)})
    return frozenset(f for f in rows[0]["firms"] if f) if rows else frozenset()
