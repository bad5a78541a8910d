"""Firms, sites, products, certifications, sales channels and CCPs: the cluster's directory.

Profiles (firm, site, product, certification) are visible to every member, so their reads take no viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, LiteralString, NoReturn

from neo4j import AsyncManagedTransaction

from graph_schema.db import Graph, Row, checked_write, keyed, keyed_lists, run
from graph_schema.errors import Conflict, NotFound
from graph_schema.records import (
    CcpRecord,
    CertificationRecord,
    FirmRecord,
    ProductRecord,
    SalesChannelRecord,
    SiteRecord,
)

UPSERT_FIRMS: Final = """
UNWIND $rows AS row
MERGE (f:Firm {id: row.id})
SET f.name = row.name, f.nameKo = row.nameKo, f.roles = row.roles
RETURN count(f) AS written
"""

# A site keeps the firm that registered it: another firm naming the same GLN is a conflict.
CHECK_SITES: Final = """
UNWIND $rows AS row
OPTIONAL MATCH (f:Firm {id: row.firmId})
OPTIONAL MATCH (existing:Site {gln: row.gln})
WITH row, f, existing
WHERE f IS NULL OR (existing IS NOT NULL AND existing.firmId <> row.firmId)
RETURN row.gln AS key, row.firmId AS firmId, f IS NULL AS missingFirm, existing.firmId AS heldBy
"""
WRITE_SITES: Final = """
UNWIND $rows AS row
MATCH (f:Firm {id: row.firmId})
MERGE (s:Site {gln: row.gln})
SET s.firmId = row.firmId, s.name = row.name, s.kind = row.kind, s.region = row.region
MERGE (f)-[:OPERATES]->(s)
RETURN count(s) AS written
"""

CHECK_PRODUCTS: Final = """
UNWIND $rows AS row
OPTIONAL MATCH (f:Firm {id: row.ownerFirmId})
OPTIONAL MATCH (existing:Product {gtin: row.gtin})
WITH row, f, existing
WHERE f IS NULL OR (existing IS NOT NULL AND existing.ownerFirmId <> row.ownerFirmId)
RETURN row.gtin AS key, row.ownerFirmId AS firmId, f IS NULL AS missingFirm, existing.ownerFirmId AS heldBy
"""
WRITE_PRODUCTS: Final = """
UNWIND $rows AS row
MATCH (f:Firm {id: row.ownerFirmId})
MERGE (p:Product {gtin: row.gtin})
SET p.ownerFirmId = row.ownerFirmId, p.name = row.name, p.nameKo = row.nameKo,
    p.category = row.category, p.uom = row.uom
MERGE (f)-[:BRAND_OWNER_OF]->(p)
RETURN count(p) AS written
"""

WRITE_CERTIFICATIONS: Final = """
UNWIND $rows AS row
MATCH (f:Firm {id: row.firmId})
OPTIONAL MATCH (s:Site {gln: row.siteGln, firmId: row.firmId})
WITH row, f, s
WHERE row.siteGln IS NULL OR s IS NOT NULL
MERGE (c:Certification {id: row.id})
SET c.firmId = row.firmId, c.siteGln = row.siteGln, c.kind = row.kind, c.number = row.number,
    c.validFrom = datetime(row.validFrom), c.validUntil = datetime(row.validUntil)
MERGE (f)-[:HOLDS]->(c)
FOREACH (site IN CASE WHEN s IS NULL THEN [] ELSE [s] END | MERGE (c)-[:COVERS]->(site))
RETURN row.id AS id
"""

WRITE_SALES_CHANNELS: Final = """
UNWIND $rows AS row
MATCH (f:Firm {id: row.operatorFirmId})
MERGE (c:SalesChannel {id: row.id})
SET c.operatorFirmId = row.operatorFirmId, c.name = row.name, c.kind = row.kind
MERGE (f)-[:RUNS]->(c)
WITH row, c
CALL (row, c) {
  UNWIND row.storeGlns AS gln
  MATCH (s:Site {gln: gln})
  MERGE (s)-[:SELLS_THROUGH]->(c)
  RETURN count(*) AS stores
}
CALL (row, c) {
  UNWIND row.listedGtins AS gtin
  MATCH (p:Product {gtin: gtin})
  MERGE (p)-[:LISTED_ON {firmId: row.operatorFirmId}]->(c)
  RETURN count(*) AS listings
}
RETURN row.id AS id
"""

WRITE_CCPS: Final = """
UNWIND $rows AS row
MATCH (s:Site {gln: row.siteGln})
MERGE (c:CCP {id: row.id})
SET c.siteGln = row.siteGln, c.firmId = s.firmId, c.code = row.code, c.name = row.name, c.hazard = row.hazard,
    c.limitLow = row.limitLow, c.limitHigh = row.limitHigh, c.unit = row.unit,
    c.monitoringIntervalSeconds = row.monitoringIntervalSeconds, c.devices = row.devices,
    c.productGtins = row.productGtins
MERGE (s)-[:HAS_CCP]->(c)
RETURN row.id AS id
"""


async def upsert_firms(graph: Graph, records: Sequence[FirmRecord]) -> int:
    """Admit or update member firms (idempotent on the firm id)."""
    rows = await graph.write(UPSERT_FIRMS, {"rows": [r.row() for r in records]})
    return int(rows[0]["written"]) if rows else 0


def _rejection(kind: str) -> Callable[[Row], NoReturn]:
    def reject(row: Row) -> NoReturn:
        if row["missingFirm"]:
            raise NotFound(f"firm {row['firmId']!r} is not a member of the cluster", field="firmId")
        raise Conflict(f"{kind} {row['key']} is already registered by another firm", field=kind.lower())

    return reject


async def upsert_sites(graph: Graph, records: Sequence[SiteRecord]) -> int:
    """Register or update sites; the GLN stays with the firm that registered it."""
    params = {"rows": [r.row() for r in records]}
    written = await checked_write(graph, check=CHECK_SITES, write=WRITE_SITES, params=params, reject=_rejection("GLN"))
    return int(written[0]["written"])


async def upsert_products(graph: Graph, records: Sequence[ProductRecord]) -> int:
    """Register or update products; the GTIN stays with its brand owner."""
    params = {"rows": [r.row() for r in records]}
    written = await checked_write(
        graph, check=CHECK_PRODUCTS, write=WRITE_PRODUCTS, params=params, reject=_rejection("GTIN")
    )
    return int(written[0]["written"])


async def _write_all(graph: Graph, query: LiteralString, rows: list[Row], *, what: str) -> int:
    async def work(tx: AsyncManagedTransaction) -> int:
        written = await run(tx, query, {"rows": rows})
        if len(written) != len(rows):
            missing = sorted({str(r["id"]) for r in rows} - {str(w["id"]) for w in written})
            raise NotFound(f"{what} {missing[0]} names a firm or site that is not registered", field="id")
        return len(written)

    return await graph.transaction(work)


async def upsert_certifications(graph: Graph, records: Sequence[CertificationRecord]) -> int:
    """Record certifications (GAP, HACCP, Smart HACCP) of firms, optionally for one of their sites."""
    return await _write_all(graph, WRITE_CERTIFICATIONS, [r.row() for r in records], what="certification")


async def upsert_sales_channels(graph: Graph, records: Sequence[SalesChannelRecord]) -> int:
    """Record sales channels with their stores and listed products."""
    return await _write_all(graph, WRITE_SALES_CHANNELS, [r.row() for r in records], what="sales channel")


async def upsert_ccps(graph: Graph, records: Sequence[CcpRecord]) -> int:
    """Record the HACCP critical control points of plants."""
    return await _write_all(graph, WRITE_CCPS, [r.row() for r in records], what="CCP")


FIRMS_BY_ID: Final = """
UNWIND $ids AS id
OPTIONAL MATCH (f:Firm {id: id})
RETURN id, f {.id, .name, .nameKo, .roles} AS firm
"""

LIST_FIRMS: Final = """
MATCH (f:Firm)
WHERE ($role IS NULL OR $role IN f.roles) AND ($after IS NULL OR f.id > $after)
RETURN f {.id, .name, .nameKo, .roles} AS firm
ORDER BY f.id
LIMIT $limit
"""
COUNT_FIRMS: Final = "MATCH (f:Firm) WHERE $role IS NULL OR $role IN f.roles RETURN count(f) AS total"

SITES_BY_GLN: Final = """
UNWIND $glns AS gln
OPTIONAL MATCH (s:Site {gln: gln})
RETURN gln, s {.gln, .firmId, .name, .kind, .region} AS site
"""

SITES_OF_FIRMS: Final = """
UNWIND $ids AS id
OPTIONAL MATCH (s:Site {firmId: id})
WITH id, s ORDER BY s.gln
RETURN id, collect(s {.gln, .firmId, .name, .kind, .region}) AS sites
"""

PRODUCTS_BY_GTIN: Final = """
UNWIND $gtins AS gtin
OPTIONAL MATCH (p:Product {gtin: gtin})
RETURN gtin, p {.gtin, .ownerFirmId, .name, .nameKo, .category, .uom} AS product
"""

CERTIFICATIONS_OF_FIRMS: Final = """
UNWIND $ids AS id
OPTIONAL MATCH (c:Certification {firmId: id})
WITH id, c ORDER BY c.kind, c.id
RETURN id, collect(c {.id, .firmId, .siteGln, .kind, .number, .validFrom, .validUntil}) AS certifications
"""


async def firms_by_id(graph: Graph, ids: Sequence[str]) -> list[Row | None]:
    """Firm profiles in the order of ``ids`` (None where unknown)."""
    rows = await graph.read(FIRMS_BY_ID, {"ids": list(ids)})
    return keyed(rows, ids, key="id", value="firm")


async def list_firms(graph: Graph, *, role: str | None, after: str | None, limit: int) -> list[Row]:
    """A page of firm profiles ordered by id, optionally of one role."""
    rows = await graph.read(LIST_FIRMS, {"role": role, "after": after, "limit": limit})
    return [row["firm"] for row in rows]


async def count_firms(graph: Graph, *, role: str | None) -> int:
    """How many member firms (of one role)."""
    rows = await graph.read(COUNT_FIRMS, {"role": role})
    return int(rows[0]["total"])


async def sites_by_gln(graph: Graph, glns: Sequence[str]) -> list[Row | None]:
    """Site profiles in the order of ``glns``."""
    rows = await graph.read(SITES_BY_GLN, {"glns": list(glns)})
    return keyed(rows, glns, key="gln", value="site")


async def sites_of_firms(graph: Graph, ids: Sequence[str]) -> list[list[Row]]:
    """Each firm's sites, in the order of ``ids``."""
    rows = await graph.read(SITES_OF_FIRMS, {"ids": list(ids)})
    return keyed_lists(rows, ids, key="id", value="sites")


async def products_by_gtin(graph: Graph, gtins: Sequence[str]) -> list[Row | None]:
    """Product profiles in the order of ``gtins``."""
    rows = await graph.read(PRODUCTS_BY_GTIN, {"gtins": list(gtins)})
    return keyed(rows, gtins, key="gtin", value="product")


async def certifications_of_firms(graph: Graph, ids: Sequence[str]) -> list[list[Row]]:
    """Each firm's certifications, in the order of ``ids``."""
    rows = await graph.read(CERTIFICATIONS_OF_FIRMS, {"ids": list(ids)})
    return keyed_lists(rows, ids, key="id", value="certifications")
