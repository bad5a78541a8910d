"""Shipment: a lot moved from one site to another on a shipment, seen by a caller allowed to see it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.site import Site, load_site
from resolvers.types.values import native_datetime


@strawberry.type(description="One lot's movement on a shipment: from a site to a site, with its reference document")
class Shipment:
    id: strawberry.ID
    lot_id: strawberry.ID
    quantity: float | None
    uom: str | None
    shipped_at: datetime | None
    received_at: datetime | None
    doc_type: str | None = strawberry.field(description="Reference document type, e.g. despatch advice, bill of lading")
    doc_number: str | None
    _from_gln: strawberry.Private[str]
    _to_gln: strawberry.Private[str]
    _from_firm_id: strawberry.Private[str]
    _to_firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Shipment:
        return cls(
            id=strawberry.ID(row["id"]),
            lot_id=strawberry.ID(row["lotId"]),
            quantity=row.get("quantity"),
            uom=row.get("uom"),
            shipped_at=native_datetime(row.get("shippedAt")),
            received_at=native_datetime(row.get("receivedAt")),
            doc_type=row.get("docType"),
            doc_number=row.get("docNumber"),
            _from_gln=row["fromGln"],
            _to_gln=row["toGln"],
            _from_firm_id=row["fromFirmId"],
            _to_firm_id=row["toFirmId"],
        )

    @strawberry.field
    async def from_site(self, info: Info) -> Site | None:
        return await load_site(info, self._from_gln)

    @strawberry.field
    async def to_site(self, info: Info) -> Site | None:
        return await load_site(info, self._to_gln)

    @strawberry.field(description="The firm that shipped")
    async def shipper(self, info: Info) -> Firm | None:
        return await load_firm(info, self._from_firm_id)

    @strawberry.field(description="The firm that received")
    async def receiver(self, info: Info) -> Firm | None:
        return await load_firm(info, self._to_firm_id)
