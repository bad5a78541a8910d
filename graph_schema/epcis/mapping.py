"""EPCIS events onto the value-chain graph: which lots, transformations, shipments, containers and documents
an event means, written through the same checked steps as the GraphQL mutations.

- ObjectEvent ADD with bizStep commissioning (or with ilmd): lots at the event's site (bizLocation, else readPoint).
- ObjectEvent shipping with a destination location: a shipment from the source location (else the event's site).
- ObjectEvent receiving at a site: the shipments carrying those lots to that site are marked received.
- Stock follows: commissioned and made lots arrive at their site, consumed inputs and shipped quantities leave
  it, received quantities arrive at the destination.
- TransformationEvent: output lots commissioned at the site, linked to the input lots with quantities.
- AggregationEvent: (:Container {parentID})-[:CONTAINS]->(:Lot); DELETE takes the lots out again.
- TransactionEvent: (:BusinessDocument)-[:REFERS_TO]->(:Lot) for each business transaction.
Only lot-level classes (LGTIN, or a Digital Link with a lot) with a quantity touch lots; instance-level EPCs
(SGTIN, SSCC) are kept in the event store and answered by queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, LiteralString

from graph_schema.db import CheckedStep
from graph_schema.epcis.model import ClassQuantity, EpcisEvent, EventType
from graph_schema.haccp.deviations import LINK_NEW_LOT
from graph_schema.inventory import StockMove
from graph_schema.lots import lots_step, shipments_step, transformations_step
from graph_schema.records import LotQuantity, LotRecord, ShipmentRecord, TransformationRecord

COMMISSION: Final = "commission"
TRANSFORM: Final = "transform"
SHIP: Final = "ship"
RECEIVE: Final = "receive"
AGGREGATE: Final = "aggregate"
TRANSACT: Final = "transact"
STORE_ONLY: Final = "store"

DEFAULT_UOM: Final = "EA"  # EPCIS: a quantity without uom counts items
EXPIRY_KEYS: Final = ("itemExpirationDate", "bestBeforeDate", "sellByDate", "useByDate")
DOCUMENT_PREFERENCE: Final = ("desadv", "bol", "inv", "po", "poc", "prodorder", "recadv", "rma")

# Field names of the checked steps' records, as the EPCIS event names them.
EPCIS_FIELDS: Final = {
    "siteGln": "bizLocation",
    "id": "quantityList",
    "items": "quantityList",
    "inputs": "inputQuantityList",
    "outputs": "outputQuantityList",
    "fromGln": "sourceList",
    "toGln": "destinationList",
}


def derived_id(event: EpcisEvent) -> str:
    """A graph id for what an event creates (shipment, transformation), stable across retries of the event."""
    return "epcis-" + hashlib.sha256(event.event_id.encode()).hexdigest()[:32]


@dataclass
class Planned:
    """One event's effect on the graph."""

    event: EpcisEvent
    kind: str
    lots: list[LotRecord] = field(default_factory=list)
    transformation: TransformationRecord | None = None
    shipment: ShipmentRecord | None = None
    lot_ids: list[str] = field(default_factory=list)  # lots received, contained or referred to

    @property
    def touched(self) -> set[str]:
        """Lots this event writes or depends on: a later event touching one of them waits for this one."""
        ids = {lot.id for lot in self.lots} | set(self.lot_ids)
        if self.transformation:
            ids |= {item.lot_id for item in [*self.transformation.inputs, *self.transformation.outputs]}
        if self.shipment:
            ids |= {item.lot_id for item in self.shipment.items}
        return ids


def _lot_classes(quantities: Sequence[ClassQuantity]) -> list[ClassQuantity]:
    return [q for q in quantities if q.gtin is not None and q.lot is not None and q.quantity]


def lot_key(q: ClassQuantity) -> tuple[str, str]:
    """(GTIN, lot number) of a lot-level class."""
    if q.gtin is None or q.lot is None:
        raise ValueError(f"{q.given} names no lot")
    return q.gtin, q.lot


def lot_id(q: ClassQuantity, known: dict[tuple[str, str], str]) -> str:
    """The graph id of a lot class: the recorded lot with that GTIN and lot number, else its LGTIN URI."""
    return known.get(lot_key(q), q.epc_class)


def _expiry(event: EpcisEvent) -> datetime | None:
    for key, value in (event.ilmd or {}).items():
        if key.rsplit(":", 1)[-1] in EXPIRY_KEYS and isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _document(event: EpcisEvent) -> tuple[str | None, str | None]:
    by_type = {bt.type: bt.id for bt in event.biz_transactions}
    for kind in DOCUMENT_PREFERENCE:
        if kind in by_type:
            return kind, by_type[kind][:200]
    if event.biz_transactions:
        first = event.biz_transactions[0]
        return first.type, first.id[:200]
    return None, None


def _commissioned(
    event: EpcisEvent, quantities: Sequence[ClassQuantity], *, site: str, owner: str, known: dict[tuple[str, str], str]
) -> list[LotRecord]:
    return [
        LotRecord.model_validate(
            {
                "id": lot_id(q, known),
                "ownerFirmId": owner,
                "siteGln": site,
                "quantity": q.quantity,
                "uom": q.uom or DEFAULT_UOM,
                "producedAt": event.event_time,
                "expiresAt": _expiry(event),
            }
        )
        for q in _lot_classes(quantities)
    ]


def _items(quantities: Sequence[ClassQuantity], known: dict[tuple[str, str], str]) -> list[LotQuantity]:
    return [
        LotQuantity.model_validate({"lotId": lot_id(q, known), "quantity": q.quantity, "uom": q.uom or DEFAULT_UOM})
        for q in _lot_classes(quantities)
    ]


def plan_event(event: EpcisEvent, *, firm_id: str, known: dict[tuple[str, str], str]) -> Planned:
    """What ``event`` writes on the graph for the capturing firm (pydantic checks raise ValidationError)."""
    site = event.biz_location_gln or event.read_point_gln
    owner = firm_id  # lots are commissioned in the capturer's name; the lots step checks the site is its own
    step = event.biz_step
    if event.type is EventType.OBJECT and site and _lot_classes(event.quantities):
        if event.action == "ADD" and (
            step == "commissioning" or (event.ilmd and step not in ("shipping", "receiving"))
        ):
            return Planned(
                event, COMMISSION, lots=_commissioned(event, event.quantities, site=site, owner=owner, known=known)
            )
        destination = next((d.gln for d in event.destinations if d.type == "location" and d.gln), None)
        origin = next((s.gln for s in event.sources if s.type == "location" and s.gln), None) or site
        if step == "shipping" and destination and destination != origin:
            document_type, document_number = _document(event)
            shipment = ShipmentRecord.model_validate(
                {
                    "id": derived_id(event),
                    "fromGln": origin,
                    "toGln": destination,
                    "shippedAt": event.event_time,
                    "docType": document_type,
                    "docNumber": document_number,
                    "items": _items(event.quantities, known),
                }
            )
            return Planned(event, SHIP, shipment=shipment)
        if step == "receiving" and event.biz_location_gln:
            return Planned(event, RECEIVE, lot_ids=[item.lot_id for item in _items(event.quantities, known)])
    if event.type is EventType.TRANSFORMATION and site:
        inputs = _items(event.input_quantities, known)
        outputs = _items(event.output_quantities, known)
        # a lot both consumed and produced (rework in place) has no transformation edge to add: stored only
        if inputs and outputs and not {i.lot_id for i in inputs} & {o.lot_id for o in outputs}:
            transformation = TransformationRecord.model_validate(
                {
                    "id": derived_id(event),
                    "firmId": firm_id,
                    "siteGln": site,
                    "occurredAt": event.event_time,
                    "inputs": inputs,
                    "outputs": outputs,
                }
            )
            made = _commissioned(event, event.output_quantities, site=site, owner=firm_id, known=known)
            return Planned(event, TRANSFORM, lots=made, transformation=transformation)
    lots = [item.lot_id for item in _items(event.quantities, known)]
    if event.type is EventType.AGGREGATION and event.parent_id and lots:
        return Planned(event, AGGREGATE, lot_ids=lots)
    if event.type is EventType.TRANSACTION and event.biz_transactions:
        return Planned(event, TRANSACT, lot_ids=lots)
    return Planned(event, STORE_ONLY)


# --- runs: consecutive events of one kind, written together ---------------------------------------------


@dataclass
class Run:
    """Consecutive planned events of one kind that no later one depends on: written with one set of steps."""

    kind: str
    planned: list[Planned] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


KIND_ORDER: Final = (COMMISSION, TRANSFORM, SHIP, RECEIVE, AGGREGATE, TRANSACT)


def runs_of(planned: Sequence[Planned]) -> list[Run]:
    """Group events into as few runs as their dependencies allow.

    An event's layer is one more than the layer of the latest earlier event touching one of its lots, so an
    event never runs before (or with) one it depends on; within a layer events share no lot, and the events of
    one kind become one run however the document interleaves them (commission, ship, commission, ship, ...).
    """
    layer_of_lot: dict[str, int] = {}
    layers: list[dict[str, list[Planned]]] = []
    for item in planned:
        if item.kind == STORE_ONLY:
            continue
        touched = item.touched
        layer = max((layer_of_lot[lot] for lot in touched if lot in layer_of_lot), default=-1) + 1
        for lot in touched:
            layer_of_lot[lot] = layer
        if layer == len(layers):
            layers.append({})
        layers[layer].setdefault(item.kind, []).append(item)
    runs: list[Run] = []
    for by_kind in layers:
        for kind in KIND_ORDER:
            if kind in by_kind:
                items = by_kind[kind]
                runs.append(Run(kind, items, set().union(*(item.touched for item in items))))
    return runs


# Only the destination firm receives; each received lot's quantity then arrives in its stock at the site.
RECEIVE_LOTS: Final = """
UNWIND $rows AS row
MATCH (l:Lot {id: row.lotId})<-[c:CARRIES]-(sh:Shipment {toGln: row.siteGln})
WHERE sh.toFirmId = $firmId AND sh.receivedAt IS NULL AND sh.shippedAt <= datetime(row.receivedAt)
SET sh.receivedAt = datetime(row.receivedAt)
RETURN row.event AS event, l.id AS lotId, c.quantity AS quantity, c.uom AS uom, row.siteGln AS siteGln,
       row.receivedAt AS at
"""

CONTAIN_LOTS: Final = """
UNWIND $rows AS row
MERGE (c:Container {id: row.parentId})
WITH c, row
UNWIND row.lotIds AS lotId
MATCH (l:Lot {id: lotId})
FOREACH (_ IN CASE WHEN row.action = 'DELETE' THEN [] ELSE [1] END |
  MERGE (c)-[k:CONTAINS]->(l) SET k.eventId = row.eventId)
WITH c, l, row
OPTIONAL MATCH (c)-[k:CONTAINS]->(l) WHERE row.action = 'DELETE'
DELETE k
RETURN count(*) AS linked
"""

REFER_TO_LOTS: Final = """
UNWIND $rows AS row
UNWIND row.documents AS document
MERGE (d:BusinessDocument {id: document.id})
ON CREATE SET d.type = document.type
WITH d, row
UNWIND row.lotIds AS lotId
MATCH (l:Lot {id: lotId})
MERGE (d)-[:REFERS_TO]->(l)
RETURN count(*) AS linked
"""


@dataclass(frozen=True)
class Write:
    """An unchecked write (its effects are bounded by the query's own conditions)."""

    query: LiteralString
    params: dict[str, Any]


def steps_of(run: Run, *, firm_id: str) -> list[tuple[CheckedStep | Write, list[int]]]:
    """The writes of a run, each with the event index of every row it sends (for error messages)."""
    steps: list[tuple[CheckedStep | Write, list[int]]] = []
    if run.kind in (COMMISSION, TRANSFORM):
        lots = [(item.event.index, lot) for item in run.planned for lot in item.lots]
        if lots:
            owners = [index for index, _ in lots]
            steps.append((lots_step([lot for _, lot in lots], where=_where(owners)), owners))
    if run.kind == TRANSFORM:
        made = [(item.event.index, item.transformation) for item in run.planned if item.transformation]
        owners = [index for index, _ in made]
        steps.append((transformations_step([t for _, t in made if t], where=_where(owners)), owners))
    if run.kind == SHIP:
        sent = [(item.event.index, item.shipment) for item in run.planned if item.shipment]
        owners = [index for index, _ in sent]
        shipments = [s for _, s in sent if s]
        steps.append((shipments_step(shipments, shipper_firm_id=firm_id, where=_where(owners)), owners))
    rows: list[dict[str, Any]]
    if run.kind == RECEIVE:
        rows = [
            {
                "event": item.event.index,
                "lotId": lot,
                "siteGln": item.event.biz_location_gln,
                "receivedAt": item.event.event_time.isoformat(),
            }
            for item in run.planned
            for lot in item.lot_ids
        ]
        steps.append((Write(RECEIVE_LOTS, {"rows": rows, "firmId": firm_id}), []))
    if run.kind == AGGREGATE:
        rows = [
            {
                "parentId": item.event.parent_id,
                "lotIds": item.lot_ids,
                "action": item.event.action,
                "eventId": item.event.event_id,
            }
            for item in run.planned
        ]
        steps.append((Write(CONTAIN_LOTS, {"rows": rows}), []))
    if run.kind == TRANSACT:
        rows = [
            {
                "documents": [{"id": bt.id, "type": bt.type} for bt in item.event.biz_transactions],
                "lotIds": item.lot_ids,
            }
            for item in run.planned
        ]
        steps.append((Write(REFER_TO_LOTS, {"rows": rows}), []))
    return steps


def stock_moves(run: Run) -> tuple[list[StockMove], list[int]]:
    """The stock a run moves, with each move's event index: lots made arrive at their site, inputs consumed
    leave it, shipments leave their origin (receipts are added from what was actually received)."""
    moves: list[StockMove] = []
    owners: list[int] = []

    def add(index: int, **move: Any) -> None:
        moves.append(StockMove.model_validate(move))
        owners.append(index)

    for item in run.planned:
        index = item.event.index
        for lot in item.lots:
            add(index, lotId=lot.id, quantity=lot.quantity, uom=lot.uom, toGln=lot.site_gln, at=lot.produced_at)
        if item.transformation is not None:
            t = item.transformation
            for line in t.inputs:
                add(
                    index, lotId=line.lot_id, quantity=line.quantity, uom=line.uom, fromGln=t.site_gln, at=t.occurred_at
                )
        if item.shipment is not None:
            sh = item.shipment
            for line in sh.items:
                add(
                    index,
                    lotId=line.lot_id,
                    quantity=line.quantity,
                    uom=line.uom,
                    fromGln=sh.from_gln,
                    at=sh.shipped_at,
                )
    return moves, owners


def received_stock(rows: Sequence[dict[str, Any]]) -> tuple[list[StockMove], list[int]]:
    """The stock received shipments bring to their destination sites (rows of RECEIVE_LOTS)."""
    moves = [
        StockMove.model_validate(
            {
                "lotId": row["lotId"],
                "quantity": row["quantity"],
                "uom": row["uom"],
                "toGln": row["siteGln"],
                "at": row["at"],
            }
        )
        for row in rows
    ]
    return moves, [int(row["event"]) for row in rows]


def _where(owners: list[int]) -> Any:
    return lambda i: f"eventList[{owners[i]}]"


# --- placeholders for identifiers the hub has never seen (off by default) --------------------------------

PLACEHOLDERS: Final = (
    """
FOREACH (gln IN $siteGlns |
  MERGE (s:Site {gln: gln})
  ON CREATE SET s.firmId = $firmId, s.name = 'Unverified site ' + gln, s.kind = 'OTHER', s.unverified = true)
WITH 1 AS _
CALL () {
  UNWIND $siteGlns AS gln
  MATCH (f:Firm {id: $firmId}), (s:Site {gln: gln})
  WHERE s.unverified AND s.firmId = $firmId
  MERGE (f)-[:OPERATES]->(s)
}
FOREACH (gtin IN $gtins |
  MERGE (p:Product {gtin: gtin})
  ON CREATE SET p.ownerFirmId = $firmId, p.name = 'Unverified product ' + gtin, p.category = 'unverified',
                p.uom = 'EA', p.unverified = true)
WITH 1 AS _
UNWIND $lots AS row
MATCH (p:Product {gtin: row.productGtin}), (s:Site {gln: row.siteGln})
MERGE (l:Lot {id: row.id})
ON CREATE SET l.lotNumber = row.lotNumber, l.productGtin = row.productGtin, l.ownerFirmId = $firmId,
              l.siteGln = row.siteGln, l.quantity = row.quantity, l.uom = row.uom,
              l.producedAt = datetime(row.producedAt), l.status = 'ACTIVE', l.unverified = true, l.created = true
WITH l, p, s, coalesce(l.created, false) AS created
REMOVE l.created
FOREACH (_ IN CASE WHEN created THEN [1] ELSE [] END | CREATE (l)-[:OF_PRODUCT]->(p) CREATE (l)-[:MADE_AT]->(s))
WITH l, created"""
    + LINK_NEW_LOT
    + """RETURN count(*) AS lots
"""
)


def placeholder_params(
    planned: Sequence[Planned], *, firm_id: str, known: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """Unverified sites, products and lots for every identifier a batch names (MERGE: known ones stay as they are).

    Lots that the batch itself commissions or makes are left to those events.
    """
    made = {lot.id for item in planned for lot in item.lots}
    glns: set[str] = set()
    gtins: set[str] = set()
    lots: dict[str, dict[str, Any]] = {}
    for item in planned:
        event = item.event
        site = event.biz_location_gln or event.read_point_gln
        glns |= {g for g in (event.biz_location_gln, event.read_point_gln) if g}
        glns |= {p.gln for p in [*event.sources, *event.destinations] if p.gln and p.type == "location"}
        for q in _lot_classes(event.classes):
            gtin, number = lot_key(q)
            gtins.add(gtin)
            lot = lot_id(q, known)
            if lot not in made and site and (gtin, number) not in known:
                lots.setdefault(
                    lot,
                    {
                        "id": lot,
                        "lotNumber": number,
                        "productGtin": gtin,
                        "siteGln": site,
                        "quantity": q.quantity,
                        "uom": q.uom or DEFAULT_UOM,
                        "producedAt": event.event_time.isoformat(),
                    },
                )
    return {"siteGlns": sorted(glns), "gtins": sorted(gtins), "lots": list(lots.values()), "firmId": firm_id}
