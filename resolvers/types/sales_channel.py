"""SalesChannel: a channel a retailer or marketer runs and opens to members; its listings and sales figures."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from graph_schema import channels
from graph_schema.db import Row
from graph_schema.errors import HubError
from graph_schema.identifiers import normalize_gtin
from graph_schema.model import SalesChannelKind
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.product import Product, load_product
from resolvers.types.site import Site, load_site
from resolvers.types.values import FirmRole, SharingLevel

strawberry.enum(SalesChannelKind)  # registered in place, as resolvers.types.values does for the other enums


@strawberry.type(description="A product listed on a channel by the firm that sells it there")
class Listing:
    product_gtin: str
    seller_firm_id: strawberry.ID

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)

    @strawberry.field
    async def seller(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.seller_firm_id))


@strawberry.type(
    description="Sales you may see: at DETAIL one seller's figure for a product on a channel on a day (at a store); "
    "at SUMMARY the total per channel and product over the sellers that share only totals with you"
)
class SalesFigure:
    level: SharingLevel
    channel_id: strawberry.ID
    product_gtin: str
    seller_firm_id: strawberry.ID | None = strawberry.field(description="Null at SUMMARY")
    day: date | None = strawberry.field(description="The day sold; null at SUMMARY (see firstDay, lastDay)")
    region: str | None = strawberry.field(description="The store's region; null at SUMMARY or without a store")
    quantity: float
    uom: str
    amount: float | None
    currency: str | None
    record_count: int
    first_day: date | None
    last_day: date | None
    _store_gln: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, row: Row) -> SalesFigure:
        return cls(
            level=SharingLevel(row["level"]),
            channel_id=strawberry.ID(row["channelId"]),
            product_gtin=row["productGtin"],
            seller_firm_id=strawberry.ID(row["sellerFirmId"]) if row.get("sellerFirmId") else None,
            day=_date(row.get("day")),
            region=row.get("region"),
            quantity=float(row["quantity"]),
            uom=row["uom"],
            amount=float(row["amount"]) if row.get("amount") is not None else None,
            currency=row.get("currency"),
            record_count=int(row["recordCount"]),
            first_day=_date(row.get("firstDay")),
            last_day=_date(row.get("lastDay")),
            _store_gln=row.get("storeGln"),
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)

    @strawberry.field(description="The seller; null at SUMMARY")
    async def seller(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.seller_firm_id) if self.seller_firm_id else None)

    @strawberry.field(description="The store the figure was sold at, when given; null at SUMMARY")
    async def store(self, info: Info) -> Site | None:
        return await load_site(info, self._store_gln)


def _date(value: Any) -> date | None:
    """A Neo4j Date (or None) as a Python date."""
    if value is None or isinstance(value, date):
        return value
    converted: date = value.to_native()
    return converted


async def read_sales(
    info: Info, *, channel_id: str | None, product_gtin: str | None, day_from: date | None, day_to: date | None
) -> list[SalesFigure]:
    """Sales figures as the caller may see them, with other sellers' detailed figures noted in the access log."""
    _, viewer = info.context.require_principal()
    gtin = normalize_gtin(product_gtin, field="productGtin") if product_gtin is not None else None
    if day_from is not None and day_to is not None and day_to < day_from:
        raise HubError("dayTo is before dayFrom", field="dayTo")
    rows = await channels.sales_figures(
        info.context.graph, viewer, channel_id=channel_id, product_gtin=gtin, day_from=day_from, day_to=day_to
    )
    info.context.note_access(row["sellerFirmId"] for row in rows if row["level"] == SharingLevel.DETAIL)
    return [SalesFigure.from_record(row) for row in rows]


@strawberry.type(description="A sales channel your firm runs or that its operator opened to your firm")
class SalesChannel:
    id: strawberry.ID
    name: str
    kind: SalesChannelKind
    run_by_you: bool = strawberry.field(description="True when your firm runs the channel")
    open_to_firm_ids: list[strawberry.ID] | None = strawberry.field(
        description="The member firms it is opened to; shown to its operator only"
    )
    open_to_roles: list[FirmRole] | None = strawberry.field(
        description="The roles whose firms may sell through it; shown to its operator only"
    )
    listings: list[Listing]
    _operator_firm_id: strawberry.Private[str]
    _store_glns: strawberry.Private[list[str]]

    @classmethod
    def from_record(cls, row: Row, *, viewer_firm_id: str) -> SalesChannel:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            kind=SalesChannelKind(row["kind"]),
            run_by_you=row["operatorFirmId"] == viewer_firm_id,
            open_to_firm_ids=[strawberry.ID(f) for f in row["openToFirmIds"]]
            if row.get("openToFirmIds") is not None
            else None,
            open_to_roles=[FirmRole(r) for r in row["openToRoles"]] if row.get("openToRoles") is not None else None,
            listings=[
                Listing(product_gtin=item["productGtin"], seller_firm_id=strawberry.ID(item["firmId"]))
                for item in row["listings"]
            ],
            _operator_firm_id=row["operatorFirmId"],
            _store_glns=list(row["storeGlns"]),
        )

    @strawberry.field(description="The retailer or marketer that runs the channel")
    async def operator(self, info: Info) -> Firm | None:
        return await load_firm(info, self._operator_firm_id)

    @strawberry.field(description="Stores, warehouses and kitchens the channel sells through")
    async def stores(self, info: Info) -> list[Site]:
        rows = await info.context.loaders.site.load_many(self._store_glns)
        return [Site.from_record(row) for row in rows if row is not None]

    @strawberry.field(
        description="Sales on this channel you may see (per SALES grants; all of them if you run it); one query "
        "per channel, so ask for it on a few channels at a time"
    )
    async def sales(
        self, info: Info, product_gtin: str | None = None, day_from: date | None = None, day_to: date | None = None
    ) -> list[SalesFigure]:
        return await read_sales(
            info, channel_id=str(self.id), product_gtin=product_gtin, day_from=day_from, day_to=day_to
        )
