"""A recall's answers: acknowledgements, disposition reports, the consignees' status and the effectiveness check."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from graph_schema.db import Row
from graph_schema.model import RecallDispositionKind
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.site import Site, load_site
from resolvers.types.values import native_datetime

strawberry.enum(RecallDispositionKind, name="RecallDisposition")


@strawberry.type(description="A firm's confirmation that it acted on a recall (its first one stands)")
class RecallAcknowledgement:
    acknowledged_at: datetime
    note: str | None
    _firm_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Row) -> RecallAcknowledgement:
        at = native_datetime(row["at"])
        assert at is not None  # written with every acknowledgement
        return cls(acknowledged_at=at, note=row.get("note"), _firm_id=row["firmId"])

    @strawberry.field
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)


@strawberry.type(description="A quantity of a recalled lot a consignee reports removed, destroyed or returned")
class RecallDispositionReport:
    id: strawberry.ID
    recall_id: strawberry.ID
    lot_id: strawberry.ID
    site_gln: str
    quantity: float
    uom: str
    disposition: RecallDispositionKind
    reported_at: datetime
    note: str | None
    firm_id: strawberry.ID

    @classmethod
    def from_row(cls, row: Row) -> RecallDispositionReport:
        at = native_datetime(row["at"])
        assert at is not None
        return cls(
            id=strawberry.ID(row["id"]),
            recall_id=strawberry.ID(row["recallId"]),
            lot_id=strawberry.ID(row["lotId"]),
            site_gln=row["siteGln"],
            quantity=float(row["quantity"]),
            uom=row["uom"],
            disposition=RecallDispositionKind(row["disposition"]),
            reported_at=at,
            note=row.get("note"),
            firm_id=strawberry.ID(row["firmId"]),
        )


@strawberry.type(description="A consignee's stock of the recalled lots at one of its sites")
class RecallConsigneeSite:
    site_gln: str
    stock_counted: float = strawberry.field(description="The last inventory count of the recalled lots at the site")
    reported: float = strawberry.field(description="Removed, destroyed or returned there, as reported under the recall")
    stock_left: float = strawberry.field(description="The last count less what was reported there after it")

    @strawberry.field
    async def site(self, info: Info) -> Site | None:
        return await load_site(info, self.site_gln)


@strawberry.type(description="A firm that holds or received lots the recall pulls, and how far it has answered")
class RecallConsignee:
    lot_count: int = strawberry.field(description="Recalled (held) lots the firm owns or received")
    notified_at: datetime | None = strawberry.field(
        description="When a webhook of the firm first acknowledged the recall's RECALL_DECLARED delivery (null: not "
        "yet, or told only by subscription, which keeps no log)"
    )
    acknowledged: bool
    acknowledged_at: datetime | None
    note: str | None
    sites: list[RecallConsigneeSite]
    _firm_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Row, *, notified_ms: int | None = None) -> RecallConsignee:
        at = native_datetime(row.get("acknowledgedAt"))
        return cls(
            lot_count=int(row["lotCount"]),
            notified_at=datetime.fromtimestamp(notified_ms / 1000, UTC) if notified_ms is not None else None,
            acknowledged=at is not None,
            acknowledged_at=at,
            note=row.get("note"),
            sites=[
                RecallConsigneeSite(
                    site_gln=site["siteGln"],
                    stock_counted=float(site["stockCounted"]),
                    reported=float(site["reported"]),
                    stock_left=float(site["stockLeft"]),
                )
                for site in row["sites"]
            ],
            _firm_id=row["firmId"],
        )

    @strawberry.field
    def firm_id(self) -> strawberry.ID:
        return strawberry.ID(self._firm_id)

    @strawberry.field
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, self._firm_id)


@strawberry.type(description="The effectiveness check at one moment: what was answered by then")
class EffectivenessPoint:
    at: datetime
    acknowledged: int
    quantity_accounted_for: float


@strawberry.type(
    description="The recall's effectiveness check: consignees that acknowledged and affected quantity accounted for"
)
class RecallEffectiveness:
    consignees: int = strawberry.field(description="Firms that own or received lots the recall pulls")
    acknowledged: int
    quantity_affected: float = strawberry.field(
        description="Of each held lot, the quantity not turned into another lot (summed in the lots' own units)"
    )
    quantity_accounted_for: float = strawberry.field(description="Removed, destroyed or returned, as reported")
    acknowledged_share: float | None = strawberry.field(description="acknowledged / consignees (null without any)")
    quantity_share: float | None = strawberry.field(description="quantityAccountedFor / quantityAffected")
    timeline: list[EffectivenessPoint] = strawberry.field(
        description="From the declaration, a point at each acknowledgement or report (and the close), oldest first"
    )

    @classmethod
    def from_row(cls, row: Row) -> RecallEffectiveness:
        changes = sorted(
            [(ack["epoch"], ack["at"], 1, 0.0) for ack in row["acknowledgements"]]
            + [(d["epoch"], d["at"], 0, float(d["quantity"])) for d in row["dispositions"]]
        )
        acknowledged, accounted = 0, 0.0
        timeline = [EffectivenessPoint(at=_at(row["declared"]), acknowledged=0, quantity_accounted_for=0.0)]
        for _, at, acks, quantity in changes:
            acknowledged += acks
            accounted += quantity
            timeline.append(EffectivenessPoint(at=_at(at), acknowledged=acknowledged, quantity_accounted_for=accounted))
        if row.get("closed"):
            timeline.append(
                EffectivenessPoint(at=_at(row["closed"]), acknowledged=acknowledged, quantity_accounted_for=accounted)
            )
        consignees, affected = int(row["consignees"]), float(row["affected"])
        return cls(
            consignees=consignees,
            acknowledged=acknowledged,
            quantity_affected=affected,
            quantity_accounted_for=accounted,
            acknowledged_share=acknowledged / consignees if consignees else None,
            quantity_share=accounted / affected if affected > 0 else None,
            timeline=timeline,
        )


def _at(text: str) -> datetime:
    at = native_datetime(text)
    assert at is not None
    return at
