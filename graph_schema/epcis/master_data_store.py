"""EPCIS master data in the graph: written with the capture of its document, read by the REST and GraphQL APIs.

Who may describe what: a location's master data only by the firm of the site it is (its GLN, or the site its
``cbvmda:site`` names), a party's only by the firm itself (a PGLN equal to the firm's id or to one of its
sites' GLNs). A document of another firm naming your GLN is refused with FORBIDDEN and writes nothing (its
events neither: master data is checked and written in the first transaction of the capture).

Each description replaces the one before it (attributes and children alike). Master data is profile data, like
the sites and firms it describes: every member may read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NoReturn

import orjson
from neo4j import AsyncTransaction

from graph_schema.db import CheckedStep, Graph, Row, keyed, keyed_lists
from graph_schema.epcis.master_data import (
    ADDRESS_FIELDS,
    LOCATION_ONLY,
    LocationMasterData,
    MasterData,
    PartyMasterData,
)
from graph_schema.errors import Forbidden, NotFound

LOCATION_FIELDS: Final = (*ADDRESS_FIELDS, *LOCATION_ONLY)

CHECK_LOCATIONS: Final = """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (own:Site {gln: row.gln})
OPTIONAL MATCH (named:Site {gln: row.siteGln})
CALL (row) {
  UNWIND row.children AS child
  OPTIONAL MATCH (s:Site {gln: child.gln})
  WITH child, s WHERE s IS NULL OR s.firmId <> $firmId
  RETURN collect(child.id)[0] AS badChild, collect(s.firmId)[0] AS badChildFirm
}
WITH i, row, own, named, badChild, badChildFirm
WHERE own IS NULL OR own.firmId <> $firmId OR named IS NULL OR named.firmId <> $firmId OR badChild IS NOT NULL
RETURN i, row.path AS path, row.id AS id, row.gln AS gln, row.siteGln AS siteGln,
       own IS NULL AS unknownSite, coalesce(own.firmId <> $firmId, false) AS othersSite,
       named IS NULL AS unknownNamedSite, badChild, badChildFirm IS NULL AS unknownChild
ORDER BY i
"""

WRITE_LOCATIONS: Final = """
UNWIND $rows AS row
MATCH (site:Site {gln: row.siteGln})
MERGE (l:EpcisLocation {digitalLink: row.digitalLink})
SET l += row.fields, l.id = row.id, l.gln = row.gln, l.extension = row.extension, l.siteGln = site.gln,
    l.firmId = site.firmId, l.attributesJson = row.attributesJson, l.vocabularyTypes = row.vocabularyTypes,
    l.updatedAt = datetime($now), l.captureId = $captureId, l.described = true,
    l.attributeNames = row.attributeNames, l.attributeTexts = row.attributeTexts
WITH row, site, l
CALL (l, site) {
  OPTIONAL MATCH (l)-[old:AT_SITE]->(other:Site) WHERE other <> site
  DELETE old
}
MERGE (l)-[:AT_SITE]->(site)
WITH row, site, l
CALL (row, site) {
  WITH row, site WHERE row.extension = '0' AND row.gln = site.gln AND row.fields.name IS NOT NULL
  SET site.name = row.fields.name
}
CALL (row, l) {
  OPTIONAL MATCH (l)-[old:HAS_CHILD]->(c:EpcisLocation)
  WHERE NOT c.digitalLink IN [child IN row.children | child.digitalLink]
  DELETE old
}
CALL (row, l) {
  UNWIND row.children AS child
  MATCH (childSite:Site {gln: child.gln})
  MERGE (c:EpcisLocation {digitalLink: child.digitalLink})
  ON CREATE SET c.id = child.id, c.gln = child.gln, c.extension = child.extension, c.siteGln = childSite.gln,
                c.firmId = childSite.firmId, c.described = false
  MERGE (c)-[:AT_SITE]->(childSite)
  MERGE (l)-[:HAS_CHILD]->(c)
  RETURN count(*) AS children
}
RETURN count(l) AS written
"""

CHECK_PARTIES: Final = """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (s:Site {gln: row.gln})
OPTIONAL MATCH (known:EpcisParty {digitalLink: row.digitalLink})
WITH i, row, s, known
WHERE NOT coalesce(row.gln = $firmId OR row.id = $firmId OR s.firmId = $firmId, false)
   OR (known IS NOT NULL AND known.firmId <> $firmId)
RETURN i, row.path AS path, row.id AS id
ORDER BY i
"""

WRITE_PARTIES: Final = """
MATCH (f:Firm {id: $firmId})
UNWIND $rows AS row
MERGE (p:EpcisParty {digitalLink: row.digitalLink})
SET p += row.fields, p.id = row.id, p.gln = row.gln, p.firmId = $firmId, p.attributesJson = row.attributesJson,
    p.updatedAt = datetime($now), p.captureId = $captureId
MERGE (p)-[:DESCRIBES]->(f)
RETURN count(p) AS written
"""


def _attributes_json(attributes: Sequence[Any]) -> str:
    return orjson.dumps([{"id": a.id, "attribute": a.value} for a in attributes]).decode()


def attribute_text(value: Any) -> str | None:
    """An attribute's value as HASATTR_/EQATTR_ compare it (5 and 5.0 alike), or None when it is not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return value if isinstance(value, str) else None


def attribute_lists(attributes: Sequence[tuple[str, Any]]) -> tuple[list[str], list[str]]:
    """The attribute names of an element (full URIs) and its ``<name>=<value>`` texts, as EQATTR_ reads them."""
    names = sorted({name for name, _ in attributes})
    texts = sorted({f"{name}={text}" for name, value in attributes if (text := attribute_text(value)) is not None})
    return names, texts


def location_row(location: LocationMasterData) -> dict[str, Any]:
    """A location's master data as the write's parameters (every CBV field present, null when not given)."""
    return {
        "id": location.id,
        "digitalLink": location.digital_link,
        "gln": location.gln,
        "extension": location.extension,
        "siteGln": location.fields.get("site", location.gln),
        "path": location.path,
        "fields": {name: location.fields.get(name) for name in LOCATION_FIELDS},
        "attributesJson": _attributes_json(location.attributes),
        **dict(
            zip(
                ("attributeNames", "attributeTexts"),
                attribute_lists([(a.id, a.value) for a in location.attributes]),
                strict=True,
            )
        ),
        "vocabularyTypes": list(location.vocabulary_types),
        "children": [
            {"id": child, "digitalLink": link, "gln": _gln_of(link), "extension": _extension_of(child)}
            for child, link in zip(location.children, location.children_links, strict=True)
        ],
    }


def _gln_of(digital_link: str) -> str:
    return digital_link.split("/414/", 1)[1][:13]


def _extension_of(sgln: str) -> str:
    return sgln.rsplit(".", 1)[1]


def party_row(party: PartyMasterData) -> dict[str, Any]:
    """A party's master data as the write's parameters."""
    return {
        "id": party.id,
        "digitalLink": party.digital_link,
        "gln": party.gln,
        "path": party.path,
        "fields": {name: party.fields.get(name) for name in ADDRESS_FIELDS},
        "attributesJson": _attributes_json(party.attributes),
    }


def _reject_location(bad: Row) -> NoReturn:
    at, element = bad["path"], bad["id"]
    if bad["unknownSite"]:
        raise NotFound(
            f"{at}: {element} is under GLN {bad['gln']}, which is not a registered site; register the site first",
            field=f"{at}.id",
        )
    if bad["othersSite"]:
        raise Forbidden(
            f"{at}: {element} is another firm's location; only the firm of a site may describe it (or its "
            "sub-sites) in master data",
            field=f"{at}.id",
        )
    if bad["unknownNamedSite"]:
        raise NotFound(
            f"{at}: cbvmda:site {bad['siteGln']} is not a registered site; register the site first", field=f"{at}.id"
        )
    if bad["badChild"] is not None:
        what = "is not under a registered site" if bad["unknownChild"] else "is under another firm's site"
        raise Forbidden(
            f"{at}: child {bad['badChild']} {what}; a location's children must be your own sub-sites",
            field=f"{at}.children",
        )
    raise Forbidden(
        f"{at}: cbvmda:site {bad['siteGln']} is another firm's site; a sub-site belongs to a site of your own",
        field=f"{at}.id",
    )


def _reject_party(bad: Row) -> NoReturn:
    raise Forbidden(
        f"{bad['path']}: {bad['id']} is not your firm; a firm's party master data may describe only itself (a PGLN "
        "equal to your firm's id or to the GLN of one of your sites)",
        field=f"{bad['path']}.id",
    )


def master_data_steps(master: MasterData, *, firm_id: str, capture_id: str, now: datetime) -> list[CheckedStep]:
    """The checked writes of a document's master data, to run in the capture's first transaction."""
    common = {"firmId": firm_id, "captureId": capture_id, "now": now.isoformat()}
    steps: list[CheckedStep] = []
    if master.locations:
        params = {"rows": [location_row(location) for location in master.locations], **common}
        steps.append(CheckedStep(check=CHECK_LOCATIONS, write=WRITE_LOCATIONS, params=params, reject=_reject_location))
    if master.parties:
        params = {"rows": [party_row(party) for party in master.parties], **common}
        steps.append(CheckedStep(check=CHECK_PARTIES, write=WRITE_PARTIES, params=params, reject=_reject_party))
    return steps


async def write_master_data(
    tx: AsyncTransaction, master: MasterData, *, firm_id: str, capture_id: str, now: datetime
) -> list[Any]:
    """Check and write a document's master data in the caller's transaction; the HubErrors of the rows at fault
    (then nothing was written)."""
    steps = master_data_steps(master, firm_id=firm_id, capture_id=capture_id, now=now)
    problems: list[Any] = []
    for step in steps:
        problems += await step.problems_in(tx)
    if problems:
        return problems
    for step in steps:
        await step.run_in(tx)
    return []


# --- reads ---------------------------------------------------------------------------------------------------

_LOCATION: Final = """
l {.id, .digitalLink, .gln, .extension, .siteGln, .firmId, .name, .streetAddressOne, .streetAddressTwo,
   .streetAddressThree, .city, .state, .postalCode, .countryCode, .latitude, .longitude, .site, .sst, .ssa, .ssd,
   .attributesJson, .vocabularyTypes, .updatedAt, .described,
   children: [(l)-[:HAS_CHILD]->(c:EpcisLocation) | c.id],
   parents: [(p:EpcisLocation)-[:HAS_CHILD]->(l) | p.id]}
"""

LOCATIONS_BY_LINK: Final = (
    """
UNWIND $links AS link
OPTIONAL MATCH (l:EpcisLocation {digitalLink: link})
RETURN link, CASE WHEN l IS NULL THEN NULL ELSE """
    + _LOCATION
    + """ END AS location
"""
)

LOCATIONS_OF_SITES: Final = (
    """
UNWIND $glns AS gln
OPTIONAL MATCH (l:EpcisLocation {siteGln: gln})
WITH gln, l ORDER BY l.extension = '0' DESC, l.id
RETURN gln, collect("""
    + _LOCATION
    + """) AS locations
"""
)

PARTIES_OF_FIRMS: Final = """
UNWIND $ids AS id
OPTIONAL MATCH (p:EpcisParty {firmId: id})
WITH id, p ORDER BY p.id
RETURN id, collect(p {.id, .digitalLink, .gln, .firmId, .name, .streetAddressOne, .streetAddressTwo,
                      .streetAddressThree, .city, .state, .postalCode, .countryCode, .attributesJson, .updatedAt})
       AS parties
"""


async def locations_by_link(graph: Graph, links: Sequence[str]) -> list[Row | None]:
    """The master data of locations by their Digital Link, in order (None where none was captured)."""
    rows = await graph.read(LOCATIONS_BY_LINK, {"links": list(links)})
    return keyed(rows, links, key="link", value="location")


async def locations_of_sites(graph: Graph, glns: Sequence[str]) -> list[list[Row]]:
    """Each site's EPCIS locations (the site itself first, then its sub-sites), in the order of ``glns``."""
    rows = await graph.read(LOCATIONS_OF_SITES, {"glns": list(glns)})
    return keyed_lists(rows, glns, key="gln", value="locations")


async def parties_of_firms(graph: Graph, ids: Sequence[str]) -> list[list[Row]]:
    """Each firm's EPCIS party master data, in the order of ``ids``."""
    rows = await graph.read(PARTIES_OF_FIRMS, {"ids": list(ids)})
    return keyed_lists(rows, ids, key="id", value="parties")


def vocabulary_element(row: Row) -> dict[str, Any]:
    """A stored location or party as the standard's vocabulary element: id, attributes as captured, children."""
    element: dict[str, Any] = {"id": row["id"], "attributes": orjson.loads(row.get("attributesJson") or "[]")}
    if row.get("children"):
        element["children"] = list(row["children"])
    return element
