"""Product: a trade item identified by its GTIN, with Korean and English names."""

from __future__ import annotations

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm


@strawberry.type(description="A trade item identified by a 14-digit GS1 GTIN")
class Product:
    gtin: str
    name: str
    name_ko: str | None
    category: str
    uom: str
    _owner_firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Product:
        return cls(
            gtin=row["gtin"],
            name=row["name"],
            name_ko=row.get("nameKo"),
            category=row["category"],
            uom=row["uom"],
            _owner_firm_id=row["ownerFirmId"],
        )

    @strawberry.field(description="The brand owner")
    async def brand_owner(self, info: Info) -> Firm | None:
        row = await info.context.loaders.firm.load(self._owner_firm_id)
        return Firm.from_record(row) if row else None
