"""Upstream and downstream trace over distinct lots, with redaction decided inside the query.

Lots are linked through transformations: (:Lot)-[:CONSUMED_BY]->(:Transformation)-[:PRODUCED]->(:Lot), so a
lot's depth is half the length of the shortest path to it. ``ANY SHORTEST`` with an open end node plans as
one breadth-first expansion from the origin (StatefulShortestPath) that reaches each lot once, at its
shortest depth: a DAG with many paths between the same lots does not enumerate them. (A plain
variable-length pattern with ``min(length(p))`` would enumerate every path; its plan says VarLengthExpand(All).)
Shipments do not change a lot's identity; the shipments of every reached lot come back with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final, LiteralString

from graph_schema.access import (
    LOT_IN_DETAIL,
    SHIPMENT_IN_DETAIL,
    Viewer,
    deviation_in_detail,
    firm_in_detail,
    firm_in_summary,
    lot_in_detail,
)
from graph_schema.db import Graph, Row
from graph_schema.errors import BAD_USER_INPUT, HubError, NotFound
from graph_schema.lots import LOT_FIELDS, SHIPMENT_FIELDS
from graph_schema.model import TraceDirection

MAX_DEPTH: Final = 50

# Every distinct lot reached from lot $lotId with its shortest depth, the origin at depth 0: one breadth-first
# expansion (PATTERN is put in per direction). The trace and the FSMA 204 export both start from this reach.
REACH_TEMPLATE: Final = """
MATCH (o:Lot {id: $lotId})
CALL (o) {
  RETURN o AS l, 0 AS depth
  UNION
  MATCH p = ANY SHORTEST (o)PATTERN(l:Lot)
  RETURN l, length(p) / 2 AS depth
}
"""

# One record holding every row, in order: the driver reads and decodes a record message by message, two socket
# reads each (a task apiece on Python 3.11's asyncio), so 10,000 rows cost 20,000 reads where one list costs a
# read per 64 KiB chunk and one decoding call. The sort makes the server hold every row anyway.
# What depends only on a lot's owner is decided once per owner firm, not once per lot: the reached lots are grouped
# by owner (a hash aggregation), the owner's role read with one index seek and its visibility tested once
# (firm_in_detail, firm_in_summary); a 10,000-lot trace of one firm paid 10,000 firm seeks and IN tests before. Then
# one walk of each lot's incoming relationships finds both its shipments and the deviations it was made during
# (CARRIES|DURING), where two walks of the same relationship chain were made before. The plan is asserted in
# tests/integration/test_trace_plan.py.
_TRACE_HEAD: Final = (
    REACH_TEMPLATE
    + """WITH l.ownerFirmId AS owner, collect({l: l, depth: depth}) AS owned
OPTIONAL MATCH (f:Firm {id: owner})
WITH head(f.roles) AS ownerRole, """
    + firm_in_detail("owner")
    + """ AS ownerShown, """
    + firm_in_summary("owner")
    + """ AS ownerSummarised, owned
UNWIND owned AS reached
WITH reached.l AS l, reached.depth AS depth, ownerRole, ownerShown, ownerSummarised
WITH l, depth, ownerRole, ownerSummarised, """
    + lot_in_detail(owner_in_detail="ownerShown")
    + """ AS visible
"""
)

# A lot's and a shipment's fields as the trace may return them (graph_schema.lots' LOT_FIELDS and SHIPMENT_FIELDS,
# temporal values as text as graph_schema.lots explains), by key: a projection names the ones its answer reads.
_LOT_FIELD_TEXT: Final = {
    "id": "id: l.id",
    "lotNumber": "lotNumber: l.lotNumber",
    "productGtin": "productGtin: l.productGtin",
    "ownerFirmId": "ownerFirmId: l.ownerFirmId",
    "siteGln": "siteGln: l.siteGln",
    "quantity": "quantity: l.quantity",
    "uom": "uom: l.uom",
    "producedAt": "producedAt: toString(l.producedAt)",
    "expiresAt": "expiresAt: toString(l.expiresAt)",
    "status": "status: l.status",
}
_SHIPMENT_FIELD_TEXT: Final = {
    "id": "id: sh.id",
    "lotId": "lotId: l.id",
    "fromGln": "fromGln: sh.fromGln",
    "toGln": "toGln: sh.toGln",
    "fromFirmId": "fromFirmId: sh.fromFirmId",
    "toFirmId": "toFirmId: sh.toFirmId",
    "shippedAt": "shippedAt: toString(sh.shippedAt)",
    "receivedAt": "receivedAt: toString(sh.receivedAt)",
    "docType": "docType: sh.docType",
    "docNumber": "docNumber: sh.docNumber",
    "quantity": "quantity: c.quantity",
    "uom": "uom: c.uom",
}
if set(_LOT_FIELD_TEXT) != set(re.findall(r"\.(\w+)", LOT_FIELDS)) or set(_SHIPMENT_FIELD_TEXT) != set(
    re.findall(r"(\w+):", SHIPMENT_FIELDS)
):  # pragma: no cover
    raise RuntimeError("LOT_FIELDS or SHIPMENT_FIELDS changed: the trace's fields must name the same")
# what the trace's rows always hold of a lot shown and of a shipment shown: its id, and the firm noted for the access
# log (resolvers.query.read_trace_rows)
LOT_KEYS_ALWAYS: Final = frozenset({"id", "ownerFirmId"})
SHIPMENT_KEYS_ALWAYS: Final = frozenset({"id", "fromFirmId"})


@dataclass(frozen=True)
class TraceProjection:
    """What of each reached lot the trace returns, for answers that read only part of it (a compiled GraphQL
    selection): the visibility of every lot, shipment and deviation is decided the same whatever is returned.

    ``lot_fields`` and ``shipment_fields`` name keys of the full rows' maps (the ids and the firms the access log
    notes are always returned); ``shipments`` False leaves every row's shipments empty, ``deviations`` False its
    madeDuringDeviation false, ``aggregate`` False its aggregate null, ``owner_role`` False its ownerRole null."""

    lot_fields: frozenset[str] = frozenset(_LOT_FIELD_TEXT)
    shipment_fields: frozenset[str] = frozenset(_SHIPMENT_FIELD_TEXT)
    shipments: bool = True
    deviations: bool = True
    aggregate: bool = True
    owner_role: bool = True

    def __post_init__(self) -> None:
        unknown = (self.lot_fields - _LOT_FIELD_TEXT.keys()) | (self.shipment_fields - _SHIPMENT_FIELD_TEXT.keys())
        if unknown:
            raise ValueError(f"not a field of the trace's lots or shipments: {sorted(unknown)}")


FULL: Final = TraceProjection()


def _map(fields: dict[str, str], keys: frozenset[str]) -> str:
    return "{" + ", ".join(text for key, text in fields.items() if key in keys) + "}"


def _trace_template(projection: TraceProjection) -> str:
    lot_map = _map(_LOT_FIELD_TEXT, projection.lot_fields | LOT_KEYS_ALWAYS)
    shipment_map = _map(_SHIPMENT_FIELD_TEXT, projection.shipment_fields | SHIPMENT_KEYS_ALWAYS)
    shipment = f"CASE WHEN visible AND {SHIPMENT_IN_DETAIL} THEN {shipment_map} ELSE {{hiddenRef: elementId(sh)}} END"
    made_during = (
        f"EXISTS {{ MATCH (sh)<-[:HAS_DEVIATION]-(ccp:CCP) WHERE {deviation_in_detail(ccp='ccp', deviation='sh')} }}"
    )
    if projection.shipments and projection.deviations:
        incoming = f"""COLLECT {{
  MATCH (l)<-[c:CARRIES|DURING]-(sh)
  WHERE CASE type(c) WHEN 'CARRIES' THEN sh:Shipment ELSE sh:Deviation END
  RETURN CASE type(c)
    WHEN 'CARRIES' THEN {shipment}
    ELSE {{deviation: visible AND {made_during}}}
  END
}} AS incoming
"""
        made = "any(e IN incoming WHERE e.deviation IS NOT NULL AND e.deviation)"
        shipments = "[e IN incoming WHERE e.deviation IS NULL]"
    elif projection.shipments:
        incoming = f"COLLECT {{ MATCH (l)<-[c:CARRIES]-(sh:Shipment) RETURN {shipment} }} AS incoming\n"
        made, shipments = "false", "incoming"
    elif projection.deviations:
        incoming = f"visible AND EXISTS {{ MATCH (l)<-[:DURING]-(sh:Deviation) WHERE {made_during} }} AS incoming\n"
        made, shipments = "incoming", "[]"
    else:
        incoming = "null AS incoming\n"
        made, shipments = "false", "[]"
    aggregate = (
        "CASE WHEN NOT visible AND ownerSummarised"
        " THEN {productGtin: l.productGtin, uom: l.uom, quantity: l.quantity} END"
        if projection.aggregate
        else "null"
    )
    return (
        _TRACE_HEAD
        + "WITH l, depth, ownerRole, ownerSummarised, visible, "
        + incoming
        + f"""ORDER BY depth, l.id
RETURN collect({{
  depth: depth,
  lot: CASE WHEN visible THEN {lot_map} END,
  hiddenRef: CASE WHEN visible THEN null ELSE elementId(l) END,
  aggregate: {aggregate},
  ownerRole: {"ownerRole" if projection.owner_role else "null"},
  madeDuringDeviation: {made},
  shipments: {shipments}
}}) AS rows
"""
    )


@cache
def trace_query(direction: TraceDirection, max_depth: int, projection: TraceProjection = FULL) -> LiteralString:
    """The trace Cypher for one direction and depth bound, returning what ``projection`` names.

    Cypher takes no parameters in a variable-length bound, so the bound (an int checked to lie in
    1..MAX_DEPTH) is written into the text; everything else is a parameter.
    """
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"max_depth must lie in 1..{MAX_DEPTH}")
    hops = 2 * max_depth
    if direction is TraceDirection.DOWNSTREAM:
        pattern = f"-[:CONSUMED_BY|PRODUCED]->{{2,{hops}}}"
    else:
        pattern = f"<-[:CONSUMED_BY|PRODUCED]-{{2,{hops}}}"
    return _trace_template(projection).replace("PATTERN", pattern)


async def trace(
    graph: Graph,
    viewer: Viewer,
    *,
    lot_id: str,
    direction: TraceDirection,
    max_depth: int,
    projection: TraceProjection = FULL,
) -> list[Row]:
    """Every distinct lot reached from ``lot_id`` within ``max_depth`` transformations, redacted per viewer.

    Rows come origin first, by depth: ``depth``, ``lot`` (None when hidden), ``hiddenRef`` (an internal
    reference to derive an opaque id from, when hidden), ``aggregate`` (product, unit and quantity of a hidden
    lot whose owner shares TRACE at SUMMARY level), ``ownerRole``, ``madeDuringDeviation`` (the lot was produced
    during a CCP deviation the viewer may see in detail; false when hidden) and ``shipments``; ``projection`` may
    leave out what the caller does not read.
    """
    if not 1 <= max_depth <= MAX_DEPTH:
        raise HubError(
            f"maxDepth must lie between 1 and {MAX_DEPTH}, got {max_depth}", field="maxDepth", code=BAD_USER_INPUT
        )
    # maps and values only: read_maps skips the per-value conversion (a tenth of a 10,000-lot trace)
    [record] = await graph.read_maps(
        trace_query(direction, max_depth, projection), {"lotId": lot_id, **viewer.params()}
    )
    rows: list[Row] = record["rows"]
    if not rows or rows[0]["lot"] is None:
        # An unknown lot and a lot the caller may not see answer alike, so lot codes cannot be probed.
        raise NotFound(f"lot {lot_id} is not recorded, or not visible to your firm", field="lotId")
    return rows


# The transformation steps among the lots a trace reaches: input -> output pairs (material flow, whatever the
# trace's direction), each end as the trace shows it (its id when the viewer sees the lot in detail, else an
# internal reference to derive the same opaque id from). The trace's rows say which lots; these say how they join.
_LINKS_TEMPLATE: Final = (
    REACH_TEMPLATE
    + """WITH l, """
    + LOT_IN_DETAIL
    + """ AS visible
WITH collect(l) AS reached, collect(CASE WHEN visible THEN l END) AS shown
UNWIND reached AS a
MATCH (a)-[:CONSUMED_BY]->(:Transformation)-[:PRODUCED]->(b:Lot)
WHERE b IN reached
WITH DISTINCT a, b, shown
RETURN collect({
  input: CASE WHEN a IN shown THEN a.id END,
  inputRef: CASE WHEN a IN shown THEN null ELSE elementId(a) END,
  output: CASE WHEN b IN shown THEN b.id END,
  outputRef: CASE WHEN b IN shown THEN null ELSE elementId(b) END
}) AS links
"""
)


@cache
def trace_links_query(direction: TraceDirection, max_depth: int) -> LiteralString:
    """The Cypher of a trace's links for one direction and depth bound (the reach as ``trace_query`` has it)."""
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"max_depth must lie in 1..{MAX_DEPTH}")
    hops = 2 * max_depth
    arrow = "-[:CONSUMED_BY|PRODUCED]->" if direction is TraceDirection.DOWNSTREAM else "<-[:CONSUMED_BY|PRODUCED]-"
    return _LINKS_TEMPLATE.replace("PATTERN", f"{arrow}{{2,{hops}}}")


async def trace_links(
    graph: Graph, viewer: Viewer, *, lot_id: str, direction: TraceDirection, max_depth: int
) -> list[Row]:
    """The input -> output steps among the lots the same trace reaches: ``input``/``output`` (lot ids, None
    when hidden) and ``inputRef``/``outputRef`` (internal references of hidden lots, for their opaque ids)."""
    if not 1 <= max_depth <= MAX_DEPTH:
        raise HubError(
            f"maxDepth must lie between 1 and {MAX_DEPTH}, got {max_depth}", field="maxDepth", code=BAD_USER_INPUT
        )
    [record] = await graph.read_maps(trace_links_query(direction, max_depth), {"lotId": lot_id, **viewer.params()})
    links: list[Row] = record["links"]
    return links
