"""The lot list: the lots a viewer may see, filtered and sorted, with their count and quantities.

A viewer may list the lots of firms it sees in detail, the lots shipped to it, and the lots in the trace of
an open recall it coordinates or oversees (LOT_IN_DETAIL). A list filtered by what names a small part of the graph
(a site's, a product's or a firm's lots, a lot number or its prefix) reads that part through its index and tests
each lot with LOT_IN_DETAIL itself, in order of the sort (a site's lots by LGTIN straight from the (siteGln, id)
index, so a page stops after its last lot). Other lists (no filter, or only a status or production dates) start
from the rule's three lookups, joined by UNION, with the filters written into each, each taking its first page
in sort order, then the page is the first of those. One query text per combination of filters and sort, built
once and kept. A page is keyed on (sort key, id): a cursor names the last lot's pair.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, Final, LiteralString

from graph_schema.access import LOT_IN_DETAIL, Viewer
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


# The filters as conditions on lot ``{l}`` whose parameter ``${p}<name>`` may be null (then not filtered): a list
# nested in another answer (Firm.lots, resolvers/compiled.py) takes the request's filters in one query text.
_OPTIONAL_FILTER_TEXT: Final[dict[str, str]] = {
    "productGtin": "{l}.productGtin = {v}",
    "siteGln": "{l}.siteGln = {v}",
    "ownerFirmId": "{l}.ownerFirmId = {v}",
    "lotNumber": "{l}.lotNumber = {v}",
    "lotNumberPrefix": "{l}.lotNumber STARTS WITH {v}",
    "status": "{l}.status = {v}",
    "producedFrom": "{l}.producedAt >= {v}",
    "producedTo": "{l}.producedAt < {v}",
}


def optional_filters(lot: str, prefix: str) -> str:
    """Cypher true when lot ``lot`` passes each filter of LotFilter.params() given as ``$<prefix><name>``."""
    return " AND ".join(
        f"(${prefix}{name} IS NULL OR {text.format(l=lot, v='$' + prefix + name)})"
        for name, text in _OPTIONAL_FILTER_TEXT.items()
    )


# Filters naming a small part of the graph, each read through its own index.
_ANCHORS: Final = frozenset({"product_gtin", "site_gln", "owner_firm_id", "lot_number", "lot_number_prefix"})


def _filters(given: tuple[str, ...]) -> LiteralString:
    text: LiteralString = ""
    for name in _FILTER_TEXT:
        if name in given:
            text += _FILTER_TEXT[name]
    return text


def _anchored(given: tuple[str, ...]) -> bool:
    return any(name in _ANCHORS for name in given)


def _page(sort: LotSort) -> tuple[LiteralString, LiteralString]:
    """The keyset condition after the cursor and the ORDER BY of a page in ``sort`` order."""
    if sort is LotSort.ID:
        # $afterId is '' on a first page (page_params): a range every LGTIN is in, so the planner may read an
        # index of (..., id) from the cursor on
        return " AND l.id > $afterId", "l.id"
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


def page_params(sort: LotSort, after: tuple[Any, str] | None, limit: int) -> dict[str, Any]:
    """The cursor's and the page size's parameters of a page query."""
    after_key, after_id = after if after is not None else (None, None)
    if sort is LotSort.ID and after_id is None:
        after_id = ""
    return {"afterKey": after_key, "afterId": after_id, "limit": limit}


@cache
def list_lots_query(given: tuple[str, ...], sort: LotSort) -> LiteralString:
    """The page query for one combination of filters and one sort (built from constants only)."""
    return list_lots_page(given, sort) + "\nRETURN k AS sortKey, " + LOT_FIELDS_AS_TEXT + " AS lot"


@cache
def list_lots_page(given: tuple[str, ...], sort: LotSort) -> LiteralString:
    """The page's lots ``l`` with their sort keys ``k``, in order, for a query to return as it needs."""
    after, order = _page(sort)
    key = _SORT_KEY[sort]
    if _anchored(given):
        if sort is LotSort.ID:
            # a site's lots read in the (siteGln, id) index's own order: the page ends at its last lot (the hint
            # because on a small or young store the planner may rather scan every LGTIN from the cursor on)
            site = "site_gln" in given
            by: LiteralString = "l.siteGln, l.id" if site else order
            hint: LiteralString = " USING INDEX l:Lot(siteGln, id)" if site else ""
            return (
                "MATCH (l:Lot)" + hint + " WHERE true" + _filters(given) + after + " AND " + LOT_IN_DETAIL
                + "\nWITH l, l.id AS k ORDER BY " + by + " LIMIT $limit"
            )  # fmt: skip
        return (
            "MATCH (l:Lot) WHERE true" + _filters(given) + " AND " + LOT_IN_DETAIL + after
            + "\nWITH l, k ORDER BY " + order + " LIMIT $limit"
        )  # fmt: skip
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
def visible_lots(given: tuple[str, ...]) -> LiteralString:
    """Every lot ``l`` the viewer may see with these filters, once each, for a query to count or sum."""
    if _anchored(given):
        return "MATCH (l:Lot) WHERE true" + _filters(given) + " AND " + LOT_IN_DETAIL
    branches = [lookup + _filters(given) + " RETURN l" for lookup in _LOT_LOOKUPS]
    return "CALL () {\n  " + "\n  UNION\n  ".join(branches) + "\n}"


@cache
def count_lots_query(given: tuple[str, ...]) -> LiteralString:
    """The count query for one combination of filters."""
    return visible_lots(given) + "\nRETURN count(l) AS total"


# The lots' quantities per owner, product and unit: an answer sums the owners' figures per product and unit
# (sum_quantities), and notes each owner's lots for the access log.
def quantity_rows(lot: str) -> str:
    """Cypher grouping lots ``lot`` into rows (owner, productGtin, uom, quantity, lotCount), in order."""
    return (
        f"\nWITH {lot}.ownerFirmId AS owner, {lot}.productGtin AS productGtin, {lot}.uom AS uom,"
        f" sum({lot}.quantity) AS quantity, count({lot}) AS lotCount ORDER BY productGtin, uom, owner"
    )


QUANTITY_ROWS: Final = quantity_rows("l")
QUANTITIES: Final = QUANTITY_ROWS + "\nRETURN owner, productGtin, uom, quantity, lotCount"


@cache
def lot_quantities_query(given: tuple[str, ...]) -> LiteralString:
    """The quantities query for one combination of filters."""
    return visible_lots(given) + QUANTITIES


def sum_quantities(rows: list[Row]) -> list[dict[str, Any]]:
    """Rows of lot_quantities_query as totals per product and unit (productGtin, uom, quantity, lotCount), in
    that order; quantities rounded to 6 decimals as a trace's summary rounds them."""
    totals: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        total = totals.setdefault((row["productGtin"], row["uom"]), [0.0, 0])
        total[0] += row["quantity"]
        total[1] += row["lotCount"]
    return [
        {"productGtin": gtin, "uom": uom, "quantity": round(quantity, 6), "lotCount": count}
        for (gtin, uom), (quantity, count) in totals.items()
    ]


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
    params = {**page_params(sort, after, limit), **where.params(), **viewer.params()}
    return await graph.read(list_lots_query(where.given(), sort), params)


async def count_lots(graph: Graph, viewer: Viewer, *, where: LotFilter) -> int:
    """How many lots the viewer may see with these filters."""
    params = {**where.params(), **viewer.params()}
    return int((await graph.read(count_lots_query(where.given()), params))[0]["total"])


async def lot_quantities(graph: Graph, viewer: Viewer, *, where: LotFilter) -> list[Row]:
    """The quantities of the lots the viewer may see with these filters, per owner, product and unit."""
    params = {**where.params(), **viewer.params()}
    return await graph.read(lot_quantities_query(where.given()), params)
