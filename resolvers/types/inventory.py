"""Inventory: stock of a product in a region, as a lot at a site (DETAIL) or a total (SUMMARY); available to promise."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.product import Product, load_product
from resolvers.types.site import Site, load_site
from resolvers.types.values import SharingLevel, native_datetime


@strawberry.type(
    name="Inventory",
    description="Stock you may see: at DETAIL one lot held at one site of a firm; at SUMMARY the total of a product "
    "in a region over the holders that share only totals with you (no firm, site or lot)",
)
class InventoryPosition:
    level: SharingLevel
    product_gtin: str
    region: str | None
    quantity: float
    uom: str
    as_of: datetime | None = strawberry.field(description="When the count was taken (the latest, for a total)")
    lot_count: int = strawberry.field(description="How many lot-at-site counts the row adds up")
    lot_id: strawberry.ID | None = strawberry.field(description="The lot held; null at SUMMARY")
    _firm_id: strawberry.Private[str | None]
    _site_gln: strawberry.Private[str | None]
    _key: strawberry.Private[str]  # the row's place in the list, for its cursor

    @classmethod
    def from_record(cls, row: Row) -> InventoryPosition:
        return cls(
            level=SharingLevel(row["level"]),
            product_gtin=row["productGtin"],
            region=row.get("region"),
            quantity=float(row["quantity"]),
            uom=row["uom"],
            as_of=native_datetime(row.get("asOf")),
            lot_count=int(row.get("lotCount") or 1),
            lot_id=strawberry.ID(row["lotId"]) if row.get("lotId") else None,
            _firm_id=row.get("firmId"),
            _site_gln=row.get("siteGln"),
            _key=str(row.get("key") or ""),
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)

    @strawberry.field(description="The firm holding the stock; null at SUMMARY")
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)

    @strawberry.field(description="The site where the stock is held; null at SUMMARY")
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)

    @strawberry.field(description="The lot's record, when its traceability data is visible to you (TRACE rules)")
    async def lot(self, info: Info) -> Lot | None:
        if self.lot_id is None:
            return None
        row = await info.context.loaders.lot.load(str(self.lot_id))
        if row is None:
            return None
        info.context.note_access([row["ownerFirmId"]])
        return Lot.from_record(row)


@strawberry.type(description="One holder's part of what is available to promise (holders sharing at DETAIL)")
class HolderAvailability:
    on_hand: float
    committed: float
    available: float
    _firm_id: strawberry.Private[str]

    @strawberry.field
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)


@strawberry.type(
    description="Stock of a product that can still be promised: active, unexpired stock on hand at the holders you "
    "see (your own, and those sharing INVENTORY at DETAIL or SUMMARY), less what accepted bulk-order shares "
    "promised from stock and have not yet shipped"
)
class AvailableToPromise:
    product_gtin: str
    uom: str
    on_hand: float
    committed: float
    available: float
    holders: list[HolderAvailability] = strawberry.field(
        description="Per holder, for yours and those sharing at DETAIL; SUMMARY holders only add to the totals"
    )

    @classmethod
    def from_record(cls, product_gtin: str, row: Row) -> AvailableToPromise:
        return cls(
            product_gtin=product_gtin,
            uom=row["uom"],
            on_hand=float(row["onHand"]),
            committed=float(row["committed"]),
            available=max(0.0, float(row["onHand"]) - float(row["committed"])),
            holders=[
                HolderAvailability(
                    on_hand=float(h["onHand"]),
                    committed=float(h["committed"]),
                    available=max(0.0, float(h["onHand"]) - float(h["committed"])),
                    _firm_id=h["firmId"],
                )
                for h in sorted(row["firms"], key=lambda h: str(h["firmId"]))
            ],
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)
