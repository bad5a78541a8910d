"""A recall's mass balance: per site, per lot and per product, with each gap flagged where it sits."""

from __future__ import annotations

from collections import defaultdict

import strawberry

from graph_schema.db import Row
from graph_schema.mass_balance import GAP_TOLERANCE
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.site import Site, load_site


@strawberry.type(description="One lot at one site: made + received = used + shipped + in stock + disposed + gap")
class SiteBalance:
    lot_id: strawberry.ID
    site_gln: str
    firm_id: strawberry.ID | None
    produced: float
    received: float
    used: float = strawberry.field(description="Consumed there by transformations")
    shipped: float
    in_stock: float = strawberry.field(description="The last inventory count there")
    disposed: float = strawberry.field(description="Reported destroyed or returned there under the recall")
    gap: float = strawberry.field(description="What the records cannot place; positive: missing, negative: surplus")
    flagged: bool

    @strawberry.field
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self.site_gln)

    @strawberry.field
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.firm_id)) if self.firm_id else None


@strawberry.type(description="One lot over all its sites: produced = used + in stock + disposed + gap")
class LotBalance:
    lot_id: strawberry.ID
    product_gtin: str
    uom: str
    produced: float
    used: float
    shipped: float
    in_stock: float
    disposed: float
    gap: float
    flagged: bool
    sites: list[SiteBalance]


@strawberry.type(description="One product over the recall's lots of it (in one unit)")
class ProductBalance:
    product_gtin: str
    uom: str
    lot_count: int
    produced: float
    used: float
    in_stock: float
    disposed: float
    gap: float
    flagged: bool


@strawberry.type(description="The recall's mass balance; gaps lists every flagged lot and site")
class MassBalance:
    balanced: bool
    lots: list[LotBalance]
    products: list[ProductBalance]
    gaps: list[SiteBalance]

    @classmethod
    def from_rows(cls, rows: list[Row]) -> MassBalance:
        lots: list[LotBalance] = []
        for row in rows:
            sites = [
                SiteBalance(
                    lot_id=strawberry.ID(row["lotId"]),
                    site_gln=site["siteGln"],
                    firm_id=strawberry.ID(site["firmId"]) if site["firmId"] else None,
                    produced=site["produced"],
                    received=site["received"],
                    used=site["used"],
                    shipped=site["shipped"],
                    in_stock=site["inStock"],
                    disposed=site["disposed"],
                    gap=site["gap"],
                    flagged=site["flagged"],
                )
                for site in row["sites"]
            ]
            gap = sum(site.gap for site in sites)
            lots.append(
                LotBalance(
                    lot_id=strawberry.ID(row["lotId"]),
                    product_gtin=row["productGtin"],
                    uom=row["uom"],
                    produced=sum(site.produced for site in sites),
                    used=sum(site.used for site in sites),
                    shipped=sum(site.shipped for site in sites),
                    in_stock=sum(site.in_stock for site in sites),
                    disposed=sum(site.disposed for site in sites),
                    gap=gap,
                    flagged=any(site.flagged for site in sites),
                    sites=sites,
                )
            )
        by_product: dict[tuple[str, str], list[LotBalance]] = defaultdict(list)
        for lot in lots:
            by_product[(lot.product_gtin, lot.uom)].append(lot)
        products = [
            ProductBalance(
                product_gtin=gtin,
                uom=uom,
                lot_count=len(group),
                produced=sum(lot.produced for lot in group),
                used=sum(lot.used for lot in group),
                in_stock=sum(lot.in_stock for lot in group),
                disposed=sum(lot.disposed for lot in group),
                gap=sum(lot.gap for lot in group),
                flagged=any(lot.flagged for lot in group) or abs(sum(lot.gap for lot in group)) > GAP_TOLERANCE,
            )
            for (gtin, uom), group in sorted(by_product.items())
        ]
        gaps = [site for lot in lots for site in lot.sites if site.flagged]
        return cls(balanced=not gaps, lots=lots, products=products, gaps=gaps)
