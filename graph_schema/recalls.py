"""Recalls: declared by a coordinator for lots; while open, every lot of their trace is open to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, NoReturn

from graph_schema.access import LOT_IN_DETAIL, Viewer
from graph_schema.db import Graph, Row, checked_write
from graph_schema.errors import Conflict, NotFound

RECALL_FIELDS: Final = (
    "r {.id, .coordinatorFirmId, .reason, .recallClass, .status, .declaredAt, .closedAt,"
    " lotIds: [(r)-[:RECALLS]->(x) | x.id], affectedCount: COUNT { (r)-[:AFFECTS]->() }}"
)

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

# The recall's trace is taken once, at declaration: every lot upstream and downstream of a recalled lot.
DECLARE_RECALL: Final = (
    """
CREATE (r:Recall {id: $id, coordinatorFirmId: $firmId, reason: $reason, recallClass: $recallClass,
                  status: 'OPEN', declaredAt: $now})
WITH r
UNWIND $lotIds AS lotId
MATCH (o:Lot {id: lotId})
CREATE (r)-[:RECALLS]->(o)
WITH DISTINCT r, o
CALL (o) {
  MATCH (o)-[:CONSUMED_BY|PRODUCED*0..100]->(l:Lot) RETURN l
  UNION
  MATCH (o)<-[:CONSUMED_BY|PRODUCED*0..100]-(l:Lot) RETURN l
}
WITH DISTINCT r, l
MERGE (r)-[:AFFECTS]->(l)
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
    r.closedAt = CASE WHEN mine AND before = 'OPEN' THEN $now ELSE r.closedAt END
RETURN mine, before, """
    + RECALL_FIELDS
    + " AS recall"
)

# A recall is shown to its coordinator's firm, to the agency, and to the owners of the lots it affects.
GET_RECALL: Final = (
    """
MATCH (r:Recall {id: $id})
WHERE r.coordinatorFirmId = $viewerFirm OR $overseer
   OR EXISTS { MATCH (r)-[:AFFECTS]->(:Lot {ownerFirmId: $viewerFirm}) }
RETURN """
    + RECALL_FIELDS
    + " AS recall"
)


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
) -> Row:
    """Open a recall for lots the coordinator may see (the agency may recall any lot)."""
    params = {
        "id": recall_id,
        "firmId": viewer.firm_id,
        "lotIds": list(lot_ids),
        "reason": reason,
        "recallClass": recall_class,
        "now": now,
        "overseer": overseer,
        **viewer.params(),
    }

    def reject(bad: Row) -> NoReturn:
        raise NotFound(f"lot {bad['id']} is not recorded, or not visible to your firm", field="lotIds")

    written = await checked_write(graph, check=CHECK_RECALLED_LOTS, write=DECLARE_RECALL, params=params, reject=reject)
    recall: Row = written[0]["recall"]
    return recall


async def close_recall(graph: Graph, *, recall_id: str, firm_id: str, now: datetime) -> Row:
    """Close an open recall of the coordinator's firm."""
    rows = await graph.write(CLOSE_RECALL, {"id": recall_id, "firmId": firm_id, "now": now})
    if not rows or not rows[0]["mine"]:
        raise NotFound(f"no recall {recall_id!r} coordinated by your firm", field="id")
    if rows[0]["before"] != "OPEN":
        raise Conflict(f"recall {recall_id!r} is already closed", field="id")
    recall: Row = rows[0]["recall"]
    return recall


async def get_recall(graph: Graph, viewer: Viewer, *, recall_id: str, overseer: bool) -> Row | None:
    """A recall, if the viewer coordinates it, oversees the cluster, or owns a lot it affects."""
    rows = await graph.read(GET_RECALL, {"id": recall_id, "overseer": overseer, **viewer.params()})
    return rows[0]["recall"] if rows else None
