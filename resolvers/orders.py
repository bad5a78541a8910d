"""Bulk order operations: declare capacity, place an order, answer a share, link lots; the demand view."""

from __future__ import annotations

from datetime import UTC, date, datetime

import strawberry

from auth.commerce import require_demand_reader
from auth.decisions import require_editor
from graph_schema import demand, orders
from graph_schema.errors import HubError, NotFound
from graph_schema.identifiers import normalize_gtin, parse_lgtin
from graph_schema.records import parse_record
from resolvers.context import Info
from resolvers.inventory import region_filter
from resolvers.permissions import AUTHENTICATED
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.order import BulkOrder, DemandFigure, ProductionCapacity

MAX_REASON = 2000
MAX_LOTS = 1000


@strawberry.input(description="What one of your plants can make of a product category per day (0 withdraws it)")
class CapacityInput:
    site_gln: str
    category: str = strawberry.field(description="A product category, as on the products (e.g. Tofu)")
    quantity_per_day: float
    uom: str


@strawberry.input(description="A large order for one product, delivered to one of your sites by a due time")
class BulkOrderInput:
    product_gtin: str
    quantity: float = strawberry.field(description="Whole units of the product's unit of measure")
    due_at: datetime
    delivery_gln: str
    smart_haccp_required: bool = strawberry.field(
        default=False, description="Only plants with a valid SMART_HACCP certificate may take a share"
    )
    reference: str | None = strawberry.field(default=None, description="Your purchase order number")


async def _order(info: Info, order_id: str) -> BulkOrder:
    _, viewer = info.context.require_principal()
    row = await orders.order_by_id(info.context.graph, viewer, order_id=order_id)
    if row is None:  # written a moment ago by this caller: only a concurrent change could cause this
        raise NotFound(f"bulk order {order_id!r} could not be read back; try the query again", field="id")
    return _noted(info, row)


def _noted(info: Info, row: dict[str, object]) -> BulkOrder:
    order = BulkOrder.from_record(row)
    info.context.note_access([str(row["buyerFirmId"])])
    info.context.note_access(a._firm_id for a in order.allocations)
    return order


@strawberry.type
class OrderQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="A bulk order your firm placed or has a share of, or whose buyer shares ORDERS with you at DETAIL",
    )
    async def bulk_order(self, info: Info, id: strawberry.ID) -> BulkOrder | None:
        _, viewer = info.context.require_principal()
        row = await orders.order_by_id(info.context.graph, viewer, order_id=str(id))
        return _noted(info, row) if row is not None else None

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Bulk orders your firm placed or has a share of, and those of buyers sharing ORDERS at DETAIL",
    )
    async def bulk_orders(
        self,
        info: Info,
        open_only: bool = False,
        product_gtin: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[BulkOrder]:
        check_page_size(first, info.context.max_page_size)
        _, viewer = info.context.require_principal()
        graph = info.context.graph
        gtin = normalize_gtin(product_gtin, field="productGtin") if product_gtin is not None else None
        rows = await orders.list_orders(
            graph, viewer, open_only=open_only, product_gtin=gtin, after=decode_cursor("order", after), limit=first + 1
        )
        return build_connection(
            [_noted(info, row) for row in rows[:first]] + [BulkOrder.from_record(row) for row in rows[first:]],
            kind="order",
            key=lambda order: str(order.id),
            first=first,
            after=after,
            count=lambda: orders.count_orders(graph, viewer, open_only=open_only, product_gtin=gtin),
        )

    @strawberry.field(permission_classes=AUTHENTICATED, description="Your firm's declared production capacities")
    async def production_capacities(self, info: Info) -> list[ProductionCapacity]:
        principal, _ = info.context.require_principal()
        rows = await orders.capacities_of_firm(info.context.graph, firm_id=principal.firm_id)
        return [ProductionCapacity.from_record(row) for row in rows]

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Open orders, allocations, stock and sales per product and region, each from what owners share "
        "with you (ANCHOR, RETAILER and MARKETER firms)",
    )
    async def demand(
        self,
        info: Info,
        product_gtin: str | None = None,
        region: str | None = None,
        sales_from: date | None = None,
    ) -> list[DemandFigure]:
        _, decision = info.context.require_decision()
        require_demand_reader(decision)
        gtin = normalize_gtin(product_gtin, field="productGtin") if product_gtin is not None else None
        rows = await demand.demand(
            info.context.graph, decision.viewer, product_gtin=gtin, region=region_filter(region), sales_from=sales_from
        )
        return [DemandFigure.from_record(row) for row in rows]


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Declare what one of your plants can make of a product category per day (admin or editor)",
    )
    async def declare_capacity(self, info: Info, input: CapacityInput) -> ProductionCapacity:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="declare capacity")
        record = parse_record(
            orders.CapacityRecord,
            {
                "firmId": principal.firm_id,
                "siteGln": input.site_gln,
                "category": input.category,
                "quantityPerDay": input.quantity_per_day,
                "uom": input.uom,
            },
            path="input",
        )
        row = await orders.declare_capacity(info.context.graph, record, now=datetime.now(UTC))
        return ProductionCapacity.from_record(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Place a bulk order; the hub proposes shares to capable member plants at once",
    )
    async def place_bulk_order(self, info: Info, input: BulkOrderInput) -> BulkOrder:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="place bulk orders")
        now = datetime.now(UTC)
        record = parse_record(
            orders.BulkOrderRecord,
            {
                "id": orders.new_id("order", now),
                "buyerFirmId": principal.firm_id,
                "productGtin": input.product_gtin,
                "quantity": input.quantity,
                "dueAt": input.due_at,
                "deliveryGln": input.delivery_gln,
                "smartHaccpRequired": input.smart_haccp_required,
                "reference": input.reference,
            },
            path="input",
        )
        order_id = await orders.place_order(info.context.graph, record, now=now)
        return await _order(info, order_id)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Propose again what of your order is still unallocated (after members added capacity or stock)",
    )
    async def propose_allocation(self, info: Info, order_id: strawberry.ID) -> BulkOrder:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="propose allocations")
        await orders.propose_again(
            info.context.graph, order_id=str(order_id), buyer_firm_id=principal.firm_id, now=datetime.now(UTC)
        )
        return await _order(info, str(order_id))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Accept or decline a share proposed to your firm; a decline proposes the rest to other plants",
    )
    async def answer_allocation(
        self, info: Info, id: strawberry.ID, accept: bool, reason: str | None = None
    ) -> BulkOrder:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="answer allocations")
        if reason is not None and len(reason) > MAX_REASON:
            raise HubError(f"reason must be at most {MAX_REASON} characters", field="reason")
        order_id = await orders.answer_allocation(
            info.context.graph,
            allocation_id=str(id),
            firm_id=principal.firm_id,
            accept=accept,
            reason=reason.strip() if reason else None,
            now=datetime.now(UTC),
        )
        return await _order(info, order_id)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Link lots your firm made or holds to its accepted share of an order (idempotent)",
    )
    async def record_order_lots(
        self, info: Info, allocation_id: strawberry.ID, lot_ids: list[strawberry.ID]
    ) -> BulkOrder:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="record lots for orders")
        if not lot_ids or len(lot_ids) > MAX_LOTS:
            raise HubError(f"name 1 to {MAX_LOTS} lots", field="lotIds")
        ids = [parse_lgtin(str(lot), field=f"lotIds[{i}]").uri for i, lot in enumerate(lot_ids)]
        if len(set(ids)) != len(ids):
            raise HubError("a lot appears more than once", field="lotIds")
        order_id = await orders.link_order_lots(
            info.context.graph,
            allocation_id=str(allocation_id),
            firm_id=principal.firm_id,
            lot_ids=ids,
            now=datetime.now(UTC),
        )
        return await _order(info, order_id)
