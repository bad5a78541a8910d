"""Sales channel operations: run and open channels, list products, record and read sales."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import strawberry

from auth.commerce import require_channel_operator
from auth.decisions import require_editor
from graph_schema import channels
from graph_schema.errors import HubError, NotFound
from graph_schema.identifiers import normalize_gtin
from graph_schema.model import SalesChannelKind
from graph_schema.records import SalesChannelRecord, parse_record, parse_records
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.sales_channel import SalesChannel, SalesFigure, read_sales
from resolvers.types.values import FirmRole

MAX_BATCH = 1000


@strawberry.input(description="A sales channel your firm (a RETAILER or MARKETER) runs")
class SalesChannelInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="Chosen by you, or generated when left out")
    name: str
    kind: SalesChannelKind
    store_glns: list[str] = strawberry.field(
        default_factory=list, description="Your own stores, warehouses or kitchens it sells through"
    )


@strawberry.input(description="Member firms and roles to open your channel to (or to close it to)")
class ChannelOpeningInput:
    channel_id: strawberry.ID
    firm_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    roles: list[FirmRole] = strawberry.field(default_factory=list)


@strawberry.input(description="What a seller sold of one product through one channel on one day (at one store)")
class SaleInput:
    channel_id: strawberry.ID
    product_gtin: str
    day: date
    quantity: float
    uom: str
    seller_firm_id: strawberry.ID | None = strawberry.field(
        default=None, description="Your firm when left out; the channel's operator may record for its sellers"
    )
    amount: float | None = None
    currency: str | None = strawberry.field(default=None, description="ISO 4217, e.g. KRW")
    store_gln: str | None = None


async def _channel(info: Info, channel_id: str) -> SalesChannel:
    principal, decision = info.context.require_decision()
    row = await channels.channel_by_id(
        info.context.graph, decision.viewer, firm_roles=sorted(decision.firm_roles), channel_id=channel_id
    )
    if row is None:  # written a moment ago: only a concurrent change could cause this
        raise NotFound(f"sales channel {channel_id!r} is not one your firm may sell through", field="channelId")
    return SalesChannel.from_record(row, viewer_firm_id=principal.firm_id)


def _gtins(values: list[str]) -> list[str]:
    if not values:
        raise HubError("name at least one product", field="productGtins")
    return sorted({normalize_gtin(v, field=f"productGtins[{i}]") for i, v in enumerate(values)})


@strawberry.type
class SalesQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="The sales channels your firm may sell through: those it runs and those opened to it or its roles",
    )
    async def sales_channels(self, info: Info, first: int = 20, after: str | None = None) -> Connection[SalesChannel]:
        check_page_size(first, info.context.max_page_size)
        principal, decision = info.context.require_decision()
        graph = info.context.graph
        roles = sorted(decision.firm_roles)
        rows = await channels.list_channels(
            graph, decision.viewer, firm_roles=roles, after=decode_cursor("channel", after), limit=first + 1
        )
        return build_connection(
            [SalesChannel.from_record(row, viewer_firm_id=principal.firm_id) for row in rows],
            kind="channel",
            key=lambda channel: str(channel.id),
            first=first,
            after=after,
            count=lambda: channels.count_channels(graph, decision.viewer, firm_roles=roles),
        )

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Sales figures per channel and product: yours, those of channels you run, and those of sellers "
        "sharing SALES with you (records at DETAIL, totals per channel and product at SUMMARY)",
    )
    async def sales_figures(
        self,
        info: Info,
        channel_id: strawberry.ID | None = None,
        product_gtin: str | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
    ) -> list[SalesFigure]:
        return await read_sales(
            info,
            channel_id=str(channel_id) if channel_id is not None else None,
            product_gtin=product_gtin,
            day_from=day_from,
            day_to=day_to,
        )


@strawberry.type
class SalesMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Create (or rename) a sales channel your firm runs (RETAILER or MARKETER; admin or editor)",
    )
    async def create_sales_channel(self, info: Info, input: SalesChannelInput) -> SalesChannel:
        principal, decision = info.context.require_decision()
        require_channel_operator(principal, decision, what="run sales channels")
        record = parse_record(
            SalesChannelRecord,
            {
                "id": str(input.id) if input.id is not None else f"channel-{uuid.uuid4()}",
                "operatorFirmId": principal.firm_id,
                "name": input.name,
                "kind": input.kind.value,
                "storeGlns": input.store_glns,
            },
            path="input",
        )
        await channels.create_channel(info.context.graph, record.row())
        return await _channel(info, record.id)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Open a channel you run to member firms and to every firm of some roles",
    )
    async def open_sales_channel(self, info: Info, input: ChannelOpeningInput) -> SalesChannel:
        principal, decision = info.context.require_decision()
        require_channel_operator(principal, decision, what="open sales channels")
        if not input.firm_ids and not input.roles:
            raise HubError("name firmIds, roles or both", field="input")
        await channels.open_channel(
            info.context.graph,
            channel_id=str(input.channel_id),
            operator_firm_id=principal.firm_id,
            firm_ids=sorted({str(f) for f in input.firm_ids}),
            roles=sorted({r.value for r in input.roles}),
        )
        return await _channel(info, str(input.channel_id))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Close a channel you run to firms and roles; their listings there are taken down",
    )
    async def close_sales_channel(self, info: Info, input: ChannelOpeningInput) -> SalesChannel:
        principal, decision = info.context.require_decision()
        require_channel_operator(principal, decision, what="close sales channels")
        await channels.close_channel(
            info.context.graph,
            channel_id=str(input.channel_id),
            operator_firm_id=principal.firm_id,
            firm_ids=sorted({str(f) for f in input.firm_ids}),
            roles=sorted({r.value for r in input.roles}),
        )
        return await _channel(info, str(input.channel_id))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="List products your firm owns the brand of or makes on a channel it may sell through",
    )
    async def list_products(self, info: Info, channel_id: strawberry.ID, product_gtins: list[str]) -> SalesChannel:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="list products")
        gtins = _gtins(product_gtins)
        await channels.list_products(
            info.context.graph, firm_id=principal.firm_id, channel_id=str(channel_id), gtins=gtins
        )
        return await _channel(info, str(channel_id))

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Take your firm's listings off a channel")
    async def unlist_products(self, info: Info, channel_id: strawberry.ID, product_gtins: list[str]) -> SalesChannel:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="unlist products")
        await channels.unlist_products(
            info.context.graph, firm_id=principal.firm_id, channel_id=str(channel_id), gtins=_gtins(product_gtins)
        )
        return await _channel(info, str(channel_id))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Record sales figures (all or none); a figure for the same seller, channel, product, day and "
        "store replaces the earlier one. Returns how many were written",
    )
    async def record_sales(self, info: Info, input: list[SaleInput]) -> int:
        principal, _ = info.context.require_principal()
        require_editor(principal, firm_id=principal.firm_id, what="record sales")
        if not input or len(input) > MAX_BATCH:
            raise HubError(f"send 1 to {MAX_BATCH} figures", field="input")
        records = parse_records(
            channels.SaleRecord,
            [
                {
                    "channelId": str(item.channel_id),
                    "sellerFirmId": str(item.seller_firm_id) if item.seller_firm_id else principal.firm_id,
                    "productGtin": item.product_gtin,
                    "day": item.day,
                    "quantity": item.quantity,
                    "uom": item.uom,
                    "amount": item.amount,
                    "currency": item.currency,
                    "storeGln": item.store_gln,
                }
                for item in input
            ],
            path="input",
        )
        return await channels.record_sales(
            info.context.graph, records, recorder_firm_id=principal.firm_id, now=datetime.now(UTC)
        )
