"""The EPCIS event store: every captured event as an (:EpcisEvent) node, linked to the lots it concerns.

Events the graph has no other use for are still kept here and answered by the SimpleEventQuery. An event is
stored once per eventID (or, without one, per CBV 2.0 event hash); a second capture of the same content is
a no-op and other content under a known id is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NoReturn

import orjson
from neo4j import AsyncTransaction

from graph_schema.access import LOT_IN_DETAIL, Viewer
from graph_schema.db import CheckedStep, Graph, Row, run
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

WRITE_EVENTS: Final = """
UNWIND $rows AS row
OPTIONAL MATCH (site:Site {gln: row.siteGln})
MERGE (e:EpcisEvent {eventId: row.eventId})
ON CREATE SET e.eventHash = row.eventHash, e.eventType = row.eventType, e.eventTime = datetime(row.eventTime),
              e.eventTimeZoneOffset = row.eventTimeZoneOffset, e.recordTime = datetime(row.recordTime),
              e.action = row.action, e.bizStep = row.bizStep, e.disposition = row.disposition,
              e.readPoint = row.readPoint, e.bizLocation = row.bizLocation, e.siteGln = row.siteGln,
              e.siteFirmId = site.firmId, e.capturedBy = $firmId, e.captureId = $captureId,
              e.epcs = row.epcs, e.epcClasses = row.epcClasses, e.anyEpcClasses = row.anyEpcClasses,
              e.json = row.json, e.created = true
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
RETURN count(CASE WHEN created THEN 1 END) AS created
"""


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
        "eventTime": event.event_time.isoformat(),
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


# --- the SimpleEventQuery --------------------------------------------------------------------------------

# An event is shown to the firm that captured it, to viewers who see its site's firm in detail, and to
# viewers who may see in detail any lot it concerns (the trace rules of graph_schema.access).
EVENT_VISIBLE: Final = (
    "(e.capturedBy IN $detailFirms OR e.siteFirmId IN $detailFirms"
    " OR EXISTS { MATCH (e)-[:CONCERNS]->(l:Lot) WHERE " + LOT_IN_DETAIL + " })"
)

QUERY_EVENTS: Final = (
    """
MATCH (e:EpcisEvent)
WHERE e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
  AND ($eventTypes IS NULL OR e.eventType IN $eventTypes)
  AND ($bizSteps IS NULL OR e.bizStep IN $bizSteps)
  AND ($bizLocations IS NULL OR e.bizLocation IN $bizLocations)
  AND ($epcs IS NULL OR any(x IN e.epcs WHERE any(p IN $epcs
       WHERE x = p OR (p ENDS WITH '*' AND x STARTS WITH left(p, size(p) - 1)))))
  AND ($epcClasses IS NULL OR any(x IN e.epcClasses WHERE any(p IN $epcClasses
       WHERE x = p OR (p ENDS WITH '*' AND x STARTS WITH left(p, size(p) - 1)))))
  AND ($anyEpcClasses IS NULL OR any(x IN e.anyEpcClasses WHERE any(p IN $anyEpcClasses
       WHERE x = p OR (p ENDS WITH '*' AND x STARTS WITH left(p, size(p) - 1)))))
  AND ($afterTime IS NULL OR e.eventTime > datetime($afterTime)
       OR (e.eventTime = datetime($afterTime) AND e.eventId > $afterId))
  AND """
    + EVENT_VISIBLE
    + """
WITH e ORDER BY e.eventTime, e.eventId
LIMIT $limit
RETURN e.eventId AS eventId, e.eventTime AS eventTime, e.capturedBy AS capturedBy, e.json AS json
"""
)

FAR_PAST: Final = "0001-01-01T00:00:00Z"
FAR_FUTURE: Final = "9999-12-31T23:59:59Z"


@dataclass(frozen=True)
class EventFilter:
    """The SimpleEventQuery parameters the store answers, already normalised (None: no restriction)."""

    event_types: list[str] | None = None
    ge_time: str | None = None
    lt_time: str | None = None
    biz_steps: list[str] | None = None
    biz_locations: list[str] | None = None
    epcs: list[str] | None = None  # patterns end with '*' for a prefix match
    epc_classes: list[str] | None = None
    any_epc_classes: list[str] | None = None


async def query_events(
    graph: Graph, viewer: Viewer, query: EventFilter, *, after: tuple[str, str] | None, limit: int
) -> list[Row]:
    """A page of the events the viewer may see that match the filter, in event-time order."""
    params = {
        "eventTypes": query.event_types,
        "geTime": query.ge_time or FAR_PAST,
        "ltTime": query.lt_time or FAR_FUTURE,
        "bizSteps": query.biz_steps,
        "bizLocations": query.biz_locations,
        "epcs": query.epcs,
        "epcClasses": query.epc_classes,
        "anyEpcClasses": query.any_epc_classes,
        "afterTime": after[0] if after else None,
        "afterId": after[1] if after else None,
        "limit": limit,
        **viewer.params(),
    }
    return await graph.read(QUERY_EVENTS, params)
