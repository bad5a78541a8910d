"""The lot list: the lots a viewer may see, filtered and sorted inside each visibility lookup.

A viewer may list the lots of firms it sees in detail, the lots shipped to it, and the lots in the trace of
an open recall it coordinates or oversees (the rule of LOT_IN_DETAIL, as three lookups). Each filter given is
written into each lookup (one query text per combination of filters and sort, built once and kept), so the
planner starts from the filter's index (a lot number, a status, a production date, a site's or a product's
lots) instead of reading every lot of the viewer's firm; each lookup takes its first page in sort order, then
the page is the first of those. A page is keyed on (sort key, id): a cursor names the last lot's pair.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Final, LiteralString

from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.lots import LOT_FIELDS_AS_TEXT


class LotSort(StrEnum):
    """The orders a lot list can be read in; ties (and ID) by LGTIN."""

    ID = "ID"
    LOT_NUMBER = "LOT_NUMBER"
    PRODUCED_AT = "PRODUCED_AT"  # earliest first; lots without a production time first
    PRODUCED_AT_DESC = "PRODUCED_AT_DESC"  # latest first


# The sort key of lot ``l`` (a string or an integer, never null, so that keyset comparisons hold).
_SORT_KEY: Final[dict[LotSort, LiteralString]] = {
    LotSort.ID: "l.id",
    LotSort.LOT_NUMBER: "coalesce(l.lotNumber, '')",
    LotSort.PRODUCED_AT: "coalesce(l.producedAt.epochMillis, -9223372036854775808)",
    LotSort.PRODUCED_AT_DESC: "coalesce(l.producedAt.epochMillis, -9223372036854775808)",
}


@dataclass(frozen=True)
class LotFilter:
    """Filters of the lot list; None means not filtered. ``lot_number`` is exact, ``lot_number_prefix`` a prefix."""

    product_gtin: str | None = None
    site_gln: str | None = None
    owner_firm_id: str | None = None
    lot_number: str | None = None
    lot_number_prefix: str | None = None
    status: str | None = None
    produced_from: datetime | None = None  # inclusive
    produced_to: datetime | None = None  # exclusive

    def given(self) -> tuple[str, ...]:
        """The names of the filters given, in declaration order (the key of the query text)."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    def params(self) -> dict[str, Any]:
        """The query parameters of the filters."""
        return {
            "productGtin": self.product_gtin,
            "siteGln": self.site_gln,
            "ownerFirmId": self.owner_firm_id,
            "lotNumber": self.lot_number,
            "lotNumberPrefix": self.lot_number_prefix,
            "status": self.status,
            "producedFrom": self.produced_from,
            "producedTo": self.produced_to,
        }


_FILTER_TEXT: Final[dict[str, LiteralString]] = {
    "product_gtin": " AND l.productGtin = $productGtin",
    "site_gln": " AND l.siteGln = $siteGln",
    "owner_firm_id": " AND l.ownerFirmId = $ownerFirmId",
    "lot_number": " AND l.lotNumber = $lotNumber",
    "lot_number_prefix": " AND l.lotNumber STARTS WITH $lotNumberPrefix",
    "status": " AND l.status = $status",
    "produced_from": " AND l.producedAt >= $producedFrom",
    "produced_to": " AND l.producedAt < $producedTo",
}

_LOT_LOOKUPS: Final = (
    "MATCH (l:Lot) WHERE l.ownerFirmId IN $detailFirms",
    "MATCH (:Shipment {toFirmId: $viewerFirm})-[:CARRIES]->(l:Lot) WHERE true",
    "MATCH (r:Recall)-[:AFFECTS]->(l:Lot) WHERE r.id IN $recalls",
)


def _filters(given: tuple[str, ...]) -> LiteralString:
    text: LiteralString = ""
    for name in _FILTER_TEXT:
        if name in given:
            text += _FILTER_TEXT[name]
    return text


def _page(sort: LotSort) -> tuple[LiteralString, LiteralString]:
    """The keyset condition after the cursor and the ORDER BY of a page in ``sort`` order."""
    if sort is LotSort.ID:
        return " AND ($afterId IS NULL OR l.id > $afterId)", "l.id"
    if sort is LotSort.PRODUCED_AT_DESC:
        return (
            " WITH DISTINCT l, " + _SORT_KEY[sort] + " AS k"
            " WHERE $afterId IS NULL OR k < $afterKey OR (k = $afterKey AND l.id < $afterId)",
            "k DESC, l.id DESC",
        )
    return (
        " WITH DISTINCT l, " + _SORT_KEY[sort] + " AS k"
        " WHERE $afterId IS NULL OR k > $afterKey OR (k = $afterKey AND l.id > $afterId)",
        "k, l.id",
    )


@cache
def list_lots_query(given: tuple[str, ...], sort: LotSort) -> LiteralString:
    """The page query for one combination of filters and one sort (built from constants only)."""
    return list_lots_page(given, sort) + "\nRETURN k AS sortKey, " + LOT_FIELDS_AS_TEXT + " AS lot"


@cache
def list_lots_page(given: tuple[str, ...], sort: LotSort) -> LiteralString:
    """The page's lots ``l`` with their sort keys ``k``, in order, for a query to return as it needs."""
    after, order = _page(sort)
    key = _SORT_KEY[sort]
    branches: list[LiteralString] = []
    for lookup in _LOT_LOOKUPS:
        branches.append(
            lookup
            + _filters(given)
            + after
            + " WITH DISTINCT l, "
            + key
            + " AS k ORDER BY "
            + order
            + " LIMIT $limit RETURN l, k"
        )
    return "CALL () {\n  " + "\n  UNION\n  ".join(branches) + "\n}\nWITH l, k ORDER BY " + order + " LIMIT $limit"


@cache
def count_lots_query(given: tuple[str, ...]) -> LiteralString:
    """The count query for one combination of filters."""
    branches = [lookup + _filters(given) + " RETURN l" for lookup in _LOT_LOOKUPS]
    return "CALL () {\n  " + "\n  UNION\n  ".join(branches) + "\n}\nRETURN count(l) AS total"


async def list_lots(
    graph: Graph,
    viewer: Viewer,
    *,
    where: LotFilter,
    sort: LotSort = LotSort.ID,
    after: tuple[Any, str] | None,
    limit: int,
) -> list[Row]:
    """A page of the lots the viewer may see, each row {sortKey, lot}; ``after`` is the last (sort key, id)."""
    after_key, after_id = after if after is not None else (None, None)
    params = {"afterKey": after_key, "afterId": after_id, "limit": limit, **where.params(), **viewer.params()}
    return await graph.read(list_lots_query(where.given(), sort), params)


async def count_lots(graph: Graph, viewer: Viewer, *, where: LotFilter) -> int:
    """How many lots the viewer may see with these filters."""
    params = {**where.params(), **viewer.params()}
    return int((await graph.read(count_lots_query(where.given()), params))[0]["total"])
