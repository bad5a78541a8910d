"""Lot: one traceability lot of one product, identified by its LGTIN (the FSMA 204 lot code is GTIN + lot)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.node import Node
from resolvers.types.product import Product, load_product
from resolvers.types.shipment import Shipment
from resolvers.types.site import Site, load_site
from resolvers.types.values import LotStatus, native_datetime

if TYPE_CHECKING:
    from resolvers.types.deviation import Deviation

# Enum(value) costs a lookup through EnumType.__call__ (0.7 µs): a big trace makes 10,000 of them per field.
# An unknown value still goes through the enum, which refuses it as before.
_STATUSES: dict[str, LotStatus] = {status.value: status for status in LotStatus}


@strawberry.type(description="A link through a transformation: an input a lot was made from, or an output made from it")
class LotLink:
    transformation_id: strawberry.ID
    occurred_at: datetime | None
    quantity: float
    uom: str
    redacted: bool = strawberry.field(description="True when the linked lot is not visible to your firm")
    _lot_id: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, row: Row) -> LotLink:
        return cls(
            transformation_id=strawberry.ID(row["transformationId"]),
            occurred_at=native_datetime(row.get("occurredAt")),
            quantity=row["quantity"],
            uom=row["uom"],
            redacted=row["lotId"] is None,
            _lot_id=row["lotId"],
        )

    @strawberry.field(description="The linked lot; null when it is not visible to your firm")
    async def lot(self, info: Info) -> Lot | None:
        if self._lot_id is None:
            return None
        row = await info.context.loaders.lot.load(self._lot_id)
        if row is None:
            return None
        info.context.note_access([row["ownerFirmId"]])
        return Lot.from_record(row)


@strawberry.type(description="A traceability lot of one product")
class Lot(Node):
    id: strawberry.ID = strawberry.field(
        description="GS1 LGTIN class URI: urn:epc:class:lgtin:<prefix>.<itemref>.<lot>"
    )
    lot_number: str
    product_gtin: str
    quantity: float
    uom: str
    produced_at: datetime | None
    expires_at: datetime | None
    status: LotStatus
    _site_gln: strawberry.Private[str]
    _owner_firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Lot:
        return cls(
            id=strawberry.ID(row["id"]),
            lot_number=row["lotNumber"],
            product_gtin=row["productGtin"],
            quantity=row["quantity"],
            uom=row["uom"],
            produced_at=native_datetime(row.get("producedAt")),
            expires_at=native_datetime(row.get("expiresAt")),
            status=_STATUSES.get(row["status"]) or LotStatus(row["status"]),
            _site_gln=row["siteGln"],
            _owner_firm_id=row["ownerFirmId"],
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)

    @strawberry.field(description="The site where the lot was made or harvested")
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self._site_gln)

    @strawberry.field(description="The firm that owns the lot's record")
    async def owner(self, info: Info) -> Firm | None:
        return await load_firm(info, self._owner_firm_id)

    @strawberry.field(description="The lots this lot was made from (one step back through its transformation)")
    async def inputs(self, info: Info) -> list[LotLink]:
        return [LotLink.from_record(row) for row in await info.context.loaders.inputs_of_lot.load(self.id)]

    @strawberry.field(description="The lots made from this lot (one step forward through transformations)")
    async def outputs(self, info: Info) -> list[LotLink]:
        return [LotLink.from_record(row) for row in await info.context.loaders.outputs_of_lot.load(self.id)]

    @strawberry.field(description="Shipments of this lot that your firm may see")
    async def shipments(self, info: Info) -> list[Shipment]:
        rows = await info.context.loaders.shipments_of_lot.load(self.id)
        info.context.note_access(row["fromFirmId"] for row in rows)
        return [Shipment.from_record(row) for row in rows]

    @strawberry.field(description="The CCP deviations this lot was made during, that you may see in detail")
    async def deviations(self, info: Info) -> list[Annotated[Deviation, strawberry.lazy("resolvers.types.deviation")]]:
        from resolvers.types import deviation  # imports this module: not at the top

        rows = await info.context.loaders.deviations_of_lot.load(self.id)
        return [deviation.Deviation.from_record(row) for row in rows]
