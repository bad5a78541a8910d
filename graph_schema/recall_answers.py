"""Answering a recall: consignees acknowledge it and report what they removed, destroyed or returned.

The consignees of a recall are the firms that hold or held its held (downstream) lots: their owners and the
firms they were shipped to (auth's ``held_by``, the rule every write uses). Each consignee acknowledges once,
as ``(:Recall)-[:ACKNOWLEDGED_BY {at, note, by}]->(:Firm)`` (the first acknowledgement stands), and reports
dispositions, append-only, as ``(:Recall)-[:HAS_DISPOSITION]->(:RecallDisposition)-[:OF_LOT]->(:Lot)``, each
checked against what the firm still holds of the lot: what it made or received, less what it shipped on,
consumed in its transformations, or reported already (in any recall). The coordinator then sees, per firm and
site, the acknowledgement and the stock left (the last count less what was reported there after it), and the
recall's effectiveness (the FDA's effectiveness check): the share of consignees that acknowledged and the
share of the affected quantity accounted for, with the timeline of both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from neo4j import AsyncManagedTransaction

from graph_schema.access import Viewer, held_by
from graph_schema.db import Graph, Row, run
from graph_schema.errors import Conflict, Forbidden, NotFound
from graph_schema.recalls import RECALL_FIELDS, RECALL_SEEN_BY

# The firms that hold or held held lot ``l``: its owner and every firm it was shipped to.
HOLDERS_OF_LOT: Final = """
CALL (l) {
  RETURN l.ownerFirmId AS firm
  UNION
  MATCH (l)<-[:CARRIES]-(sh:Shipment) RETURN sh.toFirmId AS firm
}
"""

# How much of lot ``l`` firm $firmId still holds by the graph: made (owner) or received, less shipped on by it,
# consumed by its transformations and reported already; each term kept for the error message. No labels on the
# neighbours: the planner then expands from the lot, never seeks every shipment of the firm by its index.
HOLDING_OF_LOT: Final = """
CALL (l) {
  WITH l,
       COLLECT { MATCH (l)<-[c:CARRIES]-(sh) WHERE sh.toFirmId = $firmId RETURN c.quantity } AS ins,
       COLLECT { MATCH (l)<-[c:CARRIES]-(sh) WHERE sh.fromFirmId = $firmId RETURN c.quantity } AS outs,
       COLLECT { MATCH (l)-[c:CONSUMED_BY]->(tr) WHERE tr.firmId = $firmId RETURN c.quantity } AS uses,
       COLLECT { MATCH (l)<-[:OF_LOT]-(d) WHERE d.firmId = $firmId RETURN d.quantity } AS reports
  RETURN CASE WHEN l.ownerFirmId = $firmId THEN l.quantity ELSE 0.0 END + reduce(acc = 0.0, q IN ins | acc + q) AS had,
         reduce(acc = 0.0, q IN outs | acc + q) AS shipped,
         reduce(acc = 0.0, q IN uses | acc + q) AS consumed,
         reduce(acc = 0.0, q IN reports | acc + q) AS reported
}
"""

CHECK_ANSWER: Final = (
    """
OPTIONAL MATCH (r:Recall {id: $id})
WITH r, r IS NOT NULL AND """
    + RECALL_SEEN_BY
    + """ AS seen
RETURN seen, r.status AS status,
       seen AND EXISTS { MATCH (r)-[:AFFECTS {held: true}]->(l:Lot) WHERE """
    + held_by("$firmId")
    + """ } AS consignee
"""
)

ACKNOWLEDGE: Final = (
    """
MATCH (r:Recall {id: $id}), (f:Firm {id: $firmId})
MERGE (r)-[a:ACKNOWLEDGED_BY]->(f)
ON CREATE SET a.at = $now, a.note = $note, a.by = $subject
WITH DISTINCT r
RETURN """
    + RECALL_FIELDS
    + " AS recall"
)

CHECK_DISPOSITION: Final = (
    """
MATCH (r:Recall {id: $id})
OPTIONAL MATCH (r)-[:AFFECTS {held: true}]->(l:Lot {id: $lotId})
OPTIONAL MATCH (s:Site {gln: $siteGln})
WITH r, l, s
CALL (l) {
  WITH l WHERE l IS NOT NULL"""
    + HOLDING_OF_LOT
    + """  RETURN had, shipped, consumed, reported
  UNION
  WITH l WHERE l IS NULL
  RETURN 0.0 AS had, 0.0 AS shipped, 0.0 AS consumed, 0.0 AS reported
}
RETURN l IS NOT NULL AS affected, l.uom AS uom, s IS NOT NULL AS siteKnown, s.firmId = $firmId AS siteMine,
       had, shipped, consumed, reported
"""
)

WRITE_DISPOSITION: Final = """
MATCH (r:Recall {id: $id})-[:AFFECTS {held: true}]->(l:Lot {id: $lotId})
CREATE (r)-[:HAS_DISPOSITION]->(d:RecallDisposition {id: $dispositionId, recallId: r.id, firmId: $firmId,
        lotId: l.id, siteGln: $siteGln, quantity: $quantity, uom: l.uom, disposition: $disposition, at: $now,
        note: $note, by: $subject})-[:OF_LOT]->(l)
RETURN d {.*, at: toString(d.at)} AS disposition
"""

QUANTITY_SLACK: Final = 1e-6  # reported quantities are decimals summed in floating point


async def _check_answer(tx: AsyncManagedTransaction, params: dict[str, Any], *, what: str) -> None:
    [row] = await run(tx, CHECK_ANSWER, params)
    if not row["seen"]:
        raise NotFound(f"no recall {params['id']!r} that your firm may see", field="id")
    if row["status"] != "OPEN":
        raise Conflict(f"recall {params['id']!r} is closed: it takes no more {what}", field="id")
    if not row["consignee"]:
        raise Forbidden(f"your firm holds and received none of the lots recall {params['id']!r} pulls")


async def acknowledge_recall(
    graph: Graph, viewer: Viewer, *, recall_id: str, note: str | None, subject: str, overseer: bool, now: datetime
) -> Row:
    """Record that the viewer's firm, a consignee of the open recall, acted on it (its first acknowledgement stands)."""
    params = {
        "id": recall_id,
        "firmId": viewer.firm_id,
        "note": note,
        "subject": subject,
        "now": now,
        "overseer": overseer,
        **viewer.params(),
    }

    async def work(tx: AsyncManagedTransaction) -> Row:
        await _check_answer(tx, params, what="acknowledgements")
        rows = await run(tx, ACKNOWLEDGE, params)
        if not rows:
            raise NotFound(f"firm {viewer.firm_id!r} is not a registered member", field="id")
        recall: Row = rows[0]["recall"]
        return recall

    return await graph.transaction(work)


async def report_disposition(
    graph: Graph,
    viewer: Viewer,
    *,
    disposition_id: str,
    recall_id: str,
    lot_id: str,
    site_gln: str,
    quantity: float,
    disposition: str,
    note: str | None,
    subject: str,
    overseer: bool,
    now: datetime,
) -> Row:
    """Append a consignee's report of a quantity of a held lot removed, destroyed or returned at one of its sites."""
    params = {
        "id": recall_id,
        "dispositionId": disposition_id,
        "firmId": viewer.firm_id,
        "lotId": lot_id,
        "siteGln": site_gln,
        "quantity": quantity,
        "disposition": disposition,
        "note": note,
        "subject": subject,
        "now": now,
        "overseer": overseer,
        **viewer.params(),
    }

    async def work(tx: AsyncManagedTransaction) -> Row:
        await _check_answer(tx, params, what="disposition reports")
        [row] = await run(tx, CHECK_DISPOSITION, params)
        if not row["affected"]:
            raise NotFound(f"lot {lot_id} is not among the lots recall {recall_id!r} pulls", field="input.lotId")
        if not row["siteKnown"]:
            raise NotFound(f"site {site_gln} is not registered", field="input.siteGln")
        if not row["siteMine"]:
            raise Forbidden(f"site {site_gln} belongs to another firm", field="input.siteGln")
        available = row["had"] - row["shipped"] - row["consumed"] - row["reported"]
        if quantity > available + QUANTITY_SLACK:
            raise Conflict(
                f"you report {quantity:g} {row['uom']} of lot {lot_id} but hold at most {max(available, 0.0):g}: "
                f"made or received {row['had']:g}, shipped on {row['shipped']:g}, consumed {row['consumed']:g}, "
                f"reported already {row['reported']:g}",
                field="input.quantity",
            )
        written: Row = (await run(tx, WRITE_DISPOSITION, params))[0]["disposition"]
        return written

    return await graph.transaction(work)


# Who may read a recall's answers in full: its coordinator's firm and the agency. A consignee sees its own.
ANSWERS_IN_FULL: Final = "(r.coordinatorFirmId = $viewerFirm OR $overseer)"

ACKNOWLEDGEMENTS: Final = (
    """
MATCH (r:Recall {id: $id})-[a:ACKNOWLEDGED_BY]->(f:Firm)
WHERE """
    + ANSWERS_IN_FULL
    + """ OR f.id = $viewerFirm
RETURN f.id AS firmId, toString(a.at) AS at, a.note AS note
ORDER BY a.at, f.id
"""
)

# Per consignee: its acknowledgement, the held lots it holds or held, and per site of its counted stock of them
# and of its reports: the stock last counted, what was reported there (all of it, and after the count).
CONSIGNEES: Final = (
    """
MATCH (r:Recall {id: $id})-[:AFFECTS {held: true}]->(l:Lot)"""
    + HOLDERS_OF_LOT
    + """
WITH r, firm, collect(l) AS lots
OPTIONAL MATCH (r)-[a:ACKNOWLEDGED_BY]->(:Firm {id: firm})
OPTIONAL CALL (r, firm, lots) {
  UNWIND lots AS l
  MATCH (l)-[h:HELD_AT]->(s:Site)
  WHERE h.firmId = firm
  RETURN s.gln AS gln, h.quantity AS counted,
         reduce(acc = 0.0, qty IN COLLECT { MATCH (l)<-[:OF_LOT]-(d)
                        WHERE d.firmId = firm AND d.siteGln = s.gln AND d.at >= h.asOf RETURN d.quantity } | acc + qty)
           AS reportedSince
  UNION ALL
  MATCH (r)-[:HAS_DISPOSITION]->(d:RecallDisposition {firmId: firm})
  RETURN d.siteGln AS gln, 0.0 AS counted, 0.0 AS reportedSince
}
WITH r, firm, lots, a, gln, sum(counted) AS counted,
     sum(CASE WHEN counted - reportedSince > 0 THEN counted - reportedSince ELSE 0.0 END) AS stockLeft
WITH r, firm, lots, a, collect({siteGln: gln, stockCounted: counted, stockLeft: stockLeft,
     reported: reduce(acc = 0.0, qty IN COLLECT { MATCH (r)-[:HAS_DISPOSITION]->(d:RecallDisposition)
                                                  WHERE d.firmId = firm AND d.siteGln = gln RETURN d.quantity }
                      | acc + qty)}) AS sites
RETURN firm AS firmId, size(lots) AS lotCount, toString(a.at) AS acknowledgedAt, a.note AS note,
       [site IN sites WHERE site.siteGln IS NOT NULL] AS sites
ORDER BY firmId
"""
)

# The quantity a recall pulls: of each held lot, what was not turned into another lot (those are held lots
# themselves and count there); what is accounted for: every disposition reported under the recall.
EFFECTIVENESS: Final = (
    """
MATCH (r:Recall {id: $id})
CALL (r) {
  MATCH (r)-[:AFFECTS {held: true}]->(l:Lot)
  WITH l, l.quantity - reduce(acc = 0.0, qty IN COLLECT { MATCH (l)-[c:CONSUMED_BY]->() RETURN c.quantity }
                              | acc + qty) AS left
  RETURN sum(CASE WHEN left > 0 THEN left ELSE 0.0 END) AS affected
}
CALL (r) {
  MATCH (r)-[:AFFECTS {held: true}]->(l:Lot)"""
    + HOLDERS_OF_LOT
    + """  RETURN collect(DISTINCT firm) AS consignees
}
RETURN toString(r.declaredAt) AS declared, toString(r.closedAt) AS closed, affected,
       size(consignees) AS consignees,
       [(r)-[a:ACKNOWLEDGED_BY]->(f:Firm) WHERE f.id IN consignees | {at: toString(a.at), epoch: a.at.epochMillis}]
         AS acknowledgements,
       [(r)-[:HAS_DISPOSITION]->(d:RecallDisposition) | {at: toString(d.at), epoch: d.at.epochMillis,
                                                          quantity: d.quantity, disposition: d.disposition}]
         AS dispositions
"""
)


def _answers_params(viewer: Viewer, *, recall_id: str, overseer: bool) -> dict[str, Any]:
    return {"id": recall_id, "overseer": overseer, **viewer.params()}


async def acknowledgements(graph: Graph, viewer: Viewer, *, recall_id: str, overseer: bool) -> list[Row]:
    """The recall's acknowledgements, oldest first: all for its coordinator and the agency, else the viewer's own."""
    return await graph.read(ACKNOWLEDGEMENTS, _answers_params(viewer, recall_id=recall_id, overseer=overseer))


async def consignees(graph: Graph, *, recall_id: str) -> list[Row]:
    """Per consignee firm: lots, acknowledgement, and per site stock counted, reported and left (callers decide)."""
    return await graph.read(CONSIGNEES, {"id": recall_id})


async def effectiveness(graph: Graph, *, recall_id: str) -> Row | None:
    """The figures of the recall's effectiveness check, with the dated acknowledgements and dispositions."""
    rows = await graph.read(EFFECTIVENESS, {"id": recall_id})
    return rows[0] if rows else None


DISPOSITIONS: Final = """
MATCH (r:Recall {id: $id})-[:HAS_DISPOSITION]->(d:RecallDisposition)
RETURN d {.id, .recallId, .firmId, .lotId, .siteGln, .quantity, .uom, .disposition, .note, at: toString(d.at)}
       AS disposition
ORDER BY d.at, d.id
"""


async def dispositions(graph: Graph, *, recall_id: str) -> list[Row]:
    """Every disposition reported under the recall, oldest first (callers decide who may read them)."""
    return [row["disposition"] for row in await graph.read(DISPOSITIONS, {"id": recall_id})]
