"""The Mutation root: every write is validated in full, then decided in auth/, then written in one transaction."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from auth.decisions import require_cluster_operator, require_editor
from graph_schema import lots as lot_writes
from graph_schema import parties
from graph_schema.db import Row
from graph_schema.errors import HubError, NotFound
from graph_schema.records import (
    FirmRecord,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
    parse_record,
    parse_records,
    unique_ids,
)
from resolvers.context import Info
from resolvers.inputs import (
    FirmInput,
    LotInput,
    ProductInput,
    ShipmentInput,
    SiteInput,
    TransformationInput,
    lot_quantities,
)
from resolvers.notifications import publish_recall_joins_or_leave_them
from resolvers.permissions import AUTHENTICATED
from resolvers.types.firm import Firm
from resolvers.types.lot import Lot
from resolvers.types.product import Product
from resolvers.types.shipment import Shipment
from resolvers.types.site import Site


async def _fresh(info: Info, loader: DataLoader[str, Row | None], key: str) -> Row:
    """Read back a record this request just wrote, past anything the loader or the process kept before the write."""
    info.context.forget_kept()
    with suppress(KeyError):
        loader.clear(key)
    row = await loader.load(key)
    if row is None:  # committed a moment ago: only a concurrent delete could cause this
        raise NotFound(f"{key} was written but could not be read back; try the query again", field="id")
    return row


async def _lots(info: Info, ids: list[str]) -> list[Lot]:
    rows = await info.context.loaders.lot.load_many(ids)
    return [Lot.from_record(row) for row in rows if row is not None]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Admit a member (cluster operator's admin)")
    async def register_firm(self, info: Info, input: FirmInput) -> Firm:
        principal, decision = info.context.require_decision()
        require_cluster_operator(principal, decision, what="admit member firms")
        record = parse_record(
            FirmRecord,
            {
                "id": str(input.id),
                "name": input.name,
                "nameKo": input.name_ko,
                "roles": [r.value for r in input.roles],
            },
        )
        await parties.upsert_firms(info.context.graph, [record])
        row = await _fresh(info, info.context.loaders.firm, record.id)
        return Firm.from_record(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Register a site of your firm by its GLN")
    async def register_site(self, info: Info, input: SiteInput) -> Site:
        principal, _ = info.context.require_principal()
        record = parse_record(
            SiteRecord,
            {
                "gln": input.gln,
                "firmId": str(input.firm_id),
                "name": input.name,
                "kind": input.kind.value,
                "region": input.region,
            },
        )
        require_editor(principal, firm_id=record.firm_id, what="register sites")
        await parties.upsert_sites(info.context.graph, [record])
        row = await _fresh(info, info.context.loaders.site, record.gln)
        return Site.from_record(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Register a product your firm is brand owner of")
    async def register_product(self, info: Info, input: ProductInput) -> Product:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="register products")
        record = parse_record(
            ProductRecord,
            {
                "gtin": input.gtin,
                "ownerFirmId": principal.firm_id,
                "name": input.name,
                "nameKo": input.name_ko,
                "category": input.category,
                "uom": input.uom,
            },
        )
        await parties.upsert_products(info.context.graph, [record])
        row = await _fresh(info, info.context.loaders.product, record.gtin)
        return Product.from_record(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Record lots your firm commissioned (all or none of them are written)",
    )
    async def record_lots(self, info: Info, input: list[LotInput]) -> list[Lot]:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="record lots")
        records = parse_records(
            LotRecord,
            [
                {
                    "id": str(item.id),
                    "ownerFirmId": principal.firm_id,
                    "siteGln": item.site_gln,
                    "quantity": item.quantity,
                    "uom": item.uom,
                    "producedAt": item.produced_at,
                    "expiresAt": item.expires_at,
                }
                for item in input
            ],
            path="input",
        )
        unique_ids(records, "id", path="input")
        await lot_writes.record_lots(info.context.graph, records, path="input")
        return await _lots(info, [r.id for r in records])

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Record input lots consumed into output lots at your site; returns the outputs",
    )
    async def record_transformation(self, info: Info, input: TransformationInput) -> list[Lot]:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="record transformations")
        record = parse_record(
            TransformationRecord,
            {
                "id": str(input.id),
                "firmId": principal.firm_id,
                "siteGln": input.site_gln,
                "occurredAt": input.occurred_at,
                "inputs": lot_quantities(input.inputs),
                "outputs": lot_quantities(input.outputs),
            },
        )
        await lot_writes.record_transformations(info.context.graph, [record], path="input")
        # outputs made from held lots joined their open recall: their holders are told now
        await publish_recall_joins_or_leave_them(info.context.graph, info.context.sql_engine)
        return await _lots(info, [item.lot_id for item in record.outputs])

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Record lots shipped from one of your sites")
    async def record_shipment(self, info: Info, input: ShipmentInput) -> list[Shipment]:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="record shipments")
        record = parse_record(
            ShipmentRecord,
            {
                "id": str(input.id),
                "fromGln": input.from_gln,
                "toGln": input.to_gln,
                "shippedAt": input.shipped_at,
                "receivedAt": input.received_at,
                "docType": input.doc_type,
                "docNumber": input.doc_number,
                "items": lot_quantities(input.items),
            },
        )
        await lot_writes.record_shipments(info.context.graph, [record], shipper_firm_id=principal.firm_id, path="input")
        return await _shipments(info, record.id, [item.lot_id for item in record.items])

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Mark a shipment to your firm as received")
    async def receive_shipment(self, info: Info, id: strawberry.ID, received_at: datetime) -> list[Shipment]:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="receive shipments")
        if received_at.tzinfo is None:
            raise HubError("receivedAt needs its UTC offset", field="receivedAt")
        await lot_writes.receive_shipment(
            info.context.graph, shipment_id=str(id), firm_id=principal.firm_id, received_at=received_at
        )
        lot_ids = await lot_writes.lots_of_shipment(info.context.graph, str(id))
        return await _shipments(info, str(id), lot_ids)


async def _shipments(info: Info, shipment_id: str, lot_ids: list[str]) -> list[Shipment]:
    per_lot = await info.context.loaders.shipments_of_lot.load_many(lot_ids)
    return [Shipment.from_record(row) for rows in per_lot for row in rows if row["id"] == shipment_id]
