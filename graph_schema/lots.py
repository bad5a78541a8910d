"""Lots, transformations, shipments and inventory: the chain's events, written in batches with UNWIND.

Every write checks its references and its author's right to write inside the same transaction and raises
before commit, so a rejected batch writes nothing. Every read takes a Viewer and filters in the query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

from neo4j import AsyncManagedTransaction

from graph_schema.access import LOT_IN_DETAIL, SHIPMENT_IN_DETAIL, Viewer, held_by
from graph_schema.db import CheckedStep, Graph, Row, checked_write_all, keyed, keyed_lists, run
from graph_schema.errors import Conflict, Forbidden, NotFound
from graph_schema.haccp.deviations import LINK_NEW_LOT
from graph_schema.recalls import DOWNSTREAM_OF_ORIGIN
from graph_schema.records import InventoryRecord, LotRecord, ShipmentRecord, TransformationRecord

# --- commissioning -------------------------------------------------------------------------------------

CHECK_LOTS: Final = """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (p:Product {gtin: row.productGtin})
OPTIONAL MATCH (s:Site {gln: row.siteGln})
OPTIONAL MATCH (existing:Lot {id: row.id})
WITH i, row, p, s, existing
WHERE p IS NULL OR s IS NULL OR s.firmId <> row.ownerFirmId
   OR (existing IS NOT NULL AND existing.ownerFirmId <> row.ownerFirmId)
RETURN i, row.id AS id, p IS NULL AS missingProduct, s IS NULL AS missingSite,
       s.firmId AS siteFirm, existing.ownerFirmId AS heldBy
ORDER BY i
"""

# Idempotent on the LGTIN: a lot recorded again keeps its first record.
WRITE_LOTS: Final = (
    """
UNWIND $rows AS row
MATCH (p:Product {gtin: row.productGtin})
MATCH (s:Site {gln: row.siteGln})
MERGE (l:Lot {id: row.id})
ON CREATE SET l.lotNumber = row.lotNumber, l.productGtin = row.productGtin, l.ownerFirmId = row.ownerFirmId,
              l.siteGln = row.siteGln, l.quantity = row.quantity, l.uom = row.uom,
              l.producedAt = datetime(row.producedAt), l.expiresAt = datetime(row.expiresAt), l.status = row.status,
              l.created = true
WITH l, p, s, coalesce(l.created, false) AS created
REMOVE l.created
FOREACH (_ IN CASE WHEN created THEN [1] ELSE [] END |
  CREATE (l)-[:OF_PRODUCT]->(p)
  CREATE (l)-[:MADE_AT]->(s))
WITH l, created"""
    + LINK_NEW_LOT
    + """RETURN count(CASE WHEN created THEN 1 END) AS created
"""
)


Where = Callable[[int], str]


def _at(path: str) -> Where:
    return lambda i: f"{path}[{i}]"


def lots_step(records: Sequence[LotRecord], *, where: Where) -> CheckedStep:
    """The checked write commissioning ``records``; ``where(i)`` names row i in error messages."""

    def reject(bad: Row) -> NoReturn:
        at = where(bad["i"])
        if bad["missingProduct"]:
            raise NotFound(f"{at}: no product is registered for lot {bad['id']}", field=f"{at}.id")
        if bad["missingSite"]:
            raise NotFound(f"{at}: site is not registered", field=f"{at}.siteGln")
        if bad["heldBy"] is not None:
            raise Conflict(f"{at}: lot {bad['id']} is already recorded by another firm", field=f"{at}.id")
        raise Forbidden(f"{at}: the site belongs to another firm", field=f"{at}.siteGln")

    return CheckedStep(check=CHECK_LOTS, write=WRITE_LOTS, params={"rows": [r.row() for r in records]}, reject=reject)


async def record_lots(graph: Graph, records: Sequence[LotRecord], *, path: str = "lots") -> int:
    """Commission lots at their owners' sites; returns how many were new."""
    [written] = await checked_write_all(graph, [lots_step(records, where=_at(path))])
    return int(written[0]["created"])


# --- transformations -------------------------------------------------------------------------------------

# Inputs must be the firm's own lots or lots shipped to it; outputs must be its own lots, made once.
CHECK_TRANSFORMATIONS: Final = (
    """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (s:Site {gln: row.siteGln})
OPTIONAL MATCH (existing:Transformation {id: row.id})
CALL (row) {
  UNWIND row.inputs AS item
  OPTIONAL MATCH (l:Lot {id: item.lotId})
  WITH item, l
  WHERE l IS NULL OR NOT """
    + held_by("row.firmId")
    + """
  RETURN collect(CASE WHEN l IS NULL THEN 'missing:' ELSE 'foreign:' END + item.lotId) AS badInputs
}
CALL (row) {
  UNWIND row.outputs AS item
  OPTIONAL MATCH (l:Lot {id: item.lotId})
  OPTIONAL MATCH (l)<-[:PRODUCED]-(other:Transformation) WHERE other.id <> row.id
  WITH item, l, other
  WHERE l IS NULL OR l.ownerFirmId <> row.firmId OR other IS NOT NULL
  RETURN collect(CASE WHEN l IS NULL THEN 'missing:' WHEN other IS NOT NULL THEN 'made:' ELSE 'foreign:' END
                 + item.lotId) AS badOutputs
}
WITH i, row, s, existing, badInputs, badOutputs
WHERE s IS NULL OR s.firmId <> row.firmId OR (existing IS NOT NULL AND existing.firmId <> row.firmId)
   OR size(badInputs) > 0 OR size(badOutputs) > 0
RETURN i, s IS NULL AS missingSite, existing IS NOT NULL AND existing.firmId <> row.firmId AS heldElsewhere,
       badInputs, badOutputs
ORDER BY i
"""
)

# A lot made from a lot an open recall holds joins that recall, whenever the transformation is recorded, and so
# do the lots already made from it (recorded before it, as events may arrive out of order): each is downstream of
# the nearest held input, by the one definition of downstream the declaration traces with (DOWNSTREAM_OF_ORIGIN),
# and held as the recall's hold says (its status before any open recall held it kept for closing, as at
# declaration: graph_schema/recalls.py). Its holder is told after the commit: the join is marked
# ``notice: 'PENDING'`` with the transformation as its ``noticeKey`` (one RECALL_UPDATED event per recall and
# transformation), and graph_schema.recalls.pending_joins finds it.
EXTEND_OPEN_RECALLS: Final = (
    """
  UNWIND row.outputs AS item
  MATCH (made:Lot {id: item.lotId})
  MATCH (t)<-[:CONSUMED_BY]-(:Lot)<-[src:AFFECTS {held: true}]-(r:Recall {status: 'OPEN'})
  WITH t, r, made AS o, min(src.depth) + 1 AS base"""
    + DOWNSTREAM_OF_ORIGIN
    + """  WITH t, r, l AS o, min(base + depth) AS depth
  WHERE NOT EXISTS { MATCH (r)-[:AFFECTS]->(o) }
  WITH t, r, o, depth,
       coalesce(COLLECT { MATCH (o)<-[other:AFFECTS {held: true}]-(open:Recall {status: 'OPEN'}) WHERE open <> r
                          RETURN other.priorStatus LIMIT 1 }[0], o.status) AS prior
  CREATE (r)-[:AFFECTS {direction: 'DOWNSTREAM', depth: depth, held: true, priorStatus: prior,
                        joinedAt: datetime(), notice: 'PENDING', noticeKey: t.id}]->(o)
  SET o.status = CASE WHEN r.hold = 'RECALLED' THEN 'RECALLED' WHEN o.status = 'ACTIVE' THEN 'ON_HOLD'
                      ELSE o.status END
  RETURN count(*) AS joined
"""
)

WRITE_TRANSFORMATIONS: Final = (
    """
UNWIND $rows AS row
MATCH (s:Site {gln: row.siteGln})
MERGE (t:Transformation {id: row.id})
ON CREATE SET t.firmId = row.firmId, t.siteGln = row.siteGln, t.occurredAt = datetime(row.occurredAt)
WITH row, t
CALL (row, t) {
  UNWIND row.inputs AS item
  MATCH (l:Lot {id: item.lotId})
  MERGE (l)-[c:CONSUMED_BY]->(t)
  SET c.quantity = item.quantity, c.uom = item.uom
  RETURN count(*) AS inputs
}
CALL (row, t) {
  UNWIND row.outputs AS item
  MATCH (l:Lot {id: item.lotId})
  MERGE (t)-[p:PRODUCED]->(l)
  SET p.quantity = item.quantity, p.uom = item.uom
  RETURN count(*) AS outputs
}
CALL (row, t) {"""
    + EXTEND_OPEN_RECALLS
    + """}
RETURN count(t) AS written
"""
)


def _describe(entries: list[str]) -> tuple[str, str]:
    kind, _, lot = entries[0].partition(":")
    return kind, lot


def transformations_step(records: Sequence[TransformationRecord], *, where: Where) -> CheckedStep:
    """The checked write linking input lots to output lots; ``where(i)`` names row i in error messages."""

    def reject(bad: Row) -> NoReturn:
        at = where(bad["i"])
        if bad["missingSite"]:
            raise NotFound(f"{at}: site is not registered", field=f"{at}.siteGln")
        if bad["heldElsewhere"]:
            raise Conflict(f"{at}: transformation id is used by another firm", field=f"{at}.id")
        if bad["badInputs"]:
            kind, lot = _describe(bad["badInputs"])
            if kind == "missing":
                raise NotFound(f"{at}: input lot {lot} is not recorded", field=f"{at}.inputs")
            raise Forbidden(f"{at}: input lot {lot} is neither yours nor shipped to you", field=f"{at}.inputs")
        if bad["badOutputs"]:
            kind, lot = _describe(bad["badOutputs"])
            if kind == "missing":
                raise NotFound(f"{at}: output lot {lot} is not recorded; commission it first", field=f"{at}.outputs")
            if kind == "made":
                raise Conflict(
                    f"{at}: output lot {lot} was already made by another transformation", field=f"{at}.outputs"
                )
            raise Forbidden(f"{at}: output lot {lot} belongs to another firm", field=f"{at}.outputs")
        raise Forbidden(f"{at}: the site belongs to another firm", field=f"{at}.siteGln")

    params = {"rows": [r.row() for r in records]}
    return CheckedStep(check=CHECK_TRANSFORMATIONS, write=WRITE_TRANSFORMATIONS, params=params, reject=reject)


async def record_transformations(
    graph: Graph, records: Sequence[TransformationRecord], *, path: str = "transformations"
) -> int:
    """Link input lots to the output lots made from them, with quantities."""
    [written] = await checked_write_all(graph, [transformations_step(records, where=_at(path))])
    return int(written[0]["written"])


# --- shipments -------------------------------------------------------------------------------------------

# The shipper is the firm of the origin site; it may ship its own lots and lots shipped to it.
CHECK_SHIPMENTS: Final = (
    """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS given
OPTIONAL MATCH (a:Site {gln: given.fromGln})
WITH i, a, given {.*, shipperFirmId: coalesce(given.shipperFirmId, a.firmId)} AS row
OPTIONAL MATCH (b:Site {gln: row.toGln})
OPTIONAL MATCH (existing:Shipment {id: row.id})
CALL (row) {
  UNWIND row.items AS item
  OPTIONAL MATCH (l:Lot {id: item.lotId})
  WITH item, l
  WHERE l IS NULL OR NOT """
    + held_by("row.shipperFirmId")
    + """
  RETURN collect(CASE WHEN l IS NULL THEN 'missing:' ELSE 'foreign:' END + item.lotId) AS badItems
}
WITH i, row, a, b, existing, badItems
WHERE a IS NULL OR b IS NULL OR a.firmId <> row.shipperFirmId
   OR (existing IS NOT NULL AND existing.fromFirmId <> row.shipperFirmId) OR size(badItems) > 0
RETURN i, a IS NULL AS missingFrom, b IS NULL AS missingTo,
       existing IS NOT NULL AND existing.fromFirmId <> row.shipperFirmId AS heldElsewhere, badItems
ORDER BY i
"""
)

WRITE_SHIPMENTS: Final = """
UNWIND $rows AS row
MATCH (a:Site {gln: row.fromGln})
MATCH (b:Site {gln: row.toGln})
MERGE (sh:Shipment {id: row.id})
ON CREATE SET sh.fromGln = row.fromGln, sh.toGln = row.toGln, sh.fromFirmId = a.firmId, sh.toFirmId = b.firmId,
              sh.shippedAt = datetime(row.shippedAt), sh.receivedAt = datetime(row.receivedAt),
              sh.docType = row.docType, sh.docNumber = row.docNumber
MERGE (sh)-[:FROM]->(a)
MERGE (sh)-[:TO]->(b)
WITH row, sh
CALL (row, sh) {
  UNWIND row.items AS item
  MATCH (l:Lot {id: item.lotId})
  MERGE (sh)-[c:CARRIES]->(l)
  SET c.quantity = item.quantity, c.uom = item.uom
  RETURN count(*) AS items
}
RETURN count(sh) AS written
"""


def shipments_step(records: Sequence[ShipmentRecord], *, shipper_firm_id: str | None, where: Where) -> CheckedStep:
    """The checked write of shipments; ``shipper_firm_id`` None means each origin site's own firm."""
    rows = [{**r.row(), "shipperFirmId": shipper_firm_id} for r in records]

    def reject(bad: Row) -> NoReturn:
        at = where(bad["i"])
        if bad["missingFrom"]:
            raise NotFound(f"{at}: origin site is not registered", field=f"{at}.fromGln")
        if bad["missingTo"]:
            raise NotFound(f"{at}: destination site is not registered", field=f"{at}.toGln")
        if bad["heldElsewhere"]:
            raise Conflict(f"{at}: shipment id is used by another firm", field=f"{at}.id")
        if bad["badItems"]:
            kind, lot = _describe(bad["badItems"])
            if kind == "missing":
                raise NotFound(f"{at}: lot {lot} is not recorded", field=f"{at}.items")
            raise Forbidden(f"{at}: lot {lot} is neither yours nor shipped to you", field=f"{at}.items")
        raise Forbidden(f"{at}: the origin site belongs to another firm", field=f"{at}.fromGln")

    return CheckedStep(check=CHECK_SHIPMENTS, write=WRITE_SHIPMENTS, params={"rows": rows}, reject=reject)


async def record_shipments(
    graph: Graph, records: Sequence[ShipmentRecord], *, shipper_firm_id: str | None, path: str = "shipments"
) -> int:
    """Record shipments of lots between sites; ``shipper_firm_id`` None means each origin site's own firm."""
    [written] = await checked_write_all(
        graph, [shipments_step(records, shipper_firm_id=shipper_firm_id, where=_at(path))]
    )
    return int(written[0]["written"])


RECEIVE_SHIPMENT: Final = """
MATCH (sh:Shipment {id: $id})
WITH sh, sh.toFirmId = $firmId AS mine
SET sh.receivedAt = CASE WHEN mine THEN $receivedAt ELSE sh.receivedAt END
RETURN mine, sh.shippedAt AS shippedAt
"""


async def receive_shipment(graph: Graph, *, shipment_id: str, firm_id: str, received_at: Any) -> None:
    """Mark a shipment received by its destination firm."""

    async def work(tx: AsyncManagedTransaction) -> None:
        rows = await run(tx, RECEIVE_SHIPMENT, {"id": shipment_id, "firmId": firm_id, "receivedAt": received_at})
        if not rows:
            raise NotFound(f"shipment {shipment_id!r} is not recorded", field="id")
        if not rows[0]["mine"]:
            # Same answer as an unknown id: another firm's shipment ids are not disclosed.
            raise NotFound(f"shipment {shipment_id!r} is not recorded", field="id")
        if rows[0]["shippedAt"].to_native() > received_at:
            raise Conflict("receivedAt is before the shipment's shippedAt", field="receivedAt")

    await graph.transaction(work)


# --- inventory -------------------------------------------------------------------------------------------

WRITE_INVENTORY: Final = """
UNWIND $rows AS row
MATCH (l:Lot {id: row.lotId})
MATCH (s:Site {gln: row.siteGln})
MERGE (l)-[h:HELD_AT]->(s)
SET h.quantity = row.quantity, h.uom = row.uom, h.asOf = datetime(row.asOf), h.firmId = s.firmId
RETURN count(h) AS written
"""


async def record_inventory(graph: Graph, records: Sequence[InventoryRecord]) -> int:
    """Set the quantity of lots held at sites (the latest as-of wins)."""
    rows = [r.row() for r in records]

    async def work(tx: AsyncManagedTransaction) -> int:
        written = int((await run(tx, WRITE_INVENTORY, {"rows": rows}))[0]["written"])
        if written != len(rows):
            raise NotFound("an inventory row names a lot or site that is not recorded", field="inventory")
        return written

    return await graph.transaction(work)


# --- reads -----------------------------------------------------------------------------------------------

LOT_FIELDS: Final = (
    "l {.id, .lotNumber, .productGtin, .ownerFirmId, .siteGln, .quantity, .uom, .producedAt, .expiresAt, .status}"
)
SHIPMENT_FIELDS: Final = (
    "{id: sh.id, lotId: l.id, fromGln: sh.fromGln, toGln: sh.toGln, fromFirmId: sh.fromFirmId, "
    "toFirmId: sh.toFirmId, shippedAt: sh.shippedAt, receivedAt: sh.receivedAt, docType: sh.docType, "
    "docNumber: sh.docNumber, quantity: c.quantity, uom: c.uom}"
)

# The same with their temporal values as ISO 8601 text (toString), for the reads GraphQL answers from: the driver
# builds each DateTime in Python (tens of microseconds apiece: a tenth of a lot detail page's time, half of the
# decoding of a 10,000-lot trace); the text parses back to the same instant and offset
# (resolvers.types.values.native_datetime).
LOT_FIELDS_AS_TEXT: Final = LOT_FIELDS.replace(
    ".producedAt, .expiresAt", "producedAt: toString(l.producedAt), expiresAt: toString(l.expiresAt)"
)
SHIPMENT_FIELDS_AS_TEXT: Final = SHIPMENT_FIELDS.replace(
    "shippedAt: sh.shippedAt, receivedAt: sh.receivedAt",
    "shippedAt: toString(sh.shippedAt), receivedAt: toString(sh.receivedAt)",
)
if LOT_FIELDS_AS_TEXT == LOT_FIELDS or SHIPMENT_FIELDS_AS_TEXT == SHIPMENT_FIELDS:  # pragma: no cover
    raise RuntimeError("LOT_FIELDS or SHIPMENT_FIELDS changed: write their temporal fields as text again")

LOTS_BY_ID: Final = (
    """
UNWIND $ids AS id
MATCH (l:Lot {id: id})
WHERE """
    + LOT_IN_DETAIL
    + """
RETURN id, """
    + LOT_FIELDS_AS_TEXT
    + " AS lot"
)


async def lots_by_id(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[Row | None]:
    """Lots the viewer may see in detail, in the order of ``ids`` (None for unknown or hidden lots)."""
    rows = await graph.read(LOTS_BY_ID, {"ids": list(ids), **viewer.params()})
    return keyed(rows, ids, key="id", value="lot")


# Inputs of a lot: the lots consumed by the transformation that made it. Hidden inputs come back as a
# quantity without the lot, so the recipe's shape stays whole without disclosing whose lot it was.
INPUTS_OF_LOTS: Final = (
    """
UNWIND $ids AS id
MATCH (o:Lot {id: id})<-[:PRODUCED]-(t:Transformation)<-[c:CONSUMED_BY]-(l:Lot)
WITH id, t, c, l, """
    + LOT_IN_DETAIL
    + """ AS visible
ORDER BY l.id
RETURN id, collect({transformationId: t.id, occurredAt: t.occurredAt, quantity: c.quantity, uom: c.uom,
                    lotId: CASE WHEN visible THEN l.id END, lot: CASE WHEN visible THEN """
    + LOT_FIELDS_AS_TEXT
    + """ END}) AS inputs
"""
)

OUTPUTS_OF_LOTS: Final = (
    """
UNWIND $ids AS id
MATCH (o:Lot {id: id})-[c:CONSUMED_BY]->(t:Transformation)-[p:PRODUCED]->(l:Lot)
WITH id, t, c, p, l, """
    + LOT_IN_DETAIL
    + """ AS visible
ORDER BY l.id
RETURN id, collect({transformationId: t.id, occurredAt: t.occurredAt, quantity: p.quantity, uom: p.uom,
                    consumedQuantity: c.quantity, lotId: CASE WHEN visible THEN l.id END,
                    lot: CASE WHEN visible THEN """
    + LOT_FIELDS_AS_TEXT
    + """ END}) AS outputs
"""
)

SHIPMENTS_OF_LOTS: Final = (
    """
UNWIND $ids AS id
MATCH (l:Lot {id: id})<-[c:CARRIES]-(sh:Shipment)
WHERE """
    + SHIPMENT_IN_DETAIL
    + """
WITH id, l, c, sh ORDER BY sh.shippedAt, sh.id
RETURN id, collect("""
    + SHIPMENT_FIELDS_AS_TEXT
    + """) AS shipments
"""
)


async def inputs_of_lots(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[list[Row]]:
    """For each lot, the inputs of the transformation that made it (lotId and lot None where hidden)."""
    rows = await graph.read(INPUTS_OF_LOTS, {"ids": list(ids), **viewer.params()})
    return keyed_lists(rows, ids, key="id", value="inputs")


async def outputs_of_lots(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[list[Row]]:
    """For each lot, the lots made from it (lotId None where hidden)."""
    rows = await graph.read(OUTPUTS_OF_LOTS, {"ids": list(ids), **viewer.params()})
    return keyed_lists(rows, ids, key="id", value="outputs")


async def shipments_of_lots(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[list[Row]]:
    """For each lot, the shipments that carried it and that the viewer may see."""
    rows = await graph.read(SHIPMENTS_OF_LOTS, {"ids": list(ids), **viewer.params()})
    return keyed_lists(rows, ids, key="id", value="shipments")


LOTS_OF_SHIPMENT: Final = "MATCH (:Shipment {id: $id})-[:CARRIES]->(l:Lot) RETURN l.id AS id ORDER BY id"


async def lots_of_shipment(graph: Graph, shipment_id: str) -> list[str]:
    """The ids of the lots a shipment carried (callers check the shipment's visibility first)."""
    return [row["id"] for row in await graph.read(LOTS_OF_SHIPMENT, {"id": shipment_id})]
