"""Bring stored EPCIS events and master data up to the layout the SimpleEventQuery reads, in bounded batches.

Events captured before the query was answered in full have no terms (no HAS_TERM to their EpcisTerm nodes),
facets or locations' Digital Links, so MATCH_/EQ_ by identifier, extension-field filters, HASATTR_ and WD_
through master data would miss them. Each event's stored JSON is read again with the capture's own validation
and its query fields written as a capture of today writes them (graph_schema.epcis.store.query_fields), marked
with the layout's version: running it again finds nothing to do. Master data locations written before their
attributes were kept as lists get them from their stored attributes the same way.

Applied with the schema (``hub schema apply`` and at start-up). Several hub processes may run it at once: each
write checks the version again under the event's lock and replaces the event's terms, so the outcome is the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final

import orjson

from graph_schema.db import Graph
from graph_schema.epcis.master_data_store import attribute_lists
from graph_schema.epcis.store import QUERY_FIELD_ASSIGNMENTS, QUERY_FIELDS_VERSION, query_fields
from graph_schema.epcis.validation import validate_event

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 500

# the eventId cursor keeps each batch an index range, and every event is looked at once per run
EVENTS_TO_UPGRADE: Final = """
MATCH (e:EpcisEvent) WHERE e.eventId > $after AND coalesce(e.queryFields, 0) < $version
WITH e ORDER BY e.eventId LIMIT $limit
RETURN e.eventId AS eventId, e.json AS json
"""

UPGRADE_EVENTS: Final = (
    """
UNWIND $rows AS row
MATCH (e:EpcisEvent {eventId: row.eventId})
WHERE coalesce(e.queryFields, 0) < $version
SET e.eventTime = datetime(row.eventTime), """
    + QUERY_FIELD_ASSIGNMENTS
    + """
WITH e, row
CALL (e) {
  MATCH (e)-[old:HAS_TERM]->(:EpcisTerm)
  DELETE old
}
CALL (e, row) {
  UNWIND row.terms AS key
  MERGE (t:EpcisTerm {key: key})
  MERGE (e)-[:HAS_TERM]->(t)
  RETURN count(*) AS terms
}
RETURN count(e) AS upgraded
"""
)

# an event whose stored JSON no longer reads (none should): marked so that it is not read at every start
MARK_UNREADABLE: Final = """
UNWIND $ids AS id
MATCH (e:EpcisEvent {eventId: id})
WHERE coalesce(e.queryFields, 0) < $version
SET e.queryFields = $version, e.queryFieldsUnreadable = true
"""

LOCATIONS_TO_UPGRADE: Final = """
MATCH (l:EpcisLocation) WHERE l.digitalLink > $after AND l.attributesJson IS NOT NULL AND l.attributeNames IS NULL
WITH l ORDER BY l.digitalLink LIMIT $limit
RETURN l.digitalLink AS digitalLink, l.attributesJson AS attributesJson
"""

UPGRADE_LOCATIONS: Final = """
UNWIND $rows AS row
MATCH (l:EpcisLocation {digitalLink: row.digitalLink})
WHERE l.attributeNames IS NULL
SET l.attributeNames = row.attributeNames, l.attributeTexts = row.attributeTexts
"""


@dataclass(frozen=True)
class BackfillOutcome:
    """What one run changed: events given their query fields, unreadable events, master data locations."""

    events: int = 0
    unreadable: int = 0
    locations: int = 0


def upgraded_row(event_id: str, stored_json: str) -> dict[str, Any] | None:
    """The query fields of a stored event, read again from its JSON (None if it does not read as a valid event)."""
    try:
        raw = orjson.loads(stored_json)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    event = validate_event(raw, index=0, namespaces={})
    if isinstance(event, list):
        return None
    # in UTC, as the store keeps event times now (Neo4j orders one instant in two zones as unequal)
    return {"eventId": event_id, "eventTime": event.event_time.astimezone(UTC).isoformat(), **query_fields(event)}


async def backfill_events(graph: Graph, *, batch_size: int = BATCH_SIZE) -> tuple[int, int]:
    """Give every event stored with an older layout its query fields; (events upgraded, events unreadable)."""
    after, upgraded, unreadable = "", 0, 0
    while True:
        found = await graph.read(
            EVENTS_TO_UPGRADE, {"after": after, "version": QUERY_FIELDS_VERSION, "limit": batch_size}
        )
        if not found:
            return upgraded, unreadable
        after = found[-1]["eventId"]
        rows, broken = [], []
        for record in found:
            row = upgraded_row(record["eventId"], record["json"] or "")
            if row is None:
                broken.append(record["eventId"])
            else:
                rows.append(row)
        if rows:
            result = await graph.write(UPGRADE_EVENTS, {"rows": rows, "version": QUERY_FIELDS_VERSION})
            upgraded += int(result[0]["upgraded"]) if result else 0
        if broken:
            log.warning(
                "%d stored EPCIS events do not read as valid events; their query fields stay empty",
                len(broken),
            )
            await graph.write(MARK_UNREADABLE, {"ids": broken, "version": QUERY_FIELDS_VERSION})
            unreadable += len(broken)


async def backfill_locations(graph: Graph, *, batch_size: int = BATCH_SIZE) -> int:
    """Give every master data location its attributes as the lists HASATTR_/EQATTR_ read; how many were given."""
    after, upgraded = "", 0
    while True:
        found = await graph.read(LOCATIONS_TO_UPGRADE, {"after": after, "limit": batch_size})
        if not found:
            return upgraded
        after = found[-1]["digitalLink"]
        rows = []
        for record in found:
            try:
                attributes = orjson.loads(record["attributesJson"])
            except orjson.JSONDecodeError:
                attributes = []
            items = attributes if isinstance(attributes, list) else []
            pairs = [
                (a["id"], a.get("attribute")) for a in items if isinstance(a, dict) and isinstance(a.get("id"), str)
            ]
            names, texts = attribute_lists(pairs)
            rows.append({"digitalLink": record["digitalLink"], "attributeNames": names, "attributeTexts": texts})
        await graph.write(UPGRADE_LOCATIONS, {"rows": rows})
        upgraded += len(rows)


async def backfill(graph: Graph, *, batch_size: int = BATCH_SIZE) -> BackfillOutcome:
    """Every EPCIS backfill, in bounded batches; a second run changes nothing."""
    events, unreadable = await backfill_events(graph, batch_size=batch_size)
    locations = await backfill_locations(graph, batch_size=batch_size)
    if events or unreadable or locations:
        log.info(
            "EPCIS backfill: %d events given their query fields (%d unreadable), %d master data locations",
            events,
            unreadable,
            locations,
        )
    return BackfillOutcome(events=events, unreadable=unreadable, locations=locations)
