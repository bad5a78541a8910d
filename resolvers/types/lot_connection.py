"""LotConnection: a page of lots (Relay) with the count and the quantities of every lot that matches.

``Query.lots`` and ``Firm.lots`` answer it. The page itself is read only when edges or pageInfo are asked for:
``firms { edges { node { lots { totalCount quantities { ... } } } } }`` is one count and one sum per firm, not
twenty lots per firm fetched and thrown away. totalCount and quantities count only the lots the viewer may see
(the lot list's rule, graph_schema/lot_filters.py), so a count never tells what the list would hide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import strawberry
from strawberry.types.nodes import SelectedField

from graph_schema import lot_filters as lot_lists
from graph_schema.db import Row
from graph_schema.lot_filters import LotFilter, LotSort
from resolvers.context import Context, Info
from resolvers.types.connection import Connection, build_connection, check_page_size
from resolvers.types.lot import Lot
from resolvers.types.lot_list import decode_lot_cursor, lot_cursor_key, lot_cursor_kind
from resolvers.types.trace import ProductQuantity

# fields of the connection that need no page of lots
_WITHOUT_PAGE: Final = frozenset({"totalCount", "quantities", "__typename"})


@strawberry.type(description="A page of lots, with the count and the quantities of every lot that matches")
class LotConnection(Connection[Lot]):
    _quantities: strawberry.Private[Callable[[], Awaitable[list[Row]]]]
    _context: strawberry.Private[Context]

    @strawberry.field(
        description="The quantities of every lot you may see that matches (not only this page), summed per product "
        "and unit of measure"
    )
    async def quantities(self) -> list[ProductQuantity]:
        rows = await self._quantities()
        self._context.note_access(row["owner"] for row in rows for _ in range(row["lotCount"]))
        return [
            ProductQuantity(
                product_gtin=total["productGtin"],
                uom=total["uom"],
                quantity=total["quantity"],
                lot_count=total["lotCount"],
            )
            for total in lot_lists.sum_quantities(rows)
        ]


def needs_page(info: Info) -> bool:
    """Whether the connection's selection asks for edges or pageInfo (or anything it cannot tell apart)."""
    for selected in info.selected_fields:
        for selection in selected.selections:
            if not isinstance(selection, SelectedField) or selection.directives:
                return True
            if selection.name not in _WITHOUT_PAGE:
                return True
    return False


async def lot_connection(
    info: Info, *, where: LotFilter, sort: LotSort, first: int, after: str | None
) -> LotConnection:
    """The lots the viewer may see with these filters, as a connection; the page's lots noted for the access log."""
    context = info.context
    check_page_size(first, context.max_page_size)
    _, viewer = context.require_principal()
    graph = context.graph
    kind = lot_cursor_kind(sort)
    cursor = decode_lot_cursor(kind, after)
    rows: list[Row] = []
    if needs_page(info):
        rows = await lot_lists.list_lots(graph, viewer, where=where, sort=sort, after=cursor, limit=first + 1)
        context.note_access(row["lot"]["ownerFirmId"] for row in rows[:first])
    keys = {row["lot"]["id"]: lot_cursor_key(sort, row["sortKey"], row["lot"]["id"]) for row in rows}
    page = build_connection(
        [Lot.from_record(row["lot"]) for row in rows],
        kind=kind,
        key=lambda lot: keys[str(lot.id)],
        first=first,
        after=after,
        count=lambda: lot_lists.count_lots(graph, viewer, where=where),
    )
    return LotConnection(
        edges=page.edges,
        page_info=page.page_info,
        _count=page._count,
        _quantities=lambda: lot_lists.lot_quantities(graph, viewer, where=where),
        _context=context,
    )
