"""The shipment list: lot movements (a shipment and one lot it carried) a viewer may see, filtered in Cypher.

A viewer sees a shipment it is party to, one of a shipper whose trace it sees in detail, or one that carried a
lot of an open recall it coordinates or oversees (SHIPMENT_IN_DETAIL, as three lookups). As for lots, each
filter is written into each lookup (one query text per combination), so the planner starts from the filter's
index (a site, a firm, a shipping date, a lot) rather than from every shipment of the viewer. Newest first,
keyed on (shippedAt, shipment id, lot id), all descending.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any, Final, LiteralString

from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.lots import SHIPMENT_FIELDS_AS_TEXT


@dataclass(frozen=True)
class ShipmentFilter:
    """Filters of the shipment list; None means not filtered."""

    from_gln: str | None = None
    to_gln: str | None = None
    from_firm_id: str | None = None
    to_firm_id: str | None = None
    lot_id: str | None = None
    shipped_from: datetime | None = None  # inclusive
    shipped_to: datetime | None = None  # exclusive

    def given(self) -> tuple[str, ...]:
        """The names of the filters given (the key of the query text)."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    def params(self) -> dict[str, Any]:
        """The query parameters of the filters."""
        return {
            "fromGln": self.from_gln,
            "toGln": self.to_gln,
            "fromFirmId": self.from_firm_id,
            "toFirmId": self.to_firm_id,
            "lotId": self.lot_id,
            "shippedFrom": self.shipped_from,
            "shippedTo": self.shipped_to,
        }


_FILTER_TEXT: Final[dict[str, LiteralString]] = {
    "from_gln": " AND sh.fromGln = $fromGln",
    "to_gln": " AND sh.toGln = $toGln",
    "from_firm_id": " AND sh.fromFirmId = $fromFirmId",
    "to_firm_id": " AND sh.toFirmId = $toFirmId",
    "lot_id": " AND l.id = $lotId",
    "shipped_from": " AND sh.shippedAt >= $shippedFrom",
    "shipped_to": " AND sh.shippedAt < $shippedTo",
}

_SHIPMENT_LOOKUPS: Final = (
    "MATCH (sh:Shipment)-[c:CARRIES]->(l:Lot) WHERE sh.fromFirmId IN $detailFirms",
    "MATCH (sh:Shipment {toFirmId: $viewerFirm})-[c:CARRIES]->(l:Lot) WHERE true",
    # two MATCH clauses: in one pattern the second CARRIES could not be the first (relationship uniqueness)
    "MATCH (r:Recall)-[:AFFECTS]->(:Lot)<-[:CARRIES]-(sh:Shipment) WHERE r.id IN $recalls"
    " MATCH (sh)-[c:CARRIES]->(l:Lot) WHERE true",
)

_KEY: Final = "coalesce(sh.shippedAt.epochMillis, -9223372036854775808)"
_AFTER: Final = (
    " WITH DISTINCT sh, c, l, " + _KEY + " AS k"
    " WHERE $afterKey IS NULL OR k < $afterKey OR (k = $afterKey AND"
    " (sh.id < $afterShipment OR (sh.id = $afterShipment AND l.id < $afterLot)))"
)
_ORDER: Final = " ORDER BY k DESC, sh.id DESC, l.id DESC"


def _filters(given: tuple[str, ...]) -> LiteralString:
    text: LiteralString = ""
    for name in _FILTER_TEXT:
        if name in given:
            text += _FILTER_TEXT[name]
    return text


@cache
def list_shipments_query(given: tuple[str, ...]) -> LiteralString:
    """The page query for one combination of filters (built from constants only)."""
    branches = [
        lookup + _filters(given) + _AFTER + " WITH sh, c, l, k" + _ORDER + " LIMIT $limit RETURN sh, c, l, k"
        for lookup in _SHIPMENT_LOOKUPS
    ]
    return (
        "CALL () {\n  "
        + "\n  UNION\n  ".join(branches)
        + "\n}\nWITH sh, c, l, k"
        + _ORDER
        + " LIMIT $limit\nRETURN [k, sh.id, l.id] AS sortKey, "
        + SHIPMENT_FIELDS_AS_TEXT
        + " AS shipment"
    )


@cache
def count_shipments_query(given: tuple[str, ...]) -> LiteralString:
    """The count query for one combination of filters."""
    branches = [lookup + _filters(given) + " RETURN sh, l" for lookup in _SHIPMENT_LOOKUPS]
    return "CALL () {\n  " + "\n  UNION\n  ".join(branches) + "\n}\nRETURN count(*) AS total"


async def list_shipments(
    graph: Graph, viewer: Viewer, *, where: ShipmentFilter, after: tuple[int, str, str] | None, limit: int
) -> list[Row]:
    """A page of lot movements the viewer may see, newest first: rows {sortKey, shipment}."""
    after_key, after_shipment, after_lot = after if after is not None else (None, None, None)
    params = {
        "afterKey": after_key,
        "afterShipment": after_shipment,
        "afterLot": after_lot,
        "limit": limit,
        **where.params(),
        **viewer.params(),
    }
    return await graph.read(list_shipments_query(where.given()), params)


async def count_shipments(graph: Graph, viewer: Viewer, *, where: ShipmentFilter) -> int:
    """How many lot movements the viewer may see with these filters."""
    params = {**where.params(), **viewer.params()}
    return int((await graph.read(count_shipments_query(where.given()), params))[0]["total"])
