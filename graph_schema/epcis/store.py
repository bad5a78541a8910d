"""The EPCIS event store: every captured event as an (:EpcisEvent) node, linked to the lots it concerns.

Events the graph has no other use for are still kept here and answered by the SimpleEventQuery. An event is
stored once per eventID (or, without one, per CBV 2.0 event hash); a second capture of the same content is
a no-op and other content under a known id is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import orjson
from neo4j import AsyncTransaction

from graph_schema.db import CheckedStep, Row, run
from graph_schema.epcis.epc import to_digital_link
from graph_schema.epcis.facets import error_declaration_fields, event_facets, persistent_dispositions
from graph_schema.epcis.model import EpcisEvent
from graph_schema.errors import Conflict, Forbidden, NotFound

# --- what is already stored -------------------------------------------------------------------------------

STORED_HASHES: Final = """
UNWIND $ids AS id
MATCH (e:EpcisEvent {eventId: id})
RETURN id, e.eventHash AS hash
"""


async def stored_hashes(tx: AsyncTransaction, event_ids: Sequence[str]) -> dict[str, str]:
    """The content hash of each of these events that is already stored (inside the capture's transaction)."""
    return {row["id"]: row["hash"] for row in await run(tx, STORED_HASHES, {"ids": list(event_ids)})}


# --- lots named by events -----------------------------------------------------------------------------

RESOLVE_LOTS: Final = """
UNWIND $keys AS key
MATCH (l:Lot {productGtin: key.gtin, lotNumber: key.lot})
RETURN key.gtin AS gtin, key.lot AS lot, l.id AS id
"""


async def resolve_lots(tx: AsyncTransaction, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The recorded lot id of each (GTIN, lot number) that names a recorded lot."""
    rows = await run(tx, RESOLVE_LOTS, {"keys": [{"gtin": gtin, "lot": lot} for gtin, lot in keys]})
    return {(row["gtin"], row["lot"]): row["id"] for row in rows}


SITE_OWNERS: Final = """
UNWIND $glns AS gln
MATCH (s:Site {gln: gln})
RETURN gln, s.firmId AS firmId
"""


async def site_owners(tx: AsyncTransaction, glns: Sequence[str]) -> dict[str, str]:
    """The firm of each registered site among ``glns``."""
    return {row["gln"]: row["firmId"] for row in await run(tx, SITE_OWNERS, {"glns": list(glns)})}


# --- the right to capture and the store itself ----------------------------------------------------------

# A firm captures events at its own sites (the event's business location, else its read point) or as a
# party to the movement (a source or destination that is one of its sites, or its own party id). An event
# naming no place and no party is the capturer's own observation. An unknown event site is an error: the
# capturer could otherwise claim another firm's site before that firm registers it.
CHECK_EVENTS: Final = """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (site:Site {gln: row.siteGln})
OPTIONAL MATCH (known:EpcisEvent {eventId: row.eventId})
CALL (row) {
  UNWIND row.partyGlns AS gln
  OPTIONAL MATCH (p:Site {gln: gln})
  RETURN count(CASE WHEN p.firmId = $firmId OR gln = $firmId THEN 1 END) > 0 AS isParty
}
WITH i, row, site, known, isParty
WITH i, row, site, known, isParty,
     row.siteGln IS NOT NULL AND site IS NULL AS unknownSite,
     known IS NOT NULL AND known.eventHash <> row.eventHash AS clash,
     (row.siteGln IS NULL AND size(row.partyGlns) = 0) OR site.firmId = $firmId OR isParty
     OR row.partyIds IS NOT NULL AND $firmId IN row.partyIds AS allowed
WHERE unknownSite OR clash OR NOT allowed
RETURN i, row.eventId AS eventId, row.siteField AS siteField, row.siteGln AS siteGln, unknownSite, clash
ORDER BY i
"""

# The fields the query filters read (graph_schema/epcis/query_fields), set by a capture on a new event and by the
# backfill on an event stored before them (graph_schema/epcis/backfill.py): one list, so the two cannot drift.
QUERY_FIELD_ASSIGNMENTS: Final = """e.terms = row.terms, e.facets = row.facets, e.fieldNames = row.fieldNames,
    e.numberKeys = row.numberKeys, e.numbers = row.numbers,
    e.timeKeys = row.timeKeys, e.times = [t IN row.times | datetime(t)],
    e.persistentSet = row.persistentSet, e.persistentUnset = row.persistentUnset,
    e.errorDeclarationTime = datetime(row.errorDeclarationTime), e.errorReason = row.errorReason,
    e.readPointLink = row.readPointLink, e.bizLocationLink = row.bizLocationLink,
    e.queryFields = row.queryFields"""

WRITE_EVENTS: Final = (
    """
UNWIND $rows AS row
OPTIONAL MATCH (site:Site {gln: row.siteGln})
MERGE (e:EpcisEvent {eventId: row.eventId})
ON CREATE SET e.eventHash = row.eventHash, e.eventType = row.eventType, e.eventTime = datetime(row.eventTime),
              e.eventTimeZoneOffset = row.eventTimeZoneOffset, e.recordTime = datetime(row.recordTime),
              e.action = row.action, e.bizStep = row.bizStep, e.disposition = row.disposition,
              e.readPoint = row.readPoint, e.bizLocation = row.bizLocation, e.siteGln = row.siteGln,
              e.siteFirmId = site.firmId, e.capturedBy = $firmId, e.captureId = $captureId,
              e.epcs = row.epcs, e.epcClasses = row.epcClasses, e.anyEpcClasses = row.anyEpcClasses,
              e.json = row.json, e.created = true, """
    + QUERY_FIELD_ASSIGNMENTS
    + """
WITH e, row, coalesce(e.created, false) AS created
REMOVE e.created
WITH e, row, created
CALL (e, row, created) {
  WITH e, row WHERE created
  UNWIND row.lotKeys AS key
  MATCH (l:Lot {productGtin: key.gtin, lotNumber: key.lot})
  MERGE (e)-[:CONCERNS]->(l)
  RETURN count(*) AS links
}
// each identifier the query matches by, once in the graph, with an index behind it (graph_schema.epcis.facets)
CALL (e, row, created) {
  WITH e, row WHERE created
  UNWIND row.terms AS key
  MERGE (t:EpcisTerm {key: key})
  CREATE (e)-[:HAS_TERM]->(t)
  RETURN count(*) AS terms
}
RETURN count(CASE WHEN created THEN 1 END) AS created
"""
)


def event_row(event: EpcisEvent, *, record_time: datetime) -> dict[str, Any]:
    """The event as the store's Cypher parameters."""
    site_gln = event.biz_location_gln or event.read_point_gln
    site_field = "bizLocation" if event.biz_location_gln else "readPoint"
    raw = {**event.raw, "recordTime": record_time.isoformat()}
    if event.namespaces:
        raw["@context"] = [event.namespaces]
    lot_keys = sorted({(q.gtin, q.lot) for q in event.classes if q.gtin is not None and q.lot is not None})
    return {
        "eventId": event.event_id,
        "eventHash": event.event_hash,
        "eventType": event.type.value,
        # kept in UTC: Neo4j orders two date-times of one instant in different zones as unequal
        "eventTime": event.event_time.astimezone(UTC).isoformat(),
        "eventTimeZoneOffset": event.event_time_zone_offset,
        "recordTime": record_time.isoformat(),
        "action": event.action,
        "bizStep": event.biz_step,
        "disposition": event.disposition,
        "readPoint": event.read_point,
        "bizLocation": event.biz_location,
        "siteGln": site_gln,
        "siteField": site_field,
        "partyGlns": sorted({p.gln for p in [*event.sources, *event.destinations] if p.gln is not None}),
        "partyIds": sorted({p.id for p in [*event.sources, *event.destinations]}),
        "epcs": [*event.epcs, *event.input_epcs, *event.output_epcs, *([event.parent_id] if event.parent_id else [])],
        "epcClasses": [q.epc_class for q in event.quantities],
        "anyEpcClasses": [q.epc_class for q in event.classes],
        "lotKeys": [{"gtin": gtin, "lot": lot} for gtin, lot in lot_keys],
        "json": orjson.dumps(raw).decode(),
        **query_fields(event),
    }


# The layout of what the query filters on (below), kept on each event: events stored with an older layout (or
# none: captured before the SimpleEventQuery was answered in full) are brought up to it by
# graph_schema.epcis.backfill when the schema is applied. 1: terms and facets; 2: locations' Digital Links (master
# data is keyed by them) and custom business steps and dispositions as terms; 3: extension fields of sensor
# elements, their metadata and reports.
QUERY_FIELDS_VERSION: Final = 3


def query_fields(event: EpcisEvent) -> dict[str, Any]:
    """What the SimpleEventQuery filters on (graph_schema.epcis.facets), in the store's current layout."""
    facets = event_facets(event)
    persistent_set, persistent_unset = persistent_dispositions(event)
    return {
        "queryFields": QUERY_FIELDS_VERSION,
        "readPointLink": to_digital_link(event.read_point) if event.read_point else None,
        "bizLocationLink": to_digital_link(event.biz_location) if event.biz_location else None,
        "terms": facets.terms,
        "facets": facets.texts,
        "fieldNames": sorted(set(facets.names)),
        "numberKeys": facets.number_keys,
        "numbers": facets.numbers,
        "timeKeys": facets.time_keys,
        "times": facets.times,
        "persistentSet": persistent_set,
        "persistentUnset": persistent_unset,
        **error_declaration_fields(event),
    }


def events_step(rows: list[dict[str, Any]], *, firm_id: str, capture_id: str, where: Any) -> CheckedStep:
    """The checked write storing events: the capturer's right to each, and no other content under its id."""

    def reject(bad: Row) -> NoReturn:
        at = where(bad["i"])
        if bad["clash"]:
            raise Conflict(
                f"{at}: event {bad['eventId']} is already stored with other content; an eventID names one event",
                field=f"{at}.eventID",
            )
        if bad["unknownSite"]:
            raise NotFound(
                f"{at}: {bad['siteField']} {bad['siteGln']} is not a registered site; register the site first",
                field=f"{at}.{bad['siteField']}",
            )
        raise Forbidden(
            f"{at}: your firm may capture events only at its own sites or as a party to the movement; "
            f"{bad['siteField']} {bad['siteGln']} belongs to another firm",
            field=f"{at}.{bad['siteField']}",
        )

    params = {"rows": rows, "firmId": firm_id, "captureId": capture_id}
    return CheckedStep(check=CHECK_EVENTS, write=WRITE_EVENTS, params=params, reject=reject)
