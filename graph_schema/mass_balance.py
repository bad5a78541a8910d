"""The mass balance of a recall, computed from the graph: for each held lot at each site it touched,
made there + received there = used there in transformations + shipped from there + in stock there + reported
destroyed or returned there. Whatever does not balance is a gap, flagged with its lot, site and firm: the
quantity the records cannot place (sold without a record, lost, or not yet entered). A lot's figures are the
sums over its sites; a product's, the sums over its lots (in each lot's unit).

Shipments count at both ends as soon as they are recorded (a consignment on the road is the receiver's), stock
is the last count (HELD_AT), and REMOVED reports are not outflows: removed goods are still on hand.
"""

from __future__ import annotations

from typing import Final

from graph_schema.db import Graph, Row

GAP_TOLERANCE: Final = 1e-6  # quantities are decimals summed in floating point

# The subqueries name no label on the lot's neighbours: with one, the planner may seek every shipment from a
# site by its index for each lot (10,000 shipments from one plant, for each of 10,000 lots) instead of
# expanding the lot's own few relationships.
MASS_BALANCE: Final = """
MATCH (r:Recall {id: $id})-[:AFFECTS {held: true}]->(l:Lot)
CALL (l) {
  RETURN l.siteGln AS gln
  UNION
  MATCH (l)<-[:CARRIES]-(sh:Shipment) UNWIND [sh.fromGln, sh.toGln] AS gln RETURN gln
  UNION
  MATCH (l)-[:HELD_AT]->(s:Site) RETURN s.gln AS gln
  UNION
  MATCH (l)-[:CONSUMED_BY]->(t:Transformation) RETURN t.siteGln AS gln
  UNION
  MATCH (l)<-[:OF_LOT]-(d:RecallDisposition) RETURN d.siteGln AS gln
}
WITH l, gln,
     COLLECT { MATCH (l)<-[c:CARRIES]-(sh) WHERE sh.toGln = gln RETURN c.quantity } AS ins,
     COLLECT { MATCH (l)-[c:CONSUMED_BY]->(tr) WHERE tr.siteGln = gln RETURN c.quantity } AS uses,
     COLLECT { MATCH (l)<-[c:CARRIES]-(sh) WHERE sh.fromGln = gln RETURN c.quantity } AS outs,
     COLLECT { MATCH (l)-[h:HELD_AT]->(s) WHERE s.gln = gln RETURN h.quantity } AS counts,
     COLLECT { MATCH (l)<-[:OF_LOT]-(d)
               WHERE d.siteGln = gln AND d.disposition IN ['DESTROYED', 'RETURNED'] RETURN d.quantity } AS disposals
WITH l, gln, CASE WHEN gln = l.siteGln THEN l.quantity ELSE 0.0 END AS produced,
     reduce(acc = 0.0, q IN ins | acc + q) AS received, reduce(acc = 0.0, q IN uses | acc + q) AS used,
     reduce(acc = 0.0, q IN outs | acc + q) AS shipped, reduce(acc = 0.0, q IN counts | acc + q) AS inStock,
     reduce(acc = 0.0, q IN disposals | acc + q) AS disposed
OPTIONAL MATCH (s:Site {gln: gln})
WITH l, gln, s.firmId AS firmId, produced, received, used, shipped, inStock, disposed,
     produced + received - used - shipped - inStock - disposed AS gap
ORDER BY l.id, gln
RETURN l.id AS lotId, l.productGtin AS productGtin, l.uom AS uom,
       collect({siteGln: gln, firmId: firmId, produced: produced, received: received, used: used, shipped: shipped,
                inStock: inStock, disposed: disposed, gap: gap,
                flagged: abs(gap) > $tolerance}) AS sites
"""


async def recall_mass_balance(graph: Graph, *, recall_id: str) -> list[Row]:
    """Per held lot of the recall (by id): its product, unit and per-site balance rows (callers decide who asks)."""
    return await graph.read_maps(MASS_BALANCE, {"id": recall_id, "tolerance": GAP_TOLERANCE})
