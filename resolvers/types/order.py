"""BulkOrder: a buyer's large order split across member plants, its shares, lots, and the plants' capacities."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from graph_schema.model import AllocationStatus, OrderStatus
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.product import Product, load_product
from resolvers.types.site import Site, load_site
from resolvers.types.values import CertificationKind, native_datetime

strawberry.enum(AllocationStatus)  # registered in place, as resolvers.types.values does for the other enums
strawberry.enum(OrderStatus)


@strawberry.type(description="Why a plant got its share: the figures the hub sized it from, and its certificate")
class AllocationReason:
    summary: str = strawberry.field(description="The share explained in one sentence")
    free_stock: float = strawberry.field(description="Stock of the product at the plant not yet promised")
    free_capacity: float = strawberry.field(description="What the plant can still make by the due date")
    capacity_per_day: float
    days: int = strawberry.field(description="Whole days from the proposal to the due date")
    certification_kind: CertificationKind
    certification_number: str
    certification_valid_until: datetime | None


@strawberry.type(description="One plant's share of a bulk order, proposed by the hub and answered by the member")
class Allocation:
    id: strawberry.ID
    status: AllocationStatus
    round: int = strawberry.field(description="1 for the first proposal; each decline proposes the rest again")
    quantity: float
    from_stock: float
    from_capacity: float
    reason: AllocationReason
    proposed_at: datetime | None
    responded_at: datetime | None
    decline_reason: str | None
    produced_quantity: float = strawberry.field(description="Quantity of the lots linked to this share")
    shipped_quantity: float = strawberry.field(description="Of those, what was shipped to the delivery site")
    _firm_id: strawberry.Private[str]
    _site_gln: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Allocation:
        return cls(
            id=strawberry.ID(row["id"]),
            status=AllocationStatus(row["status"]),
            round=int(row["round"]),
            quantity=float(row["quantity"]),
            from_stock=float(row["fromStock"]),
            from_capacity=float(row["fromCapacity"]),
            reason=AllocationReason(
                summary=row["reason"],
                free_stock=float(row["freeStock"]),
                free_capacity=float(row["freeCapacity"]),
                capacity_per_day=float(row["capacityPerDay"]),
                days=int(row["days"]),
                certification_kind=CertificationKind(row["certificationKind"]),
                certification_number=row["certificationNumber"],
                certification_valid_until=native_datetime(row.get("certificationValidUntil")),
            ),
            proposed_at=native_datetime(row.get("proposedAt")),
            responded_at=native_datetime(row.get("respondedAt")),
            decline_reason=row.get("declineReason"),
            produced_quantity=float(row["produced"]),
            shipped_quantity=float(row["shipped"]),
            _firm_id=row["firmId"],
            _site_gln=row["siteGln"],
        )

    @strawberry.field(description="The member firm the share was proposed to")
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)

    @strawberry.field(description="The plant whose capacity and stock the share was sized from")
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)


@strawberry.type(description="A lot a member made or took from stock for its share of an order")
class OrderLot:
    lot_id: strawberry.ID
    allocation_id: strawberry.ID
    quantity: float
    uom: str
    shipped_quantity: float = strawberry.field(description="What shipments of the lot delivered to the delivery site")
    _firm_id: strawberry.Private[str]

    @strawberry.field
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)

    @strawberry.field(description="The lot's record, when its traceability data is visible to you (TRACE rules)")
    async def lot(self, info: Info) -> Lot | None:
        row = await info.context.loaders.lot.load(str(self.lot_id))
        if row is None:
            return None
        info.context.note_access([row["ownerFirmId"]])
        return Lot.from_record(row)


@strawberry.type(
    description="A large order for one product, split across member plants; the buyer sees it whole, a member its "
    "own shares and lots"
)
class BulkOrder:
    id: strawberry.ID
    product_gtin: str
    quantity: float
    uom: str
    due_at: datetime | None
    smart_haccp_required: bool
    reference: str | None
    created_at: datetime | None
    status: OrderStatus = strawberry.field(description="FULFILLED once the whole quantity reached the delivery site")
    allocated_quantity: float = strawberry.field(description="Proposed and accepted shares")
    accepted_quantity: float
    unallocated_quantity: float = strawberry.field(description="What no capable plant could take on yet")
    produced_quantity: float = strawberry.field(description="Quantity of every lot linked to the order")
    shipped_quantity: float = strawberry.field(
        description="What shipments of those lots delivered to the delivery site"
    )
    allocations: list[Allocation] = strawberry.field(description="The shares you may see")
    lots: list[OrderLot] = strawberry.field(description="The order's lots you may see, as one set to trace")
    _buyer_firm_id: strawberry.Private[str]
    _delivery_gln: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> BulkOrder:
        quantity = float(row["quantity"])
        shipped = float(row["shipped"])
        return cls(
            id=strawberry.ID(row["id"]),
            product_gtin=row["productGtin"],
            quantity=quantity,
            uom=row["uom"],
            due_at=native_datetime(row.get("dueAt")),
            smart_haccp_required=bool(row["smartHaccpRequired"]),
            reference=row.get("reference"),
            created_at=native_datetime(row.get("createdAt")),
            status=OrderStatus.FULFILLED if shipped >= quantity else OrderStatus.OPEN,
            allocated_quantity=float(row["allocated"]),
            accepted_quantity=float(row["accepted"]),
            unallocated_quantity=max(0.0, quantity - float(row["allocated"])),
            produced_quantity=float(row["produced"]),
            shipped_quantity=shipped,
            allocations=[Allocation.from_record(a) for a in row["allocations"]],
            lots=[
                OrderLot(
                    lot_id=strawberry.ID(lot["lotId"]),
                    allocation_id=strawberry.ID(lot["allocationId"]),
                    quantity=float(lot["quantity"]),
                    uom=lot["uom"],
                    shipped_quantity=float(lot["shipped"]),
                    _firm_id=lot["firmId"],
                )
                for lot in row["lots"]
            ],
            _buyer_firm_id=row["buyerFirmId"],
            _delivery_gln=row["deliveryGln"],
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)

    @strawberry.field
    async def buyer(self, info: Info) -> Firm | None:
        return await load_firm(info, self._buyer_firm_id)

    @strawberry.field
    async def delivery_site(self, info: Info) -> Site | None:
        return await load_site(info, self._delivery_gln)


@strawberry.type(description="What one of your plants can make of a product category per day")
class ProductionCapacity:
    id: strawberry.ID
    category: str
    quantity_per_day: float
    uom: str
    declared_at: datetime | None
    _site_gln: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> ProductionCapacity:
        return cls(
            id=strawberry.ID(row["id"]),
            category=row["category"],
            quantity_per_day=float(row["quantityPerDay"]),
            uom=row["uom"],
            declared_at=native_datetime(row.get("declaredAt")),
            _site_gln=row["siteGln"],
        )

    @strawberry.field
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)


@strawberry.type(
    description="Demand for a product in a region, each figure added up only from what its owners share with you"
)
class DemandFigure:
    product_gtin: str
    region: str | None
    open_orders: int = strawberry.field(description="Bulk orders not yet delivered in full, by delivery region")
    open_quantity: float = strawberry.field(description="What those orders still wait for")
    allocated_quantity: float = strawberry.field(description="Proposed and accepted shares of those orders")
    accepted_quantity: float
    stock_quantity: float = strawberry.field(description="Stock of active lots held in the region")
    sold_quantity: float

    @classmethod
    def from_record(cls, row: Row) -> DemandFigure:
        return cls(
            product_gtin=row["productGtin"],
            region=row.get("region"),
            open_orders=int(row["openOrders"]),
            open_quantity=float(row["openQuantity"]),
            allocated_quantity=float(row["allocated"]),
            accepted_quantity=float(row["accepted"]),
            stock_quantity=float(row["stock"]),
            sold_quantity=float(row["sold"]),
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)
