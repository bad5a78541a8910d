"""Recall impact: affected lots, quantities per product, firms, sites, channels and stock, as the caller sees them."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.redaction import Redactor
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.product import Product, load_product
from resolvers.types.values import FirmRole, SalesChannelKind, SiteKind, TraceDirection


@strawberry.type(description="A lot a recall reaches; when redacted only an opaque id, direction, depth, owner role")
class AffectedLot:
    id: strawberry.ID
    direction: TraceDirection = strawberry.field(
        description="DOWNSTREAM: a recalled lot (depth 0) or made from one; UPSTREAM: an ingredient of one"
    )
    depth: int = strawberry.field(description="Transformations between the lot and the nearest recalled lot")
    held: bool = strawberry.field(description="Put ON_HOLD or RECALLED by the recall (every downstream lot)")
    recalled: bool = strawberry.field(description="One of the lots the recall names")
    redacted: bool
    owner_role: FirmRole | None
    lot: Lot | None
    _position: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Row, *, hidden_ref: str | None, redactor: Redactor, position: int) -> AffectedLot:
        lot_row = row["lot"]
        lot_id = redactor.opaque("lot", hidden_ref or "") if lot_row is None else lot_row["id"]
        return cls(
            id=strawberry.ID(lot_id),
            direction=TraceDirection(row["direction"] or "UPSTREAM"),
            depth=int(row["depth"] or 0),
            held=bool(row["held"]),
            recalled=bool(row["recalled"]),
            redacted=lot_row is None,
            owner_role=FirmRole(row["ownerRole"]) if row["ownerRole"] else None,
            lot=Lot.from_record(lot_row) if lot_row is not None else None,
            _position=position,
        )


@strawberry.type(description="Total quantity of one product in one unit, and how many lots it comes from")
class ImpactQuantity:
    product_gtin: str
    product_name: str | None
    uom: str
    quantity: float
    lot_count: int

    @classmethod
    def from_row(cls, row: Row) -> ImpactQuantity:
        return cls(
            product_gtin=row["productGtin"],
            product_name=row["productName"],
            uom=row["uom"],
            quantity=float(row["quantity"]),
            lot_count=int(row["lotCount"]),
        )

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)


@strawberry.type(description="A firm the affected lots reached: it owns some of them or operates a site they reached")
class ImpactFirm:
    id: strawberry.ID
    name: str
    roles: list[FirmRole]
    lot_count: int = strawberry.field(description="Affected lots the firm owns (among those you may see)")
    site_count: int = strawberry.field(description="Sites of the firm the affected lots reached")

    @classmethod
    def from_row(cls, row: Row) -> ImpactFirm:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            roles=[FirmRole(r) for r in row["roles"] or []],
            lot_count=int(row["lotCount"]),
            site_count=int(row["siteCount"]),
        )

    @strawberry.field(description="The firm's profile")
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.id))


@strawberry.type(description="A site the affected lots reached: made there, shipped from or to it, or held there")
class ImpactSite:
    gln: str
    name: str
    kind: SiteKind
    region: str | None
    firm_id: strawberry.ID
    lot_count: int = strawberry.field(description="Affected lots that reached the site")
    stock: list[ImpactQuantity] = strawberry.field(description="Affected quantity still held at the site")

    @classmethod
    def from_row(cls, row: Row) -> ImpactSite:
        return cls(
            gln=row["gln"],
            name=row["name"],
            kind=SiteKind(row["kind"]),
            region=row.get("region"),
            firm_id=strawberry.ID(row["firmId"]),
            lot_count=int(row["lotCount"]),
            stock=[ImpactQuantity.from_row(q) for q in row["stock"]],
        )

    @strawberry.field(description="The firm that operates the site")
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.firm_id))


@strawberry.type(
    description="A sales channel an affected lot may be sold through: it lists the lot's product and a site the lot "
    "reached sells through it"
)
class ImpactChannel:
    id: strawberry.ID
    name: str
    kind: SalesChannelKind
    operator_firm_id: strawberry.ID
    product_gtins: list[str]
    site_glns: list[str]
    lot_count: int

    @classmethod
    def from_row(cls, row: Row) -> ImpactChannel:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            kind=SalesChannelKind(row["kind"]),
            operator_firm_id=strawberry.ID(row["operatorFirmId"]),
            product_gtins=list(row["productGtins"]),
            site_glns=list(row["siteGlns"]),
            lot_count=int(row["lotCount"]),
        )

    @strawberry.field(description="The firm that runs the channel")
    async def operator(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.operator_firm_id))


@strawberry.type(
    description="What a recall reaches, over the affected lots you may see in detail; hiddenLotCount tells how many "
    "more exist. While a recall is open its coordinator and the agency see every one of them"
)
class RecallImpact:
    affected_lot_count: int = strawberry.field(description="Every lot the recall reaches, seen or hidden")
    lot_count: int = strawberry.field(description="Affected lots you may see in detail; the figures below cover these")
    hidden_lot_count: int
    held_lot_count: int = strawberry.field(description="Of the lots you see, those held (downstream)")
    firm_count: int
    site_count: int
    channel_count: int
    quantities: list[ImpactQuantity] = strawberry.field(description="Total quantity of the lots per product and unit")
    in_stock: list[ImpactQuantity] = strawberry.field(description="Quantity still held at sites, per product and unit")
    firms: list[ImpactFirm]
    sites: list[ImpactSite]
    channels: list[ImpactChannel]

    @classmethod
    def from_row(cls, row: Row) -> RecallImpact:
        return cls(
            affected_lot_count=int(row["affectedCount"]),
            lot_count=int(row["lotCount"]),
            hidden_lot_count=int(row["hiddenCount"]),
            held_lot_count=int(row["heldCount"]),
            firm_count=len(row["firms"]),
            site_count=len(row["sites"]),
            channel_count=len(row["channels"]),
            quantities=[ImpactQuantity.from_row(q) for q in row["quantities"]],
            in_stock=[ImpactQuantity.from_row(q) for q in row["inStock"]],
            firms=[ImpactFirm.from_row(f) for f in row["firms"]],
            sites=[ImpactSite.from_row(s) for s in row["sites"]],
            channels=[ImpactChannel.from_row(c) for c in row["channels"]],
        )


def owners_counted(impact: Row) -> Iterable[str]:
    """Each affected lot's owner once per lot the impact counted, for the access log."""
    return (firm["id"] for firm in impact["firms"] for _ in range(int(firm["lotCount"])))
