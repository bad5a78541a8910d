"""Product: a trade item identified by its GTIN, with Korean and English names."""

from __future__ import annotations

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.node import PRODUCT_ID_PREFIX, Node


@strawberry.type(description="A trade item identified by a 14-digit GS1 GTIN")
class Product(Node):
    gtin: str
    id: strawberry.ID = strawberry.field(default=strawberry.ID(""), description="Node id: product/<GTIN>")
    name: str
    name_ko: str | None
    category: str
    uom: str
    _owner_firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> Product:
        return cls(
            gtin=row["gtin"],
            id=strawberry.ID(PRODUCT_ID_PREFIX + row["gtin"]),
            name=row["name"],
            name_ko=row.get("nameKo"),
            category=row["category"],
            uom=row["uom"],
            _owner_firm_id=row["ownerFirmId"],
        )

    @strawberry.field(description="The brand owner")
    async def brand_owner(self, info: Info) -> Firm | None:
        return await load_firm(info, self._owner_firm_id)


async def load_product(info: Info, gtin: str) -> Product | None:
    """A product's profile through the request's loader (None for an unknown GTIN)."""
    row = await info.context.loaders.product.load(gtin)
    return Product.from_record(row) if row else None
