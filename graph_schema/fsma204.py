"""FSMA 204 critical tracking events (CTEs) of a trace with their key data elements (KDEs), in one Cypher query.

The trace's reach (graph_schema/trace.py: ``ANY SHORTEST``, one breadth-first expansion reaching each lot
once) gives the lots; each reached lot then yields its CTE rows:
- its creation: TRANSFORMATION when a transformation produced it (one row per output lot, naming the input
  lots), else HARVESTING when it was made at a FARM site, else INITIAL_PACKING (where its lot code was
  first assigned);
- each shipment that carried it: SHIPPING at the origin site and, once received, RECEIVING at the
  destination, with the shipment's reference document.
Redaction is decided in the same query with the visibility predicates of graph_schema/access.py: a lot the
caller may not see in detail yields one row with only an internal reference (the caller's opaque id is
derived from it) and its depth, and a shipment the caller may not see yields a SHIPPING row without its
data; nothing else of theirs leaves the database. Rows come sorted by the database and are streamed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import cache
from typing import Final, LiteralString

from neo4j import READ_ACCESS
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from graph_schema.access import LOT_IN_DETAIL, SHIPMENT_IN_DETAIL, Viewer
from graph_schema.db import Graph, GraphUnavailable, Row
from graph_schema.errors import BAD_USER_INPUT, HubError, NotFound
from graph_schema.model import TraceDirection
from graph_schema.trace import MAX_DEPTH, REACH_TEMPLATE

HARVESTING: Final = "HARVESTING"
INITIAL_PACKING: Final = "INITIAL_PACKING"
TRANSFORMATION: Final = "TRANSFORMATION"
SHIPPING: Final = "SHIPPING"
RECEIVING: Final = "RECEIVING"

# A site as FSMA 204's "location description": its name, its firm's name and its region.
_DESCRIBE_SITE: Final = (
    "COLLECT { MATCH (s:Site {gln: GLN}) OPTIONAL MATCH (f:Firm {id: s.firmId})"
    " RETURN s.name + coalesce(', ' + CASE WHEN $lang = 'ko' THEN coalesce(f.nameKo, f.name) ELSE f.name END, '')"
    " + coalesce(', ' + s.region, '') }[0]"
)


def _site(gln: LiteralString) -> LiteralString:
    return _DESCRIBE_SITE.replace("GLN", gln)


_EXPORT_TEMPLATE: Final = (
    REACH_TEMPLATE
    + """WITH l, depth, """
    + LOT_IN_DETAIL
    + """ AS visible
CALL (l, visible) {
  OPTIONAL MATCH (t:Transformation)-[made:PRODUCED]->(l)
  CALL (t) {
    MATCH (l:Lot)-[:CONSUMED_BY]->(t)
    WITH l, """
    + LOT_IN_DETAIL
    + """ AS inputVisible
    ORDER BY l.id
    RETURN collect(CASE WHEN inputVisible THEN {tlc: '(01)' + l.productGtin + '(10)' + l.lotNumber, lotId: l.id}
                        ELSE {hiddenRef: elementId(l)} END) AS inputs
  }
  RETURN CASE WHEN t IS NOT NULL THEN 'TRANSFORMATION'
              WHEN COLLECT { MATCH (s:Site {gln: l.siteGln}) RETURN s.kind }[0] = 'FARM' THEN 'HARVESTING'
              ELSE 'INITIAL_PACKING' END AS cte,
         0 AS stage, visible AS shown, null AS shipmentRef, t.id AS eventId,
         coalesce(t.occurredAt, l.producedAt) AS eventDate,
         coalesce(made.quantity, l.quantity) AS quantity, coalesce(made.uom, l.uom) AS uom,
         coalesce(t.siteGln, l.siteGln) AS locationGln, null AS otherGln,
         null AS docType, null AS docNumber, inputs, l.ownerFirmId AS owner
  UNION ALL
  MATCH (l)<-[c:CARRIES]-(sh:Shipment)
  WITH c, sh, visible AND """
    + SHIPMENT_IN_DETAIL
    + """ AS shown
  UNWIND CASE WHEN shown AND sh.receivedAt IS NOT NULL THEN [1, 2] ELSE [1] END AS stage
  RETURN CASE stage WHEN 1 THEN 'SHIPPING' ELSE 'RECEIVING' END AS cte,
         stage, shown, elementId(sh) AS shipmentRef, sh.id AS eventId,
         CASE stage WHEN 1 THEN sh.shippedAt ELSE sh.receivedAt END AS eventDate,
         c.quantity AS quantity, c.uom AS uom,
         CASE stage WHEN 1 THEN sh.fromGln ELSE sh.toGln END AS locationGln,
         CASE stage WHEN 1 THEN sh.toGln ELSE sh.fromGln END AS otherGln,
         sh.docType AS docType, sh.docNumber AS docNumber, [] AS inputs,
         CASE stage WHEN 1 THEN sh.fromFirmId ELSE sh.toFirmId END AS owner
}
WITH l, depth, visible, cte, stage, shown, shipmentRef, eventId, eventDate, quantity, uom, locationGln, otherGln,
     docType, docNumber, inputs, owner,
     CASE WHEN visible THEN '(01)' + l.productGtin + '(10)' + l.lotNumber END AS tlc
RETURN CASE WHEN shown OR stage > 0 THEN cte END AS cte,
       stage, depth, NOT shown AS redacted,
       CASE WHEN visible THEN l.id END AS lotId,
       CASE WHEN visible THEN null ELSE elementId(l) END AS lotRef,
       CASE WHEN shown THEN null ELSE shipmentRef END AS shipmentRef,
       tlc,
       CASE WHEN visible THEN COLLECT { MATCH (p:Product {gtin: l.productGtin})
                                        RETURN CASE WHEN $lang = 'ko' THEN coalesce(p.nameKo, p.name) ELSE p.name END
                                      }[0] END AS product,
       CASE WHEN visible THEN l.siteGln END AS tlcSourceGln,
       CASE WHEN visible THEN """
    + _site("l.siteGln")
    + """ END AS tlcSource,
       CASE WHEN shown THEN eventId END AS eventId,
       CASE WHEN shown THEN eventDate END AS eventDate,
       CASE WHEN shown THEN quantity END AS quantity,
       CASE WHEN shown THEN uom END AS uom,
       CASE WHEN shown THEN locationGln END AS locationGln,
       CASE WHEN shown THEN """
    + _site("locationGln")
    + """ END AS location,
       CASE WHEN shown THEN otherGln END AS otherGln,
       CASE WHEN shown AND otherGln IS NOT NULL THEN """
    + _site("otherGln")
    + """ END AS other,
       CASE WHEN shown THEN docType END AS docType,
       CASE WHEN shown THEN docNumber END AS docNumber,
       CASE WHEN shown THEN inputs ELSE [] END AS inputs,
       CASE WHEN shown THEN owner END AS owner
ORDER BY SORT, depth, lotRef, shipmentRef
"""
)

# Orders a caller may ask for (``sort=``), each ending in ties broken by the next keys. Rows without a date
# (redacted ones) come last in ascending order.
SORTS: Final[dict[str, LiteralString]] = {
    "event_date": "eventDate, tlc, stage",
    "tlc": "tlc, eventDate, stage",
    "cte": "cte, eventDate, tlc, stage",
    "location": "locationGln, eventDate, tlc, stage",
    "depth": "depth, eventDate, tlc, stage",
}
_DESCENDING: Final[dict[str, LiteralString]] = {
    "event_date": "eventDate DESC, tlc DESC, stage DESC",
    "tlc": "tlc DESC, eventDate DESC, stage DESC",
    "cte": "cte DESC, eventDate DESC, tlc DESC, stage DESC",
    "location": "locationGln DESC, eventDate DESC, tlc DESC, stage DESC",
    "depth": "depth DESC, eventDate DESC, tlc DESC, stage DESC",
}


def parse_sort(value: str | None) -> tuple[str, bool]:
    """``event_date`` (the default), ``tlc``, ``cte``, ``location`` or ``depth``; a leading ``-`` sorts descending."""
    text = (value or "event_date").strip()
    descending = text.startswith("-")
    key = text.removeprefix("-")
    if key not in SORTS:
        raise HubError(f"sort must be one of {', '.join(SORTS)} (a leading '-' for descending)", field="sort")
    return key, descending


@cache
def export_query(
    direction: TraceDirection, max_depth: int, sort: str = "event_date", descending: bool = False
) -> LiteralString:
    """The export Cypher for one direction, depth bound and order (each a fixed choice written into the text)."""
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"max_depth must lie in 1..{MAX_DEPTH}")
    hops = 2 * max_depth
    if direction is TraceDirection.DOWNSTREAM:
        pattern = f"-[:CONSUMED_BY|PRODUCED]->{{2,{hops}}}"
    else:
        pattern = f"<-[:CONSUMED_BY|PRODUCED]-{{2,{hops}}}"
    order = (_DESCENDING if descending else SORTS)[sort]
    return _EXPORT_TEMPLATE.replace("PATTERN", pattern).replace("SORT", order)


LOT_VISIBILITY: Final = "MATCH (l:Lot {id: $lotId}) RETURN " + LOT_IN_DETAIL + " AS visible"


async def require_visible_lot(graph: Graph, viewer: Viewer, lot_id: str, *, field: str = "lot") -> None:
    """NOT_FOUND unless the viewer may see the lot in detail (an unknown lot answers the same)."""
    rows = await graph.read(LOT_VISIBILITY, {"lotId": lot_id, **viewer.params()})
    if not rows or not rows[0]["visible"]:
        raise NotFound(f"lot {lot_id} is not recorded, or not visible to your firm", field=field)


async def export_rows(
    graph: Graph,
    viewer: Viewer,
    *,
    lot_id: str,
    direction: TraceDirection,
    max_depth: int = 25,
    sort: str = "event_date",
    descending: bool = False,
    lang: str = "en",
) -> AsyncGenerator[Row, None]:
    """The CTE rows of the trace from ``lot_id``, streamed from the driver as the database sorts them.

    Each row: ``cte`` (None for a hidden lot), ``stage``, ``depth``, ``redacted``, ``lotId``, ``lotRef`` and
    ``shipmentRef`` (internal references of hidden records), ``tlc``, ``product``, ``tlcSource(Gln)``,
    ``eventId``, ``eventDate``, ``quantity``, ``uom``, ``location(Gln)``, ``other(Gln)`` (the next recipient
    of a shipping row, the previous source of a receiving row), ``docType``, ``docNumber``, ``inputs`` (of a
    transformation: ``{tlc, lotId}`` or ``{hiddenRef}``) and ``owner`` (whose record the row discloses).
    Check the origin with ``require_visible_lot`` first.
    """
    if not 1 <= max_depth <= MAX_DEPTH:
        raise HubError(
            f"maxDepth must lie between 1 and {MAX_DEPTH}, got {max_depth}", field="maxDepth", code=BAD_USER_INPUT
        )
    query = export_query(direction, max_depth, sort, descending)
    params = {"lotId": lot_id, "lang": lang, **viewer.params()}
    graph.round_trips += 1
    try:
        async with graph.driver.session(database=graph.database, default_access_mode=READ_ACCESS) as session:
            result = await session.run(query, params)
            async for record in result:
                yield record.data()
    except (ServiceUnavailable, SessionExpired) as error:
        raise GraphUnavailable("the graph database is not answering; try again shortly") from error
