"""Inventory operations: count stock at your sites, read stock per INVENTORY grants, available to promise."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from auth.decisions import require_editor
from graph_schema import inventory
from graph_schema.errors import HubError
from graph_schema.identifiers import gtin_of_lot, normalize_gtin
from graph_schema.records import InventoryRecord, parse_records
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.inventory import AvailableToPromise, InventoryPosition
from resolvers.types.values import SharingLevel

MAX_REGION = 200


@strawberry.input(description="A count of one lot held at one of your sites, as of a time")
class InventoryInput:
    lot_id: strawberry.ID
    site_gln: str
    quantity: float = strawberry.field(description="0 when the lot is no longer held there")
    uom: str = strawberry.field(description="The lot's unit of measure")
    as_of: datetime


def region_filter(region: str | None) -> str | None:
    """A region argument, trimmed; BAD_USER_INPUT when empty or too long."""
    if region is None:
        return None
    region = region.strip()
    if not region or len(region) > MAX_REGION:
        raise HubError(f"region must be 1 to {MAX_REGION} characters", field="region")
    return region


@strawberry.type
class InventoryQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Stock by product and region: your own and that of holders sharing INVENTORY at DETAIL lot by "
        "lot and site by site; that of holders sharing it at SUMMARY as totals per product and region only",
    )
    async def inventory(
        self,
        info: Info,
        product_gtin: str | None = None,
        region: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[InventoryPosition]:
        check_page_size(first, info.context.max_page_size)
        _, viewer = info.context.require_principal()
        graph = info.context.graph
        gtin = normalize_gtin(product_gtin, field="productGtin") if product_gtin is not None else None
        where = region_filter(region)
        rows = await inventory.list_stock(
            graph, viewer, product_gtin=gtin, region=where, after=decode_cursor("inventory", after), limit=first + 1
        )
        info.context.note_access(row["firmId"] for row in rows[:first] if row["level"] == SharingLevel.DETAIL)
        return build_connection(
            [InventoryPosition.from_record(row) for row in rows],
            kind="inventory",
            key=lambda position: position._key,
            first=first,
            after=after,
            count=lambda: inventory.count_stock(graph, viewer, product_gtin=gtin, region=where),
        )

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="What of a product can still be promised across the holders whose stock you see; one entry per "
        "unit of measure (normally one)",
    )
    async def available_to_promise(self, info: Info, product_gtin: str) -> list[AvailableToPromise]:
        _, viewer = info.context.require_principal()
        gtin = normalize_gtin(product_gtin, field="productGtin")
        rows = await inventory.available_to_promise(
            info.context.graph, viewer, product_gtin=gtin, now=datetime.now(UTC)
        )
        info.context.note_access(holder["firmId"] for row in rows for holder in row["firms"])
        return [AvailableToPromise.from_record(gtin, row) for row in rows]


@strawberry.type
class InventoryMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Record stock counts at your own sites, of lots your firm holds (all or none are written; a "
        "count older than the one recorded is refused)",
    )
    async def record_inventory(self, info: Info, input: list[InventoryInput]) -> list[InventoryPosition]:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="record inventory")
        records = parse_records(
            InventoryRecord,
            [
                {
                    "lotId": str(item.lot_id),
                    "siteGln": item.site_gln,
                    "quantity": item.quantity,
                    "uom": item.uom,
                    "asOf": item.as_of,
                }
                for item in input
            ],
            path="input",
        )
        await inventory.record_stock(info.context.graph, records, firm_id=principal.firm_id, path="input")
        sites = await info.context.loaders.site.load_many([r.site_gln for r in records])
        return [
            InventoryPosition.from_record(
                {
                    "level": SharingLevel.DETAIL,
                    "productGtin": gtin_of_lot(r.lot_id),
                    "region": site["region"] if site else None,
                    "quantity": r.quantity,
                    "uom": r.uom,
                    "asOf": r.as_of,
                    "lotId": r.lot_id,
                    "firmId": principal.firm_id,
                    "siteGln": r.site_gln,
                }
            )
            for r, site in zip(records, sites, strict=True)
        ]
