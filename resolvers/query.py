"""The Query root: reads, each filtered by the caller's visibility inside the graph query."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema import parties
from graph_schema import trace as trace_reads
from graph_schema.db import Row
from graph_schema.identifiers import normalize_gtin, parse_lgtin, validate_gln
from resolvers.context import Context, Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.lot_connection import LotConnection, lot_connection
from resolvers.types.lot_list import lot_filter
from resolvers.types.principal import Me
from resolvers.types.product import Product, load_product
from resolvers.types.site import Site, load_site
from resolvers.types.trace import Trace
from resolvers.types.values import FirmRole, LotSort, LotStatus, TraceDirection


@strawberry.type
class Query:
    @strawberry.field(permission_classes=AUTHENTICATED, description="Who you are: firm, roles and scopes")
    def me(self, info: Info) -> Me:
        principal, _ = info.context.require_principal()
        return Me.from_principal(principal)

    @strawberry.field(permission_classes=AUTHENTICATED, description="A member firm's profile")
    async def firm(self, info: Info, id: strawberry.ID) -> Firm | None:
        return await load_firm(info, str(id))

    @strawberry.field(permission_classes=AUTHENTICATED, description="Member firms, optionally of one role")
    async def firms(
        self, info: Info, role: FirmRole | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Firm]:
        check_page_size(first, info.context.max_page_size)
        graph = info.context.graph
        role_value = role.value if role else None
        rows = await parties.list_firms(graph, role=role_value, after=decode_cursor("firm", after), limit=first + 1)
        return build_connection(
            [Firm.from_record(row) for row in rows],
            kind="firm",
            key=lambda f: str(f.id),
            first=first,
            after=after,
            count=lambda: parties.count_firms(graph, role=role_value),
        )

    @strawberry.field(permission_classes=AUTHENTICATED, description="A site by its GLN")
    async def site(self, info: Info, gln: str) -> Site | None:
        return await load_site(info, validate_gln(gln))

    @strawberry.field(permission_classes=AUTHENTICATED, description="A product by its GTIN (8 to 14 digits)")
    async def product(self, info: Info, gtin: str) -> Product | None:
        return await load_product(info, normalize_gtin(gtin))

    @strawberry.field(permission_classes=AUTHENTICATED, description="A lot you may see in detail, by its LGTIN")
    async def lot(self, info: Info, id: strawberry.ID) -> Lot | None:
        row = await info.context.loaders.lot.load(parse_lgtin(str(id), field="id").uri)
        if row is None:
            return None
        info.context.note_access([row["ownerFirmId"]])
        return Lot.from_record(row)

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Lots you may see, filtered: lotNumber is exact, lotNumberPrefix a prefix of the lot number; "
        "producedFrom inclusive, producedTo exclusive; sorted by sort (ID by default)",
    )
    async def lots(
        self,
        info: Info,
        product_gtin: str | None = None,
        site_gln: str | None = None,
        lot_number: str | None = None,
        status: LotStatus | None = None,
        first: int = 20,
        after: str | None = None,
        lot_number_prefix: str | None = None,
        owner_firm_id: strawberry.ID | None = None,
        produced_from: datetime | None = None,
        produced_to: datetime | None = None,
        sort: LotSort = LotSort.ID,
    ) -> LotConnection:
        where = lot_filter(
            product_gtin=product_gtin,
            site_gln=site_gln,
            lot_number=lot_number,
            lot_number_prefix=lot_number_prefix,
            status=status,
            owner_firm_id=owner_firm_id,
            produced_from=produced_from,
            produced_to=produced_to,
        )
        return await lot_connection(info, where=where, sort=sort, first=first, after=after)

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Every lot reached from a lot upstream (its ingredients) or downstream (what was made from it), "
        "with shipments and a summary; depth 1 is one step back or forward",
    )
    async def trace(self, info: Info, lot_id: strawberry.ID, direction: TraceDirection, max_depth: int = 25) -> Trace:
        return await read_trace(info.context, lot_id, direction, max_depth)


async def read_trace(context: Context, lot_id: str, direction: TraceDirection, max_depth: int) -> Trace:
    """The trace as the caller may see it, its records noted for the access log."""
    rows = await read_trace_rows(context, lot_id, direction, max_depth)
    return Trace.from_rows(
        rows, direction=direction, redactor=context.redactor, lot_id=rows[0]["lot"]["id"], max_depth=max_depth
    )


async def read_trace_rows(
    context: Context,
    lot_id: str,
    direction: TraceDirection,
    max_depth: int,
    projection: trace_reads.TraceProjection = trace_reads.FULL,
) -> list[Row]:
    """The trace's rows as the caller may see them (graph_schema.trace), its records noted for the access log: the
    resolver and the compiled path (resolvers/compiled.py, which writes its answer from these rows, with only the
    fields its selection reads: ``projection``) both read here."""
    _, viewer = context.require_principal()
    lot_id_value = parse_lgtin(str(lot_id), field="lotId").uri
    rows = await trace_reads.trace(
        context.graph, viewer, lot_id=lot_id_value, direction=direction, max_depth=max_depth, projection=projection
    )
    context.note_access(row["lot"]["ownerFirmId"] for row in rows if row["lot"] is not None)
    context.note_access(
        shipment["fromFirmId"] for row in rows for shipment in row["shipments"] if "hiddenRef" not in shipment
    )
    return rows
