"""Stock: the quantity of a lot held at a site, as of a time, and the reads of it per INVENTORY grants.

Stock is a relationship, ``(:Lot)-[:HELD_AT {quantity, uom, asOf, firmId}]->(:Site)``, whose ``firmId`` is the
site's firm: the holder owns the stock record (not the lot's maker), so the holder's INVENTORY grants decide
who sees it. A count is the truth as of its time: a count older than the one recorded is refused, and a
movement (``move_stock``) changes a count only when it happened at or after that count's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, LiteralString, NoReturn

from neo4j import AsyncManagedTransaction, AsyncTransaction
from pydantic import Field, model_validator

from graph_schema.access import Viewer, held_by
from graph_schema.db import Graph, Row, checked_write
from graph_schema.errors import Conflict, Forbidden, HubError, NotFound
from graph_schema.lots import WRITE_INVENTORY
from graph_schema.records import AwareDatetime, Gln, InventoryRecord, LotId, Quantity, Record, Uom

# --- recording counts ------------------------------------------------------------------------------------

# A firm counts stock at its own sites, of lots it holds (its own or shipped to it), in the lot's unit.
CHECK_STOCK: Final = (
    """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (s:Site {gln: row.siteGln})
OPTIONAL MATCH (l:Lot {id: row.lotId})
OPTIONAL MATCH (l)-[h:HELD_AT]->(s)
WITH i, row, s, l, h
WHERE s IS NULL OR s.firmId <> $firmId OR l IS NULL OR NOT """
    + held_by("$firmId")
    + """ OR l.uom <> row.uom OR (h IS NOT NULL AND h.asOf > datetime(row.asOf))
RETURN i, row.lotId AS lotId, s IS NULL AS missingSite, s IS NOT NULL AND s.firmId <> $firmId AS foreignSite,
       l IS NULL AS missingLot, l.uom AS lotUom, row.uom <> l.uom AS wrongUom,
       CASE WHEN h IS NOT NULL AND h.asOf > datetime(row.asOf) THEN h.asOf END AS laterCount
ORDER BY i
"""
)


async def record_stock(graph: Graph, records: Sequence[InventoryRecord], *, firm_id: str, path: str = "input") -> int:
    """Record stock counts of ``firm_id`` at its own sites, all or none; a later count already recorded wins.

    Counts are written by the statement the seed uses too (graph_schema.lots.WRITE_INVENTORY)."""
    keys = [(r.lot_id, r.site_gln) for r in records]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            raise HubError(
                f"{path}[{index}]: lot {key[0]} at site {key[1]} appears more than once in this batch",
                field=f"{path}[{index}]",
            )
    params = {"rows": [r.row() for r in records], "firmId": firm_id}

    def reject(bad: Row) -> NoReturn:
        at = f"{path}[{bad['i']}]"
        if bad["missingSite"]:
            raise NotFound(f"{at}: site is not registered", field=f"{at}.siteGln")
        if bad["foreignSite"]:
            raise Forbidden(
                f"{at}: the site belongs to another firm; count stock at your own sites", field=f"{at}.siteGln"
            )
        if bad["missingLot"]:
            raise NotFound(f"{at}: lot {bad['lotId']} is not recorded", field=f"{at}.lotId")
        if bad["wrongUom"]:
            raise HubError(f"{at}: lot {bad['lotId']} is counted in {bad['lotUom']}", field=f"{at}.uom")
        if bad["laterCount"] is not None:
            raise Conflict(
                f"{at}: a later count of this lot at this site is recorded (as of {bad['laterCount'].iso_format()})",
                field=f"{at}.asOf",
            )
        raise Forbidden(f"{at}: lot {bad['lotId']} is neither yours nor shipped to you", field=f"{at}.lotId")

    written = await checked_write(graph, check=CHECK_STOCK, write=WRITE_INVENTORY, params=params, reject=reject)
    return int(written[0]["written"])


# --- movements (EPCIS shipping and receiving) ------------------------------------------------------------


class StockMove(Record):
    """A quantity of a lot leaving one site (``fromGln``) and/or arriving at another (``toGln``) at a time."""

    lot_id: LotId = Field(alias="lotId")
    quantity: Quantity
    uom: Uom
    from_gln: Gln | None = Field(default=None, alias="fromGln")
    to_gln: Gln | None = Field(default=None, alias="toGln")
    at: AwareDatetime

    @model_validator(mode="after")
    def _somewhere(self) -> StockMove:
        if self.from_gln is None and self.to_gln is None:
            raise ValueError("a stock movement needs fromGln, toGln or both")
        if self.from_gln == self.to_gln:
            raise ValueError("a stock movement must go from one site to another (fromGln equals toGln)")
        return self


CHECK_MOVES: Final = """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (l:Lot {id: row.lotId})
OPTIONAL MATCH (a:Site {gln: row.fromGln})
OPTIONAL MATCH (b:Site {gln: row.toGln})
WITH i, row, l, a, b
WHERE l IS NULL OR l.uom <> row.uom OR (row.fromGln IS NOT NULL AND a IS NULL) OR (row.toGln IS NOT NULL AND b IS NULL)
RETURN i, row.lotId AS lotId, l IS NULL AS missingLot, l.uom AS lotUom,
       row.fromGln IS NOT NULL AND a IS NULL AS missingFrom, row.toGln IS NOT NULL AND b IS NULL AS missingTo
ORDER BY i
LIMIT 1
"""

# Rows apply in order, so two moves of one lot in a batch add up. A count taken after the movement already
# reflects it and is left alone; stock is never taken below zero (the shortfall is reported instead).
MOVES: Final = """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row, datetime($rows[i].at) AS at
MATCH (l:Lot {id: row.lotId})
OPTIONAL CALL (row, l, at) {
  MATCH (l)-[h:HELD_AT]->(:Site {gln: row.fromGln})
  WITH h, h.asOf <= at AS applies, h.quantity AS before
  SET h.quantity = CASE WHEN NOT applies THEN before WHEN before > row.quantity THEN before - row.quantity ELSE 0.0 END,
      h.asOf = CASE WHEN applies THEN at ELSE h.asOf END
  RETURN h.quantity AS fromQuantity,
         CASE WHEN applies AND before < row.quantity THEN row.quantity - before ELSE 0.0 END AS short
}
OPTIONAL CALL (row, l, at) {
  MATCH (b:Site {gln: row.toGln})
  MERGE (l)-[h:HELD_AT]->(b)
  ON CREATE SET h.quantity = 0.0, h.uom = row.uom, h.asOf = at, h.firmId = b.firmId
  WITH h, h.asOf <= at AS applies
  SET h.quantity = CASE WHEN applies THEN h.quantity + row.quantity ELSE h.quantity END,
      h.asOf = CASE WHEN applies THEN at ELSE h.asOf END
  RETURN h.quantity AS toQuantity
}
"""
APPLY_MOVES: Final = (
    MOVES
    + """RETURN i, fromQuantity, fromQuantity IS NOT NULL AS fromTracked, coalesce(short, 0.0) AS short, toQuantity
ORDER BY i
"""
)
# The same movements when the caller needs no account of each (an EPCIS capture): one row back instead of one per
# move, which a capture of thousands of events would otherwise read over the network and throw away.
APPLY_MOVES_QUIETLY: Final = MOVES + "RETURN count(*) AS moved\n"


async def move_stock(
    tx: AsyncManagedTransaction | AsyncTransaction, moves: Sequence[StockMove], *, report: bool = True
) -> list[Row]:
    """Apply stock movements inside the caller's transaction: decrement at ``fromGln``, increment at ``toGln``.

    For EPCIS capture: a shipping event moves ``fromGln`` only (or both, when one event records both ends), a
    receiving event ``toGln`` only. Raises NotFound for an unknown lot or site and HubError for a unit other
    than the lot's, before anything is applied. Returns, per move in order: ``fromQuantity`` (None where the
    origin has no count), ``fromTracked``, ``short`` (what the origin lacked) and ``toQuantity``; with
    ``report=False`` the same movements are applied and nothing is returned.
    """
    rows: list[dict[str, Any]] = [m.row() for m in moves]
    if not rows:
        return []
    for bad in await _run(tx, CHECK_MOVES, {"rows": rows}):
        at = f"moves[{bad['i']}]"
        if bad["missingLot"]:
            raise NotFound(f"{at}: lot {bad['lotId']} is not recorded", field=f"{at}.lotId")
        if bad["missingFrom"]:
            raise NotFound(f"{at}: origin site is not registered", field=f"{at}.fromGln")
        if bad["missingTo"]:
            raise NotFound(f"{at}: destination site is not registered", field=f"{at}.toGln")
        raise HubError(f"{at}: lot {bad['lotId']} is counted in {bad['lotUom']}", field=f"{at}.uom")
    if not report:
        await _run(tx, APPLY_MOVES_QUIETLY, {"rows": rows})
        return []
    return await _run(tx, APPLY_MOVES, {"rows": rows})


async def _run(
    tx: AsyncManagedTransaction | AsyncTransaction, query: LiteralString, params: dict[str, Any]
) -> list[Row]:
    result = await tx.run(query, params)
    return [record.data() async for record in result]


# --- reads -------------------------------------------------------------------------------------------------

# Owners sharing INVENTORY at DETAIL (and the viewer itself) show each lot at each site; owners sharing it at
# SUMMARY add to a total per product, region and unit, from which no firm, site or lot can be read.
# Keys order the rows by product, region, then detail before summary, and serve as the page cursor.
VISIBLE_STOCK: Final = """
CALL () {
  MATCH (s:Site) WHERE s.firmId IN $inventoryDetail AND ($region IS NULL OR s.region = $region)
  MATCH (l:Lot)-[h:HELD_AT]->(s)
  WHERE h.quantity > 0 AND ($productGtin IS NULL OR l.productGtin = $productGtin)
  RETURN l.productGtin + '|' + coalesce(s.region, '') + '|D|' + s.firmId + '|' + s.gln + '|' + l.id AS key,
         {level: 'DETAIL', productGtin: l.productGtin, region: s.region, firmId: s.firmId, siteGln: s.gln,
          lotId: l.id, quantity: h.quantity, uom: h.uom, asOf: h.asOf, lotCount: 1} AS row
  UNION
  MATCH (s:Site) WHERE s.firmId IN $inventorySummary AND ($region IS NULL OR s.region = $region)
  MATCH (l:Lot)-[h:HELD_AT]->(s)
  WHERE h.quantity > 0 AND ($productGtin IS NULL OR l.productGtin = $productGtin)
  WITH l.productGtin AS gtin, s.region AS region, h.uom AS uom, sum(h.quantity) AS quantity, max(h.asOf) AS asOf,
       count(*) AS lotCount
  RETURN gtin + '|' + coalesce(region, '') + '|S|' + uom AS key,
         {level: 'SUMMARY', productGtin: gtin, region: region, firmId: null, siteGln: null, lotId: null,
          quantity: quantity, uom: uom, asOf: asOf, lotCount: lotCount} AS row
}
"""

LIST_STOCK: Final = (
    VISIBLE_STOCK
    + """
WITH key, row WHERE $after IS NULL OR key > $after
RETURN key, row ORDER BY key LIMIT $limit
"""
)
COUNT_STOCK: Final = VISIBLE_STOCK + "RETURN count(*) AS total"


async def list_stock(
    graph: Graph, viewer: Viewer, *, product_gtin: str | None, region: str | None, after: str | None, limit: int
) -> list[Row]:
    """A page of the stock the viewer may see: lot-by-site rows in detail, totals per product and region in summary.

    Each row carries its ``key`` (the page cursor) and ``level``; summary rows carry no firm, site or lot.
    """
    params = {"productGtin": product_gtin, "region": region, "after": after, "limit": limit, **viewer.shared_params()}
    return [{**row["row"], "key": row["key"]} for row in await graph.read(LIST_STOCK, params)]


async def count_stock(graph: Graph, viewer: Viewer, *, product_gtin: str | None, region: str | None) -> int:
    """How many rows ``list_stock`` has in all with these filters."""
    params = {"productGtin": product_gtin, "region": region, **viewer.shared_params()}
    return int((await graph.read(COUNT_STOCK, params))[0]["total"])


# Available to promise: stock of ACTIVE lots not expired, less what accepted order allocations have promised
# from stock and not yet shipped, per holder; holders sharing in detail are listed, the rest only add up.
AVAILABLE_TO_PROMISE: Final = """
CALL () {
  MATCH (l:Lot {productGtin: $productGtin})-[h:HELD_AT]->(s:Site)
  WHERE h.quantity > 0 AND (h.firmId IN $inventoryDetail OR h.firmId IN $inventorySummary)
    AND l.status = 'ACTIVE' AND (l.expiresAt IS NULL OR l.expiresAt > $now)
  RETURN h.firmId AS firmId, h.uom AS uom, sum(h.quantity) AS onHand
}
WITH firmId, uom, onHand,
     COLLECT {
       MATCH (o:BulkOrder {productGtin: $productGtin})-[:HAS_ALLOCATION]->(a:Allocation {firmId: firmId})
       WHERE a.status = 'ACCEPTED' AND a.fromStock > 0
       WITH a, o, COLLECT {
         MATCH (a)<-[:FULFILS]-(:Lot)<-[c:CARRIES]-(sh:Shipment {toGln: o.deliveryGln}) RETURN c.quantity
       } AS shipped
       RETURN CASE WHEN a.fromStock > reduce(t = 0.0, q IN shipped | t + q)
                   THEN a.fromStock - reduce(t = 0.0, q IN shipped | t + q) ELSE 0.0 END
     } AS promised
WITH firmId, uom, onHand, reduce(t = 0.0, q IN promised | t + q) AS committed,
     firmId IN $inventoryDetail AS detail
WITH uom, collect(CASE WHEN detail THEN {firmId: firmId, onHand: onHand, committed: committed} END) AS firms,
     sum(onHand) AS onHand, sum(committed) AS committed
RETURN uom, onHand, committed, firms
ORDER BY uom
"""


async def available_to_promise(graph: Graph, viewer: Viewer, *, product_gtin: str, now: datetime) -> list[Row]:
    """Per unit: stock on hand and promised across the holders the viewer sees, with the detail holders listed."""
    params = {"productGtin": product_gtin, "now": now, **viewer.shared_params()}
    return await graph.read(AVAILABLE_TO_PROMISE, params)
