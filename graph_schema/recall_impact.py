"""Recall impact: what a recall reaches, aggregated inside Cypher over the lots the viewer may see in detail.

The impact of a set of affected lots: how many there are (and how many are hidden from the viewer), the
total quantity per product, the firms and sites they reached (where made, shipped from and to, held in
stock), the sales channels they may be on sale through (a channel that lists the lot's product and that a
site the lot reached sells through), and the quantity still in stock (``HELD_AT``). Hidden lots count as
hidden and contribute nothing else, so an owner of one affected lot who reads a recall learns about its own
lots and what it already sees, not about the rest of the chain.

The same body serves a declared recall (its lots are its ``AFFECTS``) and a mock recall (a drill that
reaches the lots with read queries and writes nothing; see ``mock_recall``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, LiteralString

from graph_schema.access import LOT_IN_DETAIL, SHIPMENT_IN_DETAIL, Viewer
from graph_schema.db import Graph, Row
from graph_schema.lots import LOT_FIELDS
from graph_schema.recalls import (
    CHECK_RECALLED_LOTS,
    DOWNSTREAM_OF_ORIGIN,
    RECALL_SEEN_BY,
    UPSTREAM_OF_ORIGIN,
    reject_recalled_lot,
)

# Stock is the holder's data (graph_schema/inventory.py): a viewer sees a lot's stock at its own sites and at
# the sites of holders that share INVENTORY with it at DETAIL ($inventoryDetail holds its own firm too), and
# the coordinator and the agency see all of it while a recall affecting the lot is open.
STOCK_IN_DETAIL: Final = (
    "(h.firmId IN $inventoryDetail"
    " OR (size($recalls) > 0 AND EXISTS { MATCH (l)<-[:AFFECTS]-(rk:Recall) WHERE rk.id IN $recalls }))"
)

# Expects rows ``scope, l, held`` (one per affected lot); returns one row per scope. ``touches`` are the
# places a visible lot reached: its own site, both ends of its visible shipments, the sites holding it.
IMPACT_BODY: Final = (
    """
WITH scope, l, held, """
    + LOT_IN_DETAIL
    + """ AS visible
WITH scope, count(l) AS affected, collect(CASE WHEN visible THEN l END) AS seen,
     count(CASE WHEN visible AND held THEN 1 END) AS heldSeen
CALL (seen) {
  UNWIND seen AS l
  CALL (l) {
    RETURN l.siteGln AS gln, null AS stock, null AS stockUom
    UNION ALL
    MATCH (l)<-[:CARRIES]-(sh:Shipment)
    WHERE """
    + SHIPMENT_IN_DETAIL
    + """
    UNWIND [sh.fromGln, sh.toGln] AS gln
    RETURN gln, null AS stock, null AS stockUom
    UNION ALL
    MATCH (l)-[h:HELD_AT]->(s:Site)
    WHERE """
    + STOCK_IN_DETAIL
    + """
    RETURN s.gln AS gln, h.quantity AS stock, h.uom AS stockUom
  }
  RETURN collect({lot: l.id, gtin: l.productGtin, gln: gln, stock: stock, uom: stockUom}) AS touches
}
CALL (seen) {
  UNWIND seen AS l
  WITH l.productGtin AS gtin, l.uom AS uom, sum(l.quantity) AS quantity, count(l) AS lots
  OPTIONAL MATCH (p:Product {gtin: gtin})
  WITH gtin, uom, quantity, lots, p.name AS name
  ORDER BY gtin, uom
  RETURN collect({productGtin: gtin, productName: name, uom: uom, quantity: quantity, lotCount: lots}) AS quantities
}
CALL (touches) {
  UNWIND touches AS t
  WITH t WHERE t.stock IS NOT NULL
  WITH t.gtin AS gtin, t.uom AS uom, sum(t.stock) AS quantity, count(DISTINCT t.lot) AS lots
  OPTIONAL MATCH (p:Product {gtin: gtin})
  WITH gtin, uom, quantity, lots, p.name AS name
  ORDER BY gtin, uom
  RETURN collect({productGtin: gtin, productName: name, uom: uom, quantity: quantity, lotCount: lots}) AS inStock
}
CALL (touches) {
  UNWIND touches AS t
  WITH t.gln AS gln, count(DISTINCT t.lot) AS lots, collect(CASE WHEN t.stock IS NOT NULL THEN t END) AS stocked
  MATCH (s:Site {gln: gln})
  CALL (stocked) {
    UNWIND stocked AS t
    WITH t.gtin AS gtin, t.uom AS uom, sum(t.stock) AS quantity, count(DISTINCT t.lot) AS lots
    OPTIONAL MATCH (p:Product {gtin: gtin})
    WITH gtin, uom, quantity, lots, p.name AS name
    ORDER BY gtin, uom
    RETURN collect({productGtin: gtin, productName: name, uom: uom, quantity: quantity, lotCount: lots}) AS stock
  }
  WITH s, lots, stock
  ORDER BY s.gln
  RETURN collect(s {.gln, .name, .kind, .region, .firmId, lotCount: lots, stock: stock}) AS sites
}
CALL (seen, sites) {
  UNWIND [l IN seen | {firmId: l.ownerFirmId, lot: 1, site: 0}]
       + [s IN sites | {firmId: s.firmId, lot: 0, site: 1}] AS x
  WITH x.firmId AS firmId, sum(x.lot) AS lots, sum(x.site) AS siteCount
  MATCH (f:Firm {id: firmId})
  WITH f, lots, siteCount
  ORDER BY f.id
  RETURN collect(f {.id, .name, .roles, lotCount: lots, siteCount: siteCount}) AS firms
}
CALL (touches) {
  UNWIND touches AS t
  MATCH (s:Site {gln: t.gln})-[:SELLS_THROUGH]->(c:SalesChannel)<-[:LISTED_ON]-(:Product {gtin: t.gtin})
  WITH c, collect(DISTINCT t.gtin) AS gtins, collect(DISTINCT s.gln) AS glns, count(DISTINCT t.lot) AS lots
  ORDER BY c.id
  RETURN collect(c {.id, .name, .kind, .operatorFirmId, lotCount: lots,
                    productGtins: COLLECT { UNWIND gtins AS g RETURN g ORDER BY g },
                    siteGlns: COLLECT { UNWIND glns AS g RETURN g ORDER BY g }}) AS channels
}
RETURN affected AS affectedCount, size(seen) AS lotCount, affected - size(seen) AS hiddenCount,
       heldSeen AS heldCount, quantities, inStock, sites, firms, channels
"""
)

RECALL_IMPACT: Final = (
    """
MATCH (r:Recall {id: $id})
WHERE """
    + RECALL_SEEN_BY
    + """
OPTIONAL MATCH (r)-[a:AFFECTS]->(l:Lot)
WHERE $direction IS NULL OR a.direction = $direction
WITH r.id AS scope, l, coalesce(a.held, false) AS held"""
    + IMPACT_BODY
)

# A mock recall's lots come from its reach steps as internal references, so hidden lots' codes never leave
# the database.
MOCK_IMPACT: Final = (
    """
UNWIND $affected AS row
MATCH (l:Lot) WHERE elementId(l) = row.ref
WITH 'mock' AS scope, l, row.held AS held"""
    + IMPACT_BODY
)


async def recall_impact(
    graph: Graph, viewer: Viewer, *, recall_id: str, overseer: bool, direction: str | None = None
) -> Row | None:
    """The impact of a recall the viewer may read, over the affected lots it may see (None if it may not read it).

    ``direction`` narrows it to the held lots (DOWNSTREAM: what the recall pulls) or the upstream ones.
    """
    params = {"id": recall_id, "overseer": overseer, "direction": direction, **viewer.params()}
    rows = await graph.read(RECALL_IMPACT, {**params, **viewer.shared_params()})
    return rows[0] if rows else None


# --- the affected lots, one page at a time ----------------------------------------------------------------

# Held (downstream) lots first, nearest first; a hidden lot comes back as a reference to derive an opaque id
# from, ordered by that reference so its place in the list says nothing about its lot code.
RECALL_AFFECTED_LOTS: Final = (
    """
MATCH (r:Recall {id: $id})
WHERE """
    + RECALL_SEEN_BY
    + """
MATCH (r)-[a:AFFECTS]->(l:Lot)
WHERE $direction IS NULL OR a.direction = $direction
WITH r, a, l, """
    + LOT_IN_DETAIL
    + """ AS visible
ORDER BY a.held DESC, a.depth, visible DESC, CASE WHEN visible THEN l.id ELSE elementId(l) END
SKIP $offset LIMIT $limit
RETURN a.direction AS direction, a.depth AS depth, coalesce(a.held, false) AS held,
       EXISTS { (r)-[:RECALLS]->(l) } AS recalled,
       CASE WHEN visible THEN """
    + LOT_FIELDS
    + """ END AS lot,
       CASE WHEN visible THEN null ELSE elementId(l) END AS hiddenRef,
       COLLECT { MATCH (f:Firm {id: l.ownerFirmId}) RETURN head(f.roles) }[0] AS ownerRole
"""
)

COUNT_RECALL_AFFECTED_LOTS: Final = (
    """
MATCH (r:Recall {id: $id})
WHERE """
    + RECALL_SEEN_BY
    + """
MATCH (r)-[a:AFFECTS]->(l:Lot)
WHERE $direction IS NULL OR a.direction = $direction
RETURN count(l) AS total
"""
)


async def recall_affected_lots(
    graph: Graph,
    viewer: Viewer,
    *,
    recall_id: str,
    overseer: bool,
    direction: str | None,
    offset: int,
    limit: int,
) -> list[Row]:
    """A page of a recall's affected lots: direction, depth, held, recalled, and the lot or a hidden reference."""
    params = {
        "id": recall_id,
        "overseer": overseer,
        "direction": direction,
        "offset": offset,
        "limit": limit,
        **viewer.params(),
    }
    return await graph.read(RECALL_AFFECTED_LOTS, params)


async def count_recall_affected_lots(
    graph: Graph, viewer: Viewer, *, recall_id: str, overseer: bool, direction: str | None
) -> int:
    """How many lots a recall affects (in one direction, or both)."""
    params = {"id": recall_id, "overseer": overseer, "direction": direction, **viewer.params()}
    return int((await graph.read(COUNT_RECALL_AFFECTED_LOTS, params))[0]["total"])


# --- the mock recall: the same steps, read-only -------------------------------------------------------------

_REACHED_LOT: Final = (
    """
WITH l, min(depth) AS depth
WITH l, depth, """
    + LOT_IN_DETAIL
    + """ AS visible
RETURN elementId(l) AS ref, depth, l.id IN $lotIds AS recalled,
       CASE WHEN visible THEN """
    + LOT_FIELDS
    + """ END AS lot,
       COLLECT { MATCH (f:Firm {id: l.ownerFirmId}) RETURN head(f.roles) }[0] AS ownerRole
"""
)

MOCK_REACH_DOWNSTREAM: Final = (
    """
UNWIND $lotIds AS lotId
MATCH (o:Lot {id: lotId})"""
    + DOWNSTREAM_OF_ORIGIN
    + _REACHED_LOT
)

MOCK_REACH_UPSTREAM: Final = (
    """
UNWIND $lotIds AS lotId
MATCH (o:Lot {id: lotId})"""
    + UPSTREAM_OF_ORIGIN
    + _REACHED_LOT
)

# FSMA 204 readiness: every critical tracking event of the visible lots, with the key data elements the
# sortable spreadsheet needs and that are missing. Creation (harvest, packing or transformation output),
# each shipment and its receipt, each transformation that made the lot.
EXPORT_READINESS: Final = (
    """
UNWIND $refs AS ref
MATCH (l:Lot) WHERE elementId(l) = ref
WITH l WHERE """
    + LOT_IN_DETAIL
    + """
CALL (l) {
  RETURN 'creation of ' + l.id AS event,
         [k IN [CASE WHEN l.producedAt IS NULL THEN 'date' END,
                CASE WHEN l.siteGln IS NULL THEN 'location' END,
                CASE WHEN l.quantity IS NULL OR l.uom IS NULL THEN 'quantity and unit' END,
                CASE WHEN NOT EXISTS { (l)-[:OF_PRODUCT]->(:Product) } THEN 'product description' END]
          WHERE k IS NOT NULL] AS missing
  UNION ALL
  MATCH (l)<-[c:CARRIES]-(sh:Shipment)
  WHERE """
    + SHIPMENT_IN_DETAIL
    + """
  UNWIND [
    {event: 'shipping of ' + l.id + ' in ' + sh.id,
     missing: [k IN [CASE WHEN sh.shippedAt IS NULL THEN 'date' END,
                     CASE WHEN sh.docNumber IS NULL THEN 'reference document' END,
                     CASE WHEN c.quantity IS NULL OR c.uom IS NULL THEN 'quantity and unit' END]
               WHERE k IS NOT NULL]},
    {event: 'receiving of ' + l.id + ' in ' + sh.id,
     missing: [k IN [CASE WHEN sh.receivedAt IS NULL THEN 'date' END,
                     CASE WHEN sh.docNumber IS NULL THEN 'reference document' END]
               WHERE k IS NOT NULL]}
  ] AS e
  RETURN e.event AS event, e.missing AS missing
  UNION ALL
  MATCH (l)<-[:PRODUCED]-(t:Transformation)
  RETURN 'transformation ' + t.id + ' into ' + l.id AS event,
         [k IN [CASE WHEN t.occurredAt IS NULL THEN 'date' END,
                CASE WHEN NOT EXISTS { (t)<-[:CONSUMED_BY]-(:Lot) } THEN 'input lots' END]
          WHERE k IS NOT NULL] AS missing
}
WITH event, missing
ORDER BY event
RETURN count(*) AS events, count(CASE WHEN size(missing) > 0 THEN 1 END) AS incomplete,
       collect(CASE WHEN size(missing) > 0 THEN {event: event, missing: missing} END)[0..$maxProblems] AS problems
"""
)

MAX_PROBLEMS: Final = 50


@dataclass(frozen=True)
class Step:
    """One timed step of a mock recall: its name, how long it took, and how many rows it produced."""

    name: str
    millis: float
    rows: int


@dataclass(frozen=True)
class MockRun:
    """What a mock recall found: the affected lots (held ones first), the impact, export readiness, timings."""

    lot_ids: list[str]
    affected: list[Row]
    impact: Row
    readiness: Row
    steps: list[Step]
    total_millis: float


async def _timed(steps: list[Step], name: str, work: Callable[[], Awaitable[list[Row]]]) -> list[Row]:
    started = time.perf_counter()
    rows = await work()
    steps.append(Step(name=name, millis=(time.perf_counter() - started) * 1000, rows=len(rows)))
    return rows


async def mock_recall(graph: Graph, viewer: Viewer, *, lot_ids: Sequence[str], overseer: bool) -> MockRun:
    """Run a recall's steps on demand with read queries only: nothing is held, stored or opened.

    The lots must be ones the caller could recall. The figures are those of the caller's own visibility: a
    mock recall opens nothing, so lots a declared recall would open show up as hidden (a drill's finding).
    """
    started = time.perf_counter()
    params: dict[str, Any] = {
        "lotIds": list(lot_ids),
        "overseer": overseer,
        **viewer.params(),
        **viewer.shared_params(),
    }
    for bad in await graph.read(CHECK_RECALLED_LOTS, params):
        reject_recalled_lot(bad)
    steps: list[Step] = []

    def read(query: LiteralString, extra: dict[str, Any] | None = None) -> Callable[[], Awaitable[list[Row]]]:
        return lambda: graph.read(query, {**params, **(extra or {})})

    upstream = await _timed(steps, "traceUpstream", read(MOCK_REACH_UPSTREAM))
    downstream = await _timed(steps, "traceDownstream", read(MOCK_REACH_DOWNSTREAM))
    affected = _merge(downstream=downstream, upstream=upstream)
    held = [{"ref": row["ref"], "held": row["held"]} for row in affected]
    impact = await _timed(steps, "impactAggregation", read(MOCK_IMPACT, {"affected": held}))
    readiness = await _timed(
        steps,
        "exportReadiness",
        read(EXPORT_READINESS, {"refs": [row["ref"] for row in affected], "maxProblems": MAX_PROBLEMS}),
    )
    return MockRun(
        lot_ids=list(lot_ids),
        affected=affected,
        impact=impact[0],
        readiness=readiness[0],
        steps=steps,
        total_millis=(time.perf_counter() - started) * 1000,
    )


def _merge(*, downstream: list[Row], upstream: list[Row]) -> list[Row]:
    """One row per reached lot, as a declared recall would store it: downstream (held) wins over upstream."""
    rows = [{**row, "direction": "DOWNSTREAM", "held": True} for row in downstream]
    down = {row["ref"] for row in downstream}
    rows += [{**row, "direction": "UPSTREAM", "held": False} for row in upstream if row["ref"] not in down]

    def order(row: Row) -> tuple[bool, int, bool, str]:
        visible = row["lot"] is not None
        return (not row["held"], row["depth"], not visible, row["lot"]["id"] if visible else row["ref"])

    return sorted(rows, key=order)
