"""Bulk orders split across members: declared capacity, proposals, answers, and the lots made for an order.

A buyer places a large order for one product; the hub proposes shares to the plants able to make it (a
declared capacity for the product's category and a HACCP, or Smart HACCP when the order demands it,
certificate valid from now to the due date), by the rule in ``graph_schema.allocation``. Each member accepts
or declines its share; a decline excludes that firm from the order and proposes the remainder again. Members
link the lots they made or took from stock to their share; the order counts them as produced and counts as
shipped what shipments of those lots delivered to the order's delivery site.

An order is its buyer's record (ORDERS scope): the buyer and the owners' ORDERS DETAIL grantees see it whole,
a member sees the order and its own shares and lots, ORDERS SUMMARY grantees see it only in the demand view.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, LiteralString, NoReturn

from neo4j import AsyncManagedTransaction
from pydantic import Field, field_validator

from graph_schema.access import Viewer, held_by
from graph_schema.allocation import Candidate, Certificate, allocate
from graph_schema.db import Graph, Row, checked_write, run
from graph_schema.errors import Conflict, Forbidden, HubError, NotFound
from graph_schema.records import AwareDatetime, Code, Gln, Gtin, Name, Record, Uom

OPEN_STATUSES: Final = ("PROPOSED", "ACCEPTED")


def new_id(kind: str, now: datetime) -> str:
    """A unique id that sorts by creation time, so pages of orders come oldest first."""
    return f"{kind}-{now.astimezone(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


def total(match: LiteralString, value: LiteralString) -> LiteralString:
    """Cypher: the sum of ``value`` over the rows of ``match`` (0.0 when there are none), as an expression.

    A COLLECT subquery ending in ``RETURN sum(...)`` makes Neo4j treat the enclosing projection as an
    aggregation, so the sum is taken over the collected list instead.
    """
    return f"reduce(s_ = 0.0, q_ IN COLLECT {{ {match} RETURN {value} }} | s_ + q_)"


# Of an order ``o``: what its open shares place, what its members accepted, what its lots hold and deliver.
PLACED: Final = total(
    "MATCH (o)-[:HAS_ALLOCATION]->(a:Allocation) WHERE a.status IN ['PROPOSED', 'ACCEPTED']", "a.quantity"
)
ACCEPTED: Final = total("MATCH (o)-[:HAS_ALLOCATION]->(a:Allocation {status: 'ACCEPTED'})", "a.quantity")
PRODUCED: Final = total("MATCH (o)-[:HAS_ALLOCATION]->(:Allocation)<-[:FULFILS]-(l:Lot)", "l.quantity")
DELIVERED: Final = total(
    "MATCH (o)-[:HAS_ALLOCATION]->(:Allocation)<-[:FULFILS]-(:Lot)<-[c:CARRIES]-(sh:Shipment)"
    " WHERE sh.toGln = o.deliveryGln",
    "c.quantity",
)


# --- capacity ------------------------------------------------------------------------------------------------


class CapacityRecord(Record):
    """What one plant can make of one product category per day."""

    firm_id: Code = Field(alias="firmId")
    site_gln: Gln = Field(alias="siteGln")
    category: Name
    quantity_per_day: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(alias="quantityPerDay")
    uom: Uom

    @property
    def id(self) -> str:
        """One declaration per plant and category: declaring again replaces it."""
        return f"{self.site_gln}|{self.category}"

    def row(self) -> dict[str, Any]:
        return {**super().row(), "id": self.id}


CHECK_CAPACITY: Final = """
WITH $row AS row
OPTIONAL MATCH (s:Site {gln: row.siteGln})
WITH row, s,
     COLLECT { MATCH (p:Product {category: row.category}) RETURN DISTINCT p.uom ORDER BY p.uom } AS uoms
WHERE s IS NULL OR s.firmId <> row.firmId OR size(uoms) = 0 OR NOT row.uom IN uoms
RETURN s IS NULL AS missingSite, s IS NOT NULL AND s.firmId <> row.firmId AS foreignSite, uoms
"""

WRITE_CAPACITY: Final = """
WITH $row AS row
MATCH (s:Site {gln: row.siteGln})
MERGE (c:Capacity {id: row.id})
SET c.firmId = row.firmId, c.siteGln = row.siteGln, c.category = row.category,
    c.quantityPerDay = row.quantityPerDay, c.uom = row.uom, c.declaredAt = $now
MERGE (s)-[:HAS_CAPACITY]->(c)
RETURN c {.id, .firmId, .siteGln, .category, .quantityPerDay, .uom, .declaredAt} AS capacity
"""

CAPACITIES_OF_FIRM: Final = """
MATCH (c:Capacity) WHERE c.firmId = $firmId
RETURN c {.id, .firmId, .siteGln, .category, .quantityPerDay, .uom, .declaredAt} AS capacity
ORDER BY c.id
"""


async def declare_capacity(graph: Graph, record: CapacityRecord, *, now: datetime) -> Row:
    """Declare (or change) a plant's daily capacity for a product category; 0 withdraws it from proposals."""

    def reject(bad: Row) -> NoReturn:
        if bad["missingSite"]:
            raise NotFound("site is not registered", field="input.siteGln")
        if bad["foreignSite"]:
            raise Forbidden("the site belongs to another firm", field="input.siteGln")
        if not bad["uoms"]:
            raise NotFound(f"no product of category {record.category!r} is registered", field="input.category")
        units = ", ".join(bad["uoms"])
        raise HubError(f"products of category {record.category!r} are counted in {units}", field="input.uom")

    rows = await checked_write(
        graph, check=CHECK_CAPACITY, write=WRITE_CAPACITY, params={"row": record.row(), "now": now}, reject=reject
    )
    capacity: Row = rows[0]["capacity"]
    return capacity


async def capacities_of_firm(graph: Graph, *, firm_id: str) -> list[Row]:
    """A firm's own capacity declarations."""
    return [row["capacity"] for row in await graph.read(CAPACITIES_OF_FIRM, {"firmId": firm_id})]


# --- placing an order ----------------------------------------------------------------------------------------


class BulkOrderRecord(Record):
    """A buyer's large order for one product, to be delivered to one of its sites by a due time."""

    id: Code
    buyer_firm_id: Code = Field(alias="buyerFirmId")
    product_gtin: Gtin = Field(alias="productGtin")
    quantity: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    due_at: AwareDatetime = Field(alias="dueAt")
    delivery_gln: Gln = Field(alias="deliveryGln")
    smart_haccp_required: bool = Field(default=False, alias="smartHaccpRequired")
    reference: Name | None = None

    @field_validator("quantity")
    @classmethod
    def _whole(cls, value: float) -> float:
        if not value.is_integer():
            raise ValueError("an order is split in whole units: give a whole number")
        return value


CHECK_ORDER: Final = """
WITH $row AS row
OPTIONAL MATCH (p:Product {gtin: row.productGtin})
OPTIONAL MATCH (s:Site {gln: row.deliveryGln})
WITH row, p, s WHERE p IS NULL OR s IS NULL OR s.firmId <> row.buyerFirmId
RETURN p IS NULL AS missingProduct, s IS NULL AS missingSite
"""

CREATE_ORDER: Final = """
WITH $row AS row
MATCH (p:Product {gtin: row.productGtin})
MATCH (buyer:Firm {id: row.buyerFirmId})
MATCH (s:Site {gln: row.deliveryGln})
CREATE (o:BulkOrder {id: row.id, buyerFirmId: row.buyerFirmId, productGtin: p.gtin, category: p.category,
                     quantity: row.quantity, uom: p.uom, dueAt: datetime(row.dueAt), deliveryGln: s.gln,
                     smartHaccpRequired: row.smartHaccpRequired, reference: row.reference, createdAt: $now,
                     declinedBy: []})
CREATE (buyer)-[:PLACED]->(o)
CREATE (o)-[:DELIVER_TO]->(s)
CREATE (o)-[:OF_PRODUCT]->(p)
RETURN o.id AS id
"""


async def place_order(graph: Graph, record: BulkOrderRecord, *, now: datetime) -> str:
    """Record the order and the hub's first proposal in one transaction; returns the order id."""
    if record.due_at <= now:
        raise HubError("dueAt must lie in the future", field="input.dueAt")
    params = {"row": record.row(), "now": now}

    async def work(tx: AsyncManagedTransaction) -> str:
        for bad in await run(tx, CHECK_ORDER, params):
            if bad["missingProduct"]:
                raise NotFound(f"product {record.product_gtin} is not registered", field="input.productGtin")
            if bad["missingSite"]:
                raise NotFound("delivery site is not registered", field="input.deliveryGln")
            raise Forbidden("deliver to one of your own sites", field="input.deliveryGln")
        await run(tx, CREATE_ORDER, params)
        await _propose(tx, record.id, now=now)
        return record.id

    return await graph.transaction(work)


# --- proposing shares ----------------------------------------------------------------------------------------

# Writing the category's capacity nodes first locks them, so two proposals for one category are made one
# after the other and never promise the same free capacity or stock twice.
LOCK_AND_REMAINDER: Final = (
    """
MATCH (o:BulkOrder {id: $orderId})
CALL (o) {
  MATCH (c:Capacity {category: o.category})
  SET c.lastProposalAt = $now
  RETURN count(c) AS locked
}
RETURN o.quantity - """
    + PLACED
    + """ AS remainder, o.dueAt AS dueAt,
       reduce(m_ = 0, r_ IN COLLECT { MATCH (o)-[:HAS_ALLOCATION]->(a:Allocation) RETURN a.round } |
              CASE WHEN r_ > m_ THEN r_ ELSE m_ END) AS lastRound
"""
)

# Capacity and stock count as promised while a share holds them: open shares of this order, and of other
# orders not yet due.
CANDIDATES: Final = (
    """
MATCH (o:BulkOrder {id: $orderId})
MATCH (cap:Capacity {category: o.category})
WHERE cap.uom = o.uom AND cap.quantityPerDay > 0 AND NOT cap.firmId IN o.declinedBy
CALL (cap, o) {
  OPTIONAL MATCH (c:Certification {firmId: cap.firmId})
  WHERE c.kind IN CASE WHEN o.smartHaccpRequired THEN ['SMART_HACCP'] ELSE ['HACCP', 'SMART_HACCP'] END
    AND (c.siteGln IS NULL OR c.siteGln = cap.siteGln) AND c.validFrom <= $now AND c.validUntil >= o.dueAt
  WITH c ORDER BY CASE c.kind WHEN 'SMART_HACCP' THEN 0 ELSE 1 END, c.validUntil DESC, c.id
  RETURN head(collect(c {.id, .kind, .number, .validUntil})) AS certificate
}
WITH o, cap, certificate WHERE certificate IS NOT NULL
RETURN cap.id AS capacityId, cap.firmId AS firmId, cap.siteGln AS siteGln, cap.uom AS uom,
       cap.quantityPerDay AS perDay, certificate,
       """
    + total(
        "MATCH (a:Allocation {capacityId: cap.id}) WHERE a.status IN $open AND (a.orderId = o.id OR a.dueAt >= $now)",
        "a.fromCapacity",
    )
    + """ AS promisedCapacity,
       """
    + total(
        # from the plant's stock, not every lot of the product in the cluster: no label on l (only lots are
        # HELD_AT) keeps the planner from starting at the product's lots, which it picks on a small store
        "MATCH (:Site {gln: cap.siteGln})<-[h:HELD_AT]-(l)"
        " WHERE l.productGtin = o.productGtin AND h.quantity > 0 AND l.status = 'ACTIVE'"
        " AND (l.expiresAt IS NULL OR l.expiresAt > o.dueAt)",
        "h.quantity",
    )
    + """ AS stock,
       """
    + total(
        "MATCH (a:Allocation {capacityId: cap.id}) WHERE a.productGtin = o.productGtin AND a.status IN $open"
        " AND (a.orderId = o.id OR a.dueAt >= $now)",
        "a.fromStock",
    )
    + """ AS promisedStock
ORDER BY capacityId
"""
)

WRITE_SHARES: Final = """
MATCH (o:BulkOrder {id: $orderId})
UNWIND $shares AS share
CREATE (a:Allocation)
SET a = share, a.orderId = o.id, a.productGtin = o.productGtin, a.dueAt = o.dueAt, a.uom = o.uom,
    a.status = 'PROPOSED', a.proposedAt = $now
CREATE (o)-[:HAS_ALLOCATION]->(a)
RETURN count(a) AS proposed
"""


async def _propose(tx: AsyncManagedTransaction, order_id: str, *, now: datetime) -> int:
    """Propose shares for what of the order is not yet placed; returns how many units stay unallocated."""
    params = {"orderId": order_id, "now": now, "open": list(OPEN_STATUSES)}
    [facts] = await run(tx, LOCK_AND_REMAINDER, params)
    remainder = int(facts["remainder"])
    if remainder <= 0:
        return 0
    due: datetime = facts["dueAt"].to_native()
    days = max(0, int((due - now).total_seconds() // 86_400))
    candidates = [
        Candidate(
            capacity_id=row["capacityId"],
            firm_id=row["firmId"],
            site_gln=row["siteGln"],
            uom=row["uom"],
            per_day=float(row["perDay"]),
            days=days,
            promised_capacity=float(row["promisedCapacity"]),
            stock=float(row["stock"]),
            promised_stock=float(row["promisedStock"]),
            certificate=Certificate(
                id=row["certificate"]["id"],
                kind=row["certificate"]["kind"],
                number=row["certificate"]["number"],
                valid_until=row["certificate"]["validUntil"].to_native(),
            ),
        )
        for row in await run(tx, CANDIDATES, params)
    ]
    proposal = allocate(remainder, candidates)
    round_number = int(facts["lastRound"] or 0) + 1
    shares = [
        {
            "id": new_id("alloc", now),
            "firmId": share.candidate.firm_id,
            "siteGln": share.candidate.site_gln,
            "capacityId": share.candidate.capacity_id,
            "quantity": float(share.quantity),
            "fromStock": float(share.from_stock),
            "fromCapacity": float(share.from_capacity),
            "round": round_number,
            "reason": share.reason(),
            "freeStock": float(share.candidate.free_stock),
            "freeCapacity": float(share.candidate.free_capacity),
            "capacityPerDay": share.candidate.per_day,
            "days": days,
            "certificationId": share.candidate.certificate.id,
            "certificationKind": share.candidate.certificate.kind,
            "certificationNumber": share.candidate.certificate.number,
            "certificationValidUntil": share.candidate.certificate.valid_until,
        }
        for share in proposal.shares
    ]
    if shares:
        await run(tx, WRITE_SHARES, {**params, "shares": shares})
    return proposal.unallocated


async def propose_again(graph: Graph, *, order_id: str, buyer_firm_id: str, now: datetime) -> None:
    """Propose what of the buyer's order is still unallocated (after members declared more capacity or stock)."""

    async def work(tx: AsyncManagedTransaction) -> None:
        if not await run(tx, ORDER_OF_BUYER, {"orderId": order_id, "firmId": buyer_firm_id}):
            raise NotFound(f"no bulk order {order_id!r} placed by your firm", field="orderId")
        await _propose(tx, order_id, now=now)

    await graph.transaction(work)


ORDER_OF_BUYER: Final = "MATCH (o:BulkOrder {id: $orderId, buyerFirmId: $firmId}) RETURN o.id AS id"

# --- answering a proposal ------------------------------------------------------------------------------------

ALLOCATION_FOR_ANSWER: Final = """
MATCH (o:BulkOrder)-[:HAS_ALLOCATION]->(a:Allocation {id: $id})
RETURN a.firmId = $firmId AS mine, a.status AS status, o.id AS orderId
"""

ACCEPT: Final = """
MATCH (a:Allocation {id: $id})
SET a.status = 'ACCEPTED', a.respondedAt = $now
"""

DECLINE: Final = """
MATCH (o:BulkOrder)-[:HAS_ALLOCATION]->(a:Allocation {id: $id})
SET a.status = 'DECLINED', a.respondedAt = $now, a.declineReason = $reason,
    o.declinedBy = CASE WHEN a.firmId IN o.declinedBy THEN o.declinedBy ELSE o.declinedBy + a.firmId END
"""


async def answer_allocation(
    graph: Graph, *, allocation_id: str, firm_id: str, accept: bool, reason: str | None, now: datetime
) -> str:
    """The member accepts or declines its proposed share; a decline proposes the rest again. Returns the order id."""

    async def work(tx: AsyncManagedTransaction) -> str:
        rows = await run(tx, ALLOCATION_FOR_ANSWER, {"id": allocation_id, "firmId": firm_id})
        if not rows or not rows[0]["mine"]:
            # Same answer as an unknown id: other members' shares are not disclosed.
            raise NotFound(f"no allocation {allocation_id!r} proposed to your firm", field="id")
        if rows[0]["status"] != "PROPOSED":
            raise Conflict(f"allocation {allocation_id!r} was already answered ({rows[0]['status']})", field="id")
        if accept:
            await run(tx, ACCEPT, {"id": allocation_id, "now": now})
        else:
            await run(tx, DECLINE, {"id": allocation_id, "now": now, "reason": reason})
            await _propose(tx, rows[0]["orderId"], now=now)
        return str(rows[0]["orderId"])

    return await graph.transaction(work)


# --- lots made for an order ----------------------------------------------------------------------------------

CHECK_ORDER_LOTS: Final = (
    """
OPTIONAL MATCH (o:BulkOrder)-[:HAS_ALLOCATION]->(a:Allocation {id: $allocationId})
WITH o, a, a IS NOT NULL AND a.firmId = $firmId AS mine
CALL (o) {
  UNWIND range(0, size($lotIds) - 1) AS i
  OPTIONAL MATCH (l:Lot {id: $lotIds[i]})
  WITH i, l, COLLECT { MATCH (l)-[:FULFILS]->(other:Allocation) WHERE other.id <> $allocationId
                       RETURN other.id }[0] AS elsewhere
  WITH i, l, elsewhere, l IS NOT NULL AND l.productGtin = o.productGtin AND """
    + held_by("$firmId")
    + """ AS fits
  WHERE NOT fits OR elsewhere IS NOT NULL
  RETURN collect({i: i, missing: l IS NULL, fits: fits, elsewhere: elsewhere}) AS badLots
}
WITH mine, a, badLots WHERE NOT mine OR a.status <> 'ACCEPTED' OR size(badLots) > 0
RETURN mine, a.status AS status, badLots
"""
)

LINK_ORDER_LOTS: Final = """
MATCH (a:Allocation {id: $allocationId})
UNWIND $lotIds AS lotId
MATCH (l:Lot {id: lotId})
MERGE (l)-[f:FULFILS]->(a)
ON CREATE SET f.linkedAt = $now
RETURN a.orderId AS orderId, count(*) AS linked
"""


async def link_order_lots(
    graph: Graph, *, allocation_id: str, firm_id: str, lot_ids: Sequence[str], now: datetime
) -> str:
    """Link lots the member made (or holds) for its accepted share to the order; returns the order id."""
    params = {"allocationId": allocation_id, "firmId": firm_id, "lotIds": list(lot_ids), "now": now}

    def reject(bad: Row) -> NoReturn:
        if not bad["mine"]:
            raise NotFound(f"no allocation {allocation_id!r} proposed to your firm", field="allocationId")
        if bad["status"] != "ACCEPTED":
            raise Conflict(
                f"allocation {allocation_id!r} is {bad['status']}: accept it before linking lots", field="allocationId"
            )
        first = bad["badLots"][0]
        at = f"lotIds[{first['i']}]"
        lot = lot_ids[first["i"]]
        if first["missing"]:
            raise NotFound(f"{at}: lot {lot} is not recorded", field=at)
        if not first["fits"]:
            raise Forbidden(f"{at}: lot {lot} is not of the order's product or not held by your firm", field=at)
        raise Conflict(f"{at}: lot {lot} is already linked to another share", field=at)

    rows = await checked_write(graph, check=CHECK_ORDER_LOTS, write=LINK_ORDER_LOTS, params=params, reject=reject)
    return str(rows[0]["orderId"])


# --- reads ---------------------------------------------------------------------------------------------------

ORDER_IN_DETAIL: Final = (
    "(o.buyerFirmId IN $ordersDetail OR EXISTS { MATCH (o)-[:HAS_ALLOCATION]->(:Allocation {firmId: $viewerFirm}) })"
)
# A share, and the lots linked to it, are seen by the order's buyer (and its ORDERS DETAIL grantees) and by
# the member it was proposed to.
ALLOCATION_IN_DETAIL: Final = "(o.buyerFirmId IN $ordersDetail OR a.firmId = $viewerFirm)"

ORDER_FIELDS: Final = (
    """o {.id, .buyerFirmId, .productGtin, .quantity, .uom, .dueAt, .deliveryGln, .smartHaccpRequired,
     .reference, .createdAt,
     allocated: """
    + PLACED
    + """,
     accepted: """
    + ACCEPTED
    + """,
     produced: """
    + PRODUCED
    + """,
     shipped: """
    + DELIVERED
    + """,
     allocations: COLLECT {
       MATCH (o)-[:HAS_ALLOCATION]->(a:Allocation) WHERE """
    + ALLOCATION_IN_DETAIL
    + """
       RETURN a {.id, .firmId, .siteGln, .quantity, .fromStock, .fromCapacity, .status, .round, .reason,
                 .freeStock, .freeCapacity, .capacityPerDay, .days, .certificationKind, .certificationNumber,
                 .certificationValidUntil, .proposedAt, .respondedAt, .declineReason,
                 produced: """
    + total("MATCH (a)<-[:FULFILS]-(l:Lot)", "l.quantity")
    + """,
                 shipped: """
    + total("MATCH (a)<-[:FULFILS]-(:Lot)<-[c:CARRIES]-(sh:Shipment) WHERE sh.toGln = o.deliveryGln", "c.quantity")
    + """}
       ORDER BY a.round, a.capacityId },
     lots: COLLECT {
       MATCH (o)-[:HAS_ALLOCATION]->(a:Allocation)<-[:FULFILS]-(l:Lot) WHERE """
    + ALLOCATION_IN_DETAIL
    + """
       RETURN {lotId: l.id, allocationId: a.id, firmId: a.firmId, quantity: l.quantity, uom: l.uom,
               shipped: """
    + total("MATCH (l)<-[c:CARRIES]-(sh:Shipment) WHERE sh.toGln = o.deliveryGln", "c.quantity")
    + """}
       ORDER BY l.id }}"""
)

ORDER_BY_ID: Final = (
    """
MATCH (o:BulkOrder {id: $id})
WHERE """
    + ORDER_IN_DETAIL
    + """
RETURN """
    + ORDER_FIELDS
    + " AS bulkOrder"
)

VISIBLE_ORDERS: Final = (
    """
CALL () {
  MATCH (o:BulkOrder) WHERE o.buyerFirmId IN $ordersDetail RETURN o
  UNION
  MATCH (:Allocation {firmId: $viewerFirm})<-[:HAS_ALLOCATION]-(o:BulkOrder) RETURN o
}
WITH o, """
    + DELIVERED
    + """ AS shippedSoFar
WHERE (NOT $openOnly OR shippedSoFar < o.quantity) AND ($productGtin IS NULL OR o.productGtin = $productGtin)
"""
)

LIST_ORDERS: Final = (
    VISIBLE_ORDERS
    + """AND ($after IS NULL OR o.id > $after)
WITH o ORDER BY o.id LIMIT $limit
RETURN """
    + ORDER_FIELDS
    + " AS bulkOrder"
)
COUNT_ORDERS: Final = VISIBLE_ORDERS + "RETURN count(o) AS total"


async def order_by_id(graph: Graph, viewer: Viewer, *, order_id: str) -> Row | None:
    """One order with the shares and lots the viewer may see (None when unknown or not visible)."""
    params = {"id": order_id, "open": list(OPEN_STATUSES), **viewer.shared_params()}
    rows = await graph.read(ORDER_BY_ID, params)
    return rows[0]["bulkOrder"] if rows else None


async def list_orders(
    graph: Graph, viewer: Viewer, *, open_only: bool, product_gtin: str | None, after: str | None, limit: int
) -> list[Row]:
    """A page of the orders the viewer sees in detail (its own, its grantors', those it has a share of), by id."""
    params = {
        "openOnly": open_only,
        "productGtin": product_gtin,
        "after": after,
        "limit": limit,
        "open": list(OPEN_STATUSES),
        **viewer.shared_params(),
    }
    return [row["bulkOrder"] for row in await graph.read(LIST_ORDERS, params)]


async def count_orders(graph: Graph, viewer: Viewer, *, open_only: bool, product_gtin: str | None) -> int:
    """How many orders ``list_orders`` has in all."""
    params = {"openOnly": open_only, "productGtin": product_gtin, **viewer.shared_params()}
    return int((await graph.read(COUNT_ORDERS, params))[0]["total"])
