"""Finding things: the recalls you may see, shipments by filter, a search by name, and node(id)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import strawberry

from graph_schema import recalls as recall_reads
from graph_schema import search as name_search
from graph_schema import shipment_filters
from graph_schema.errors import HubError
from graph_schema.identifiers import LGTIN_PREFIX, normalize_gtin, parse_lgtin, validate_gln
from graph_schema.search import MAX_SEARCH_TEXT, SearchKind
from resolvers.context import Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.firm import Firm, load_firm
from resolvers.types.lot import Lot
from resolvers.types.node import PRODUCT_ID_PREFIX, RECALL_ID_PREFIX, SITE_ID_PREFIX, Node
from resolvers.types.product import Product, load_product
from resolvers.types.recall import Recall
from resolvers.types.shipment import Shipment
from resolvers.types.site import Site, load_site

strawberry.enum(SearchKind)

RECALL_CURSOR = "recall"
SHIPMENT_CURSOR = "shipment"


@strawberry.type(description="A firm, site or product whose name matched a search, with Lucene's relevance score")
class SearchResult:
    kind: SearchKind
    score: float
    node: Node


def _json_cursor(kind: str, cursor: str | None, size: int) -> list[Any] | None:
    key = decode_cursor(kind, cursor)
    if key is None:
        return None
    try:
        parts = json.loads(key)
    except ValueError:
        parts = None
    if not isinstance(parts, list) or len(parts) != size or not isinstance(parts[0], int):
        raise HubError("cursor is not one this API gave out for this list", field="after")
    if not all(isinstance(part, str) for part in parts[1:]):
        raise HubError("cursor is not one this API gave out for this list", field="after")
    return parts


def _aware(value: datetime | None, *, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HubError(f"{field} needs a time zone offset, e.g. 2030-01-01T00:00:00+09:00", field=field)
    return value


def _firm_code(value: strawberry.ID | None, *, field: str) -> str | None:
    if value is not None and not 1 <= len(str(value)) <= 100:
        raise HubError(f"{field} must be 1 to 100 characters", field=field)
    return str(value) if value is not None else None


@strawberry.type
class FindingQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="The recalls you may see (coordinated by your firm, reaching lots your firm owns or received; "
        "the agency sees all), newest first; open true for open ones, false for closed ones",
    )
    async def recalls(
        self, info: Info, open: bool | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Recall]:
        check_page_size(first, info.context.max_page_size)
        _, decision = info.context.require_decision()
        graph = info.context.graph
        cursor = _json_cursor(RECALL_CURSOR, after, 2)
        rows = await recall_reads.list_recalls(
            graph,
            decision.viewer,
            overseer=decision.overseer,
            open_=open,
            after=(cursor[0], cursor[1]) if cursor else None,
            limit=first + 1,
        )
        keys = {row["recall"]["id"]: json.dumps([row["sortKey"], row["recall"]["id"]]) for row in rows}
        return build_connection(
            [Recall.from_record(row["recall"]) for row in rows],
            kind=RECALL_CURSOR,
            key=lambda recall: keys[str(recall.id)],
            first=first,
            after=after,
            count=lambda: recall_reads.count_recalls(graph, decision.viewer, overseer=decision.overseer, open_=open),
        )

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Lot movements you may see (a shipment and one lot it carried), newest first; shippedFrom "
        "inclusive, shippedTo exclusive",
    )
    async def shipments(
        self,
        info: Info,
        from_site_gln: str | None = None,
        to_site_gln: str | None = None,
        from_firm_id: strawberry.ID | None = None,
        to_firm_id: strawberry.ID | None = None,
        lot_id: strawberry.ID | None = None,
        shipped_from: datetime | None = None,
        shipped_to: datetime | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Shipment]:
        check_page_size(first, info.context.max_page_size)
        _, viewer = info.context.require_principal()
        graph = info.context.graph
        shipped_from = _aware(shipped_from, field="shippedFrom")
        shipped_to = _aware(shipped_to, field="shippedTo")
        if shipped_from is not None and shipped_to is not None and shipped_to <= shipped_from:
            raise HubError("shippedTo must be after shippedFrom", field="shippedTo")
        where = shipment_filters.ShipmentFilter(
            from_gln=validate_gln(from_site_gln, field="fromSiteGln") if from_site_gln is not None else None,
            to_gln=validate_gln(to_site_gln, field="toSiteGln") if to_site_gln is not None else None,
            from_firm_id=_firm_code(from_firm_id, field="fromFirmId"),
            to_firm_id=_firm_code(to_firm_id, field="toFirmId"),
            lot_id=parse_lgtin(str(lot_id), field="lotId").uri if lot_id is not None else None,
            shipped_from=shipped_from,
            shipped_to=shipped_to,
        )
        cursor = _json_cursor(SHIPMENT_CURSOR, after, 3)
        rows = await shipment_filters.list_shipments(
            graph,
            viewer,
            where=where,
            after=(cursor[0], cursor[1], cursor[2]) if cursor else None,
            limit=first + 1,
        )
        info.context.note_access(row["shipment"]["fromFirmId"] for row in rows[:first])
        nodes = [Shipment.from_record(row["shipment"]) for row in rows]
        keys = [json.dumps(row["sortKey"]) for row in rows]
        positions = {id(node): i for i, node in enumerate(nodes)}
        return build_connection(
            nodes,
            kind=SHIPMENT_CURSOR,
            key=lambda node: keys[positions[id(node)]],
            first=first,
            after=after,
            count=lambda: shipment_filters.count_shipments(graph, viewer, where=where),
        )

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Firms, sites and products by name, Korean or English (두부 finds 부침두부), best match first; "
        "kinds narrows the search (all three by default)",
    )
    async def search(
        self, info: Info, text: str, kinds: list[SearchKind] | None = None, first: int = 20
    ) -> list[SearchResult]:
        check_page_size(first, info.context.max_page_size)
        info.context.require_principal()
        if not text.strip() or len(text) > MAX_SEARCH_TEXT:
            raise HubError(f"text must be 1 to {MAX_SEARCH_TEXT} characters", field="text")
        rows = await name_search.search_names(
            info.context.graph, text=text, kinds=list(kinds) if kinds is not None else list(SearchKind), limit=first
        )
        nodes = await asyncio.gather(*(_profile(info, SearchKind(row["kind"]), row["key"]) for row in rows))
        return [
            SearchResult(kind=SearchKind(row["kind"]), score=float(row["score"]), node=node)
            for row, node in zip(rows, nodes, strict=True)
            if node is not None
        ]

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="A firm, site, product, lot or recall by its id (see Node); null when unknown or not yours to see",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        _, decision = info.context.require_decision()
        value = str(id)
        if value.startswith(SITE_ID_PREFIX):
            gln = value.removeprefix(SITE_ID_PREFIX)
            return await load_site(info, validate_gln(gln, field="id"))
        if value.startswith(PRODUCT_ID_PREFIX):
            gtin = value.removeprefix(PRODUCT_ID_PREFIX)
            return await load_product(info, normalize_gtin(gtin, field="id"))
        if value.startswith(LGTIN_PREFIX):
            row = await info.context.loaders.lot.load(parse_lgtin(value, field="id").uri)
            if row is None:
                return None
            info.context.note_access([row["ownerFirmId"]])
            return Lot.from_record(row)
        if value.startswith(RECALL_ID_PREFIX):
            recall = await recall_reads.get_recall(
                info.context.graph, decision.viewer, recall_id=value, overseer=decision.overseer
            )
            if recall is not None:
                return Recall.from_record(recall)
        return await load_firm(info, value)


async def _profile(info: Info, kind: SearchKind, key: str) -> Firm | Site | Product | None:
    if kind is SearchKind.FIRM:
        return await load_firm(info, key)
    if kind is SearchKind.SITE:
        return await load_site(info, key)
    return await load_product(info, key)
