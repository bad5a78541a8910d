"""Trace: every distinct lot reached upstream or downstream, with shipments and a summary; hidden parts redacted."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema import trace as trace_reads
from graph_schema.db import Row
from resolvers.context import Info
from resolvers.redaction import Redactor
from resolvers.types.lot import Lot
from resolvers.types.product import Product, load_product
from resolvers.types.site import Site, load_site
from resolvers.types.values import FirmRole, TraceDirection, native_datetime

# FirmRole(value) goes through EnumType.__call__ (0.7 µs), once per reached lot; unknown values still reach it
_ROLES: dict[str, FirmRole] = {role.value: role for role in FirmRole}


@strawberry.type(description="A lot reached by a trace; when redacted, only an opaque id, depth and owner role")
class TracedLot:
    id: strawberry.ID
    depth: int
    redacted: bool
    owner_role: FirmRole | None
    lot: Lot | None
    made_during_deviation: bool = strawberry.field(
        default=False,
        description="True when the lot was produced during a CCP deviation you may see (false when redacted)",
    )


@strawberry.type(description="A shipment of a reached lot; when redacted, no sites, quantity or times")
class TracedShipment:
    id: strawberry.ID
    lot_id: strawberry.ID
    quantity: float | None
    uom: str | None
    shipped_at: datetime | None
    received_at: datetime | None
    redacted: bool
    _from_gln: strawberry.Private[str | None]
    _to_gln: strawberry.Private[str | None]

    @strawberry.field
    async def from_site(self, info: Info) -> Site | None:
        return await load_site(info, self._from_gln)

    @strawberry.field
    async def to_site(self, info: Info) -> Site | None:
        return await load_site(info, self._to_gln)


@strawberry.type(description="Total quantity of one product (in one unit) among the lots you may see")
class ProductQuantity:
    product_gtin: str
    uom: str
    quantity: float
    lot_count: int

    @strawberry.field
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_gtin)


@strawberry.type(
    description="Counts over the trace. Firm and site figures cover what you may see in detail; quantities also "
    "count lots whose owners share them with you as SUMMARY; redactedCount tells how many lots are hidden"
)
class TraceSummary:
    lot_count: int
    redacted_count: int
    firm_count: int
    site_count: int
    shipment_count: int
    max_depth: int
    quantities: list[ProductQuantity]


@strawberry.type(
    description="A transformation step between two lots of the trace: the input went into the output (material "
    "flow, in either direction of trace); ids as the trace's lots have them (opaque when redacted)"
)
class TraceLink:
    input_id: strawberry.ID
    output_id: strawberry.ID


@strawberry.type(description="The result of tracing one lot upstream or downstream")
class Trace:
    origin: Lot
    direction: TraceDirection
    lots: list[TracedLot]
    shipments: list[TracedShipment]
    summary: TraceSummary
    # what was traced, for links (read only when asked for)
    _lot_id: strawberry.Private[str] = ""
    _max_depth: strawberry.Private[int] = 25

    @strawberry.field(
        description="How the trace's lots join: every input -> output step among them (one more read, when asked)"
    )
    async def links(self, info: Info) -> list[TraceLink]:
        _, viewer = info.context.require_principal()
        rows = await trace_reads.trace_links(
            info.context.graph, viewer, lot_id=self._lot_id, direction=self.direction, max_depth=self._max_depth
        )
        opaque = info.context.redactor.opaque
        return [
            TraceLink(
                input_id=strawberry.ID(row["input"] or opaque("lot", row["inputRef"])),
                output_id=strawberry.ID(row["output"] or opaque("lot", row["outputRef"])),
            )
            for row in rows
        ]

    @classmethod
    def from_rows(
        cls, rows: list[Row], *, direction: TraceDirection, redactor: Redactor, lot_id: str = "", max_depth: int = 25
    ) -> Trace:
        """Build the trace from the graph's rows (origin first); hidden records get per-caller opaque ids."""
        traced: list[TracedLot] = []
        shipments: list[TracedShipment] = []
        for row in rows:
            lot_row = row["lot"]
            role = owner_role(row["ownerRole"])
            if lot_row is None:
                lot_id = redactor.opaque("lot", row["hiddenRef"])
                traced.append(
                    TracedLot(id=strawberry.ID(lot_id), depth=row["depth"], redacted=True, owner_role=role, lot=None)
                )
            else:
                lot_id = lot_row["id"]
                traced.append(
                    TracedLot(
                        id=strawberry.ID(lot_id),
                        depth=row["depth"],
                        redacted=False,
                        owner_role=role,
                        lot=Lot.from_record(lot_row),
                        made_during_deviation=bool(row["madeDuringDeviation"]),
                    )
                )
            for sh in row["shipments"]:
                if "hiddenRef" in sh:
                    shipments.append(
                        TracedShipment(
                            id=strawberry.ID(redactor.opaque("shipment", sh["hiddenRef"])),
                            lot_id=strawberry.ID(lot_id),
                            quantity=None,
                            uom=None,
                            shipped_at=None,
                            received_at=None,
                            redacted=True,
                            _from_gln=None,
                            _to_gln=None,
                        )
                    )
                    continue
                shipments.append(
                    TracedShipment(
                        id=strawberry.ID(sh["id"]),
                        lot_id=strawberry.ID(lot_id),
                        quantity=sh["quantity"],
                        uom=sh["uom"],
                        shipped_at=native_datetime(sh["shippedAt"]),
                        received_at=native_datetime(sh["receivedAt"]),
                        redacted=False,
                        _from_gln=sh["fromGln"],
                        _to_gln=sh["toGln"],
                    )
                )
        origin = Lot.from_record(rows[0]["lot"])
        return cls(
            origin=origin,
            direction=direction,
            lots=traced,
            shipments=shipments,
            summary=summarize(rows),
            _lot_id=origin.id,  # the origin: the loop above reuses the name lot_id for each traced lot
            _max_depth=max_depth,
        )


def owner_role(value: str | None) -> FirmRole | None:
    """A traced lot's owner role from its stored text."""
    return (_ROLES.get(value) or FirmRole(value)) if value else None


def summarize(rows: list[Row]) -> TraceSummary:
    """The trace's counts from the graph's rows: firms and sites of what the viewer sees in detail, quantities also
    of lots shared at SUMMARY level (the trace's Cypher gives their aggregate only)."""
    firms: set[str] = set()
    sites: set[str] = set()
    totals: dict[tuple[str, str], list[float]] = {}
    add_firm, add_site = firms.add, sites.add  # a 10,000-lot trace makes these calls 20,000 times
    redacted = shipment_count = max_depth = 0
    for row in rows:
        depth = row["depth"]
        if depth > max_depth:
            max_depth = depth
        lot_row = row["lot"]
        if lot_row is None:
            redacted += 1
            counted = row["aggregate"]  # shared at SUMMARY level: counted, not shown
        else:
            add_firm(lot_row["ownerFirmId"])
            add_site(lot_row["siteGln"])
            counted = lot_row
        if counted is not None:
            key = (counted["productGtin"], counted["uom"])
            total = totals.get(key)
            if total is None:
                totals[key] = [0.0 + counted["quantity"], 1]
            else:
                total[0] += counted["quantity"]
                total[1] += 1
        shipments = row["shipments"]
        if shipments:
            shipment_count += len(shipments)
            for sh in shipments:
                if "hiddenRef" not in sh:
                    firms.update((sh["fromFirmId"], sh["toFirmId"]))
                    sites.update((sh["fromGln"], sh["toGln"]))
    return TraceSummary(
        lot_count=len(rows),
        redacted_count=redacted,
        firm_count=len(firms),
        site_count=len(sites),
        shipment_count=shipment_count,
        max_depth=max_depth,
        quantities=[
            ProductQuantity(product_gtin=gtin, uom=uom, quantity=round(qty, 6), lot_count=int(count))
            for (gtin, uom), (qty, count) in sorted(totals.items())
        ],
    )
