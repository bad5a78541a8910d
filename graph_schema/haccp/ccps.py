"""CCP definitions in the graph: registered by the plant's firm, read under the CCP scope's rules.

A CCP is ``(:Site)-[:HAS_CCP]->(:CCP {id, siteGln, firmId, code, name, hazard, limitLow, limitHigh, unit,
monitoringIntervalSeconds, devices, productGtins})``. ``firmId`` is the site's firm, copied onto the CCP so
that the visibility predicates (graph_schema.access.CCP_IN_DETAIL / CCP_IN_SUMMARY) test a property.
A device reports for one CCP only: the readings table keys on (device, time), so a device id names one
measurement stream across the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NoReturn

from graph_schema.access import CCP_IN_DETAIL, CCP_IN_SUMMARY, Viewer
from graph_schema.db import Graph, Row, checked_write
from graph_schema.errors import Conflict, Forbidden, NotFound
from graph_schema.records import CcpRecord

CCP_FIELDS: Final = (
    "c {.id, .siteGln, .firmId, .code, .name, .hazard, .limitLow, .limitHigh, .unit, .monitoringIntervalSeconds,"
    " devices: coalesce(c.devices, []), productGtins: coalesce(c.productGtins, [])}"
)

# One row per problem, in the order they are reported: the site, its firm, a device held by another CCP,
# a product that is not registered.
CHECK_REGISTRATION: Final = """
OPTIONAL MATCH (s:Site {gln: $row.siteGln})
CALL () {
  OPTIONAL MATCH (taken:CCP)
  WHERE taken.id <> $row.id AND size($row.devices) > 0 AND any(d IN coalesce(taken.devices, []) WHERE d IN $row.devices)
  RETURN collect(taken {.id, devices: [d IN taken.devices WHERE d IN $row.devices]})[0] AS taken
}
CALL () {
  UNWIND $row.productGtins AS gtin
  OPTIONAL MATCH (p:Product {gtin: gtin})
  WITH gtin, p WHERE p IS NULL
  RETURN collect(gtin)[0] AS missingProduct
}
WITH s, taken, missingProduct
WHERE s IS NULL OR s.firmId <> $firmId OR taken IS NOT NULL OR missingProduct IS NOT NULL
RETURN s IS NULL AS missingSite, s.firmId AS siteFirm, taken, missingProduct
"""

WRITE_REGISTRATION: Final = (
    """
MATCH (s:Site {gln: $row.siteGln})
MERGE (c:CCP {id: $row.id})
SET c.siteGln = s.gln, c.firmId = s.firmId, c.code = $row.code, c.name = $row.name, c.hazard = $row.hazard,
    c.limitLow = $row.limitLow, c.limitHigh = $row.limitHigh, c.unit = $row.unit,
    c.monitoringIntervalSeconds = $row.monitoringIntervalSeconds, c.devices = $row.devices,
    c.productGtins = $row.productGtins
MERGE (s)-[:HAS_CCP]->(c)
RETURN """
    + CCP_FIELDS
    + " AS ccp"
)


def ccp_id(site_gln: str, code: str) -> str:
    """A CCP's id: its site's GLN and its code, so registering the same code again updates it."""
    return f"{site_gln}-{code}"


async def register_ccp(graph: Graph, record: CcpRecord, *, firm_id: str) -> Row:
    """Register or update a CCP at one of ``firm_id``'s sites; its devices must not report for another CCP."""
    row = record.row()

    def reject(problem: Row) -> NoReturn:
        if problem["missingSite"]:
            raise NotFound(f"site {record.site_gln} is not registered", field="siteGln")
        if problem["siteFirm"] != firm_id:
            raise Forbidden(f"site {record.site_gln} is not a site of your firm {firm_id!r}")
        if problem["taken"] is not None:
            taken = problem["taken"]
            raise Conflict(
                f"device {taken['devices'][0]!r} already reports for CCP {taken['id']}; a device reports for one CCP",
                field="devices",
            )
        raise NotFound(f"product {problem['missingProduct']} is not registered", field="productGtins")

    written = await checked_write(
        graph, check=CHECK_REGISTRATION, write=WRITE_REGISTRATION, params={"row": row, "firmId": firm_id}, reject=reject
    )
    return dict(written[0]["ccp"])


# One text per filter, so a site's CCPs are found by the siteGln index rather than every CCP being read.
_LIST_TAIL: Final = (
    " AND ($after IS NULL OR c.id > $after) AND "
    + CCP_IN_SUMMARY
    + """
WITH c ORDER BY c.id LIMIT $limit
RETURN """
    + CCP_FIELDS
    + " AS ccp, "
    + CCP_IN_DETAIL
    + " AS detail"
)
LIST_CCPS: Final = "MATCH (c:CCP) WHERE true" + _LIST_TAIL
LIST_SITE_CCPS: Final = "MATCH (c:CCP {siteGln: $siteGln}) WHERE true" + _LIST_TAIL
COUNT_CCPS: Final = "MATCH (c:CCP) WHERE " + CCP_IN_SUMMARY + " RETURN count(c) AS total"
COUNT_SITE_CCPS: Final = "MATCH (c:CCP {siteGln: $siteGln}) WHERE " + CCP_IN_SUMMARY + " RETURN count(c) AS total"
CCPS_BY_ID: Final = (
    """
UNWIND $ids AS id
MATCH (c:CCP {id: id})
WHERE """
    + CCP_IN_SUMMARY
    + """
RETURN id, """
    + CCP_FIELDS
    + " AS ccp, "
    + CCP_IN_DETAIL
    + " AS detail"
)


def _with_level(row: Row) -> Row:
    return {**row["ccp"], "detail": bool(row["detail"])}


async def list_ccps(graph: Graph, viewer: Viewer, *, site_gln: str | None, after: str | None, limit: int) -> list[Row]:
    """A page of the CCPs the viewer may see (definitions), by id; ``detail`` says whether their records show."""
    query = LIST_CCPS if site_gln is None else LIST_SITE_CCPS
    rows = await graph.read(query, {"siteGln": site_gln, "after": after, "limit": limit, **viewer.shared_params()})
    return [_with_level(row) for row in rows]


async def count_ccps(graph: Graph, viewer: Viewer, *, site_gln: str | None) -> int:
    """How many CCPs the viewer may see."""
    query = COUNT_CCPS if site_gln is None else COUNT_SITE_CCPS
    rows = await graph.read(query, {"siteGln": site_gln, **viewer.shared_params()})
    return int(rows[0]["total"])


async def ccps_by_id(graph: Graph, viewer: Viewer, ids: Sequence[str]) -> list[Row | None]:
    """CCPs the viewer may see, in the order of ``ids`` (None where unknown or hidden)."""
    rows = await graph.read(CCPS_BY_ID, {"ids": list(ids), **viewer.shared_params()})
    found = {row["id"]: _with_level(row) for row in rows}
    return [found.get(i) for i in ids]


# The ingest's view: definitions by id, whoever asks (the ingest checks the caller's firm against firmId).
DEFINITIONS_BY_ID: Final = "UNWIND $ids AS id MATCH (c:CCP {id: id}) RETURN id, " + CCP_FIELDS + " AS ccp"


async def definitions_by_id(graph: Graph, ids: Sequence[str]) -> list[Row | None]:
    """CCP definitions for the readings ingest, in the order of ``ids`` (None where unknown)."""
    rows = await graph.read(DEFINITIONS_BY_ID, {"ids": list(ids)})
    found = {row["id"]: dict(row["ccp"]) for row in rows}
    return [found.get(i) for i in ids]


SITE_CCPS: Final = (
    "UNWIND $glns AS gln MATCH (:Site {gln: gln})-[:HAS_CCP]->(c:CCP) RETURN gln, collect(" + CCP_FIELDS + ") AS ccps"
)


# The demo's gateway: the plant with the most CCPs reporting through devices (then the lowest GLN), so that
# `make run` has a plant to stream readings for without the newcomer looking one up.
GATEWAY_SITE: Final = """
MATCH (s:Site)-[:HAS_CCP]->(c:CCP) WHERE size(coalesce(c.devices, [])) > 0
WITH s.gln AS gln, count(c) AS reporting
RETURN gln ORDER BY reporting DESC, gln LIMIT 1
"""


async def gateway_site(graph: Graph) -> str | None:
    """The GLN of a plant whose CCPs report through devices (None when no CCP names a device)."""
    rows = await graph.read(GATEWAY_SITE)
    return str(rows[0]["gln"]) if rows else None


async def ccps_of_sites(graph: Graph, glns: Sequence[str]) -> dict[str, list[Row]]:
    """Every CCP of each site (for EPCIS sensor readings, which name a device or only their site)."""
    rows = await graph.read(SITE_CCPS, {"glns": sorted(set(glns))})
    return {row["gln"]: [dict(c) for c in row["ccps"]] for row in rows}
