"""GraphQL input types of the mutations; each becomes a validated graph_schema record."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.types.values import FirmRole, LotHold, RecallClass, SharingLevel, SharingScope, SiteKind


@strawberry.input(description="A member firm admitted by the cluster operator")
class FirmInput:
    id: strawberry.ID
    name: str
    name_ko: str | None = None
    roles: list[FirmRole]


@strawberry.input(description="A site of your firm, identified by its GLN (13 digits, check digit verified)")
class SiteInput:
    gln: str
    firm_id: strawberry.ID
    name: str
    kind: SiteKind
    region: str | None = None


@strawberry.input(description="A product your firm owns the brand of, identified by its GTIN")
class ProductInput:
    gtin: str
    name: str
    name_ko: str | None = None
    category: str
    uom: str


@strawberry.input(description="A lot your firm commissioned (made or harvested) at one of its sites")
class LotInput:
    id: strawberry.ID = strawberry.field(description="LGTIN class URI; its GTIN must be a registered product")
    site_gln: str
    quantity: float
    uom: str
    produced_at: datetime
    expires_at: datetime | None = None


@strawberry.input(description="A quantity of one lot")
class LotQuantityInput:
    lot_id: strawberry.ID
    quantity: float
    uom: str


@strawberry.input(description="Input lots consumed into output lots at one of your sites")
class TransformationInput:
    id: strawberry.ID
    site_gln: str
    occurred_at: datetime
    inputs: list[LotQuantityInput]
    outputs: list[LotQuantityInput]


@strawberry.input(description="Lots shipped from one of your sites to another site")
class ShipmentInput:
    id: strawberry.ID
    from_gln: str
    to_gln: str
    shipped_at: datetime
    received_at: datetime | None = None
    doc_type: str | None = strawberry.field(default=None, description="e.g. DESADV, BOL")
    doc_number: str | None = None
    items: list[LotQuantityInput]


def lot_quantities(items: list[LotQuantityInput]) -> list[dict[str, object]]:
    """Input quantities as record dicts."""
    return [{"lotId": str(item.lot_id), "quantity": item.quantity, "uom": item.uom} for item in items]


@strawberry.input(description="Open one scope of your firm's data at one level to exactly one grantee")
class SharingGrantInput:
    scope: SharingScope
    level: SharingLevel
    to_firm_id: strawberry.ID | None = None
    to_role: FirmRole | None = None
    to_cluster: bool | None = None
    until: datetime | None = None


@strawberry.input(description="Lots to recall, why, and how serious (class I the most)")
class RecallInput:
    lot_ids: list[strawberry.ID]
    reason: str
    recall_class: RecallClass
    hold: LotHold = strawberry.field(
        default=LotHold.ON_HOLD,
        description="What happens to the recalled lots and every lot downstream of them: ON_HOLD (released when "
        "the recall closes) or RECALLED (final). Upstream lots are traced, not held",
    )
