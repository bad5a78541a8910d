"""Reads of the stored EPCIS events: the SimpleEventQuery, one event by its id, the vocabularies in use.

Every read is one Cypher query with the caller's visibility inside it (EVENT_VISIBLE). The SimpleEventQuery's
text is put together from the constant fragments below, chosen by which parameters are present (every value
is a $parameter): the most selective parameter given starts the match from its index (an event id, an
identifier of graph_schema.epcis.facets' terms, a read point or business location), the others filter the
events found, and with none of those the events are read in time order from the time index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, LiteralString

from graph_schema.access import LOT_IN_DETAIL, Viewer
from graph_schema.db import Graph, Row

# An event is shown to the firm that captured it, to viewers who see its site's firm in detail, and to
# viewers who may see in detail any lot it concerns (the trace rules of graph_schema.access).
EVENT_VISIBLE: Final = (
    "(e.capturedBy IN $detailFirms OR e.siteFirmId IN $detailFirms"
    " OR EXISTS { MATCH (e)-[:CONCERNS]->(l:Lot) WHERE " + LOT_IN_DETAIL + " })"
)

FAR_PAST: Final = "0001-01-01T00:00:00Z"
FAR_FUTURE: Final = "9999-12-31T23:59:59Z"

# --- where the match starts -------------------------------------------------------------------------------------

# Both time starts name their index and ask for a seek: the planner, left to itself, was seen scanning the label
# or the whole index when its statistics were out of date (the range, even unbounded, reads the index in order)
START_BY_TIME: Final = """
MATCH (e:EpcisEvent) USING INDEX SEEK e:EpcisEvent(eventTime)
WHERE e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
"""
# told, as the time index would otherwise be chosen for the order whatever the record times ask for
START_BY_RECORD_TIME: Final = """
MATCH (e:EpcisEvent) USING INDEX SEEK e:EpcisEvent(recordTime)
WHERE e.recordTime >= datetime($geRecordTime) AND e.recordTime < datetime($ltRecordTime)
  AND e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
"""
START_BY_EVENT_ID: Final = """
UNWIND $eventIds AS startId
MATCH (e:EpcisEvent {eventId: startId})
WITH DISTINCT e
WHERE e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
"""
# the first MATCH_/EQ_ identifier parameter: its terms by key (exact values) and by prefix (idpat patterns)
START_BY_TERM: Final = """
CALL () {
  UNWIND $start.keys AS startKey
  MATCH (t:EpcisTerm {key: startKey})
  RETURN t
  UNION
  UNWIND $start.prefixes AS startPrefix
  MATCH (t:EpcisTerm) WHERE t.key STARTS WITH startPrefix
  RETURN t
}
MATCH (e:EpcisEvent)-[:HAS_TERM]->(t)
WITH DISTINCT e
WHERE e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
"""
START_BY_READ_POINT: Final = """
UNWIND $readPoints AS startPlace
MATCH (e:EpcisEvent {readPoint: startPlace})
WITH DISTINCT e
WHERE e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
"""
START_BY_BIZ_LOCATION: Final = """
UNWIND $bizLocations AS startPlace
MATCH (e:EpcisEvent {bizLocation: startPlace})
WITH DISTINCT e
WHERE e.eventTime >= datetime($geTime) AND e.eventTime < datetime($ltTime)
"""

# --- what every event found must also satisfy (a null parameter: no restriction) -------------------------------

FILTERS: Final = (
    """
  AND ($eventTypes IS NULL OR e.eventType IN $eventTypes)
  AND ($geRecordTime IS NULL OR e.recordTime >= datetime($geRecordTime))
  AND ($ltRecordTime IS NULL OR e.recordTime < datetime($ltRecordTime))
  AND ($eventIds IS NULL OR e.eventId IN $eventIds)
  AND ($actions IS NULL OR e.action IN $actions)
  AND ($bizSteps IS NULL OR e.bizStep IN $bizSteps)
  AND ($dispositions IS NULL OR e.disposition IN $dispositions)
  AND ($persistentSet IS NULL OR any(d IN coalesce(e.persistentSet, []) WHERE d IN $persistentSet))
  AND ($persistentUnset IS NULL OR any(d IN coalesce(e.persistentUnset, []) WHERE d IN $persistentUnset))
  AND ($readPoints IS NULL OR e.readPoint IN $readPoints)
  AND ($bizLocations IS NULL OR e.bizLocation IN $bizLocations)
  AND ($errorDeclared IS NULL OR e.errorDeclarationTime IS NOT NULL)
  AND ($geErrorTime IS NULL OR e.errorDeclarationTime >= datetime($geErrorTime))
  AND ($ltErrorTime IS NULL OR e.errorDeclarationTime < datetime($ltErrorTime))
  AND ($errorReasons IS NULL OR e.errorReason IN $errorReasons)
  AND all(g IN $termGroups WHERE any(k IN coalesce(e.terms, [])
      WHERE k IN g.keys OR any(p IN g.prefixes WHERE k STARTS WITH p)))
  AND all(g IN $facetGroups WHERE any(a IN g WHERE
      CASE a.kind
        WHEN 'text' THEN a.text IN coalesce(e.facets, [])
        WHEN 'name' THEN a.key IN coalesce(e.fieldNames, [])
        WHEN 'number' THEN any(i IN range(0, size(coalesce(e.numberKeys, [])) - 1) WHERE e.numberKeys[i] = a.key AND
          CASE a.op WHEN 'EQ' THEN e.numbers[i] = a.number WHEN 'GT' THEN e.numbers[i] > a.number
            WHEN 'GE' THEN e.numbers[i] >= a.number WHEN 'LT' THEN e.numbers[i] < a.number
            ELSE e.numbers[i] <= a.number END)
        ELSE any(i IN range(0, size(coalesce(e.timeKeys, [])) - 1) WHERE e.timeKeys[i] = a.key AND
          CASE a.op WHEN 'EQ' THEN e.times[i] = datetime(a.time) WHEN 'GT' THEN e.times[i] > datetime(a.time)
            WHEN 'GE' THEN e.times[i] >= datetime(a.time) WHEN 'LT' THEN e.times[i] < datetime(a.time)
            ELSE e.times[i] <= datetime(a.time) END)
      END))
  AND """
    + EVENT_VISIBLE
    + """
WITH e
WHERE ($wdReadPoints IS NULL OR e.readPoint IN $wdReadPoints.exact
       OR any(p IN $wdReadPoints.prefixes WHERE e.readPoint STARTS WITH p)
       OR EXISTS { MATCH (:EpcisLocation {digitalLink: e.readPointLink})<-[:HAS_CHILD*1..8]-(a:EpcisLocation)
                   WHERE a.digitalLink IN $wdReadPoints.links })
  AND ($wdBizLocations IS NULL OR e.bizLocation IN $wdBizLocations.exact
       OR any(p IN $wdBizLocations.prefixes WHERE e.bizLocation STARTS WITH p)
       OR EXISTS { MATCH (:EpcisLocation {digitalLink: e.bizLocationLink})<-[:HAS_CHILD*1..8]-(a:EpcisLocation)
                   WHERE a.digitalLink IN $wdBizLocations.links })
  AND all(g IN $attributeGroups WHERE EXISTS {
      MATCH (l:EpcisLocation
             {digitalLink: CASE g.field WHEN 'readPoint' THEN e.readPointLink ELSE e.bizLocationLink END})
      WHERE any(n IN coalesce(l.attributeNames, []) WHERE n IN g.names)
         OR any(t IN coalesce(l.attributeTexts, []) WHERE t IN g.texts) })
"""
)

# --- order and page ---------------------------------------------------------------------------------------------

SORT_BY_EVENT_TIME: Final = "WITH e, e.eventTime AS sortKey\n"
SORT_BY_RECORD_TIME: Final = "WITH e, e.recordTime AS sortKey\n"
PAGE_ASCENDING: Final = """WHERE $after IS NULL OR sortKey > datetime($after.time)
   OR (sortKey = datetime($after.time) AND e.eventId > $after.id)
WITH e, sortKey ORDER BY sortKey, e.eventId
"""
PAGE_DESCENDING: Final = """WHERE $after IS NULL OR sortKey < datetime($after.time)
   OR (sortKey = datetime($after.time) AND e.eventId < $after.id)
WITH e, sortKey ORDER BY sortKey DESC, e.eventId DESC
"""
RETURN_PAGE: Final = """LIMIT $limit
RETURN e.eventId AS eventId, sortKey, e.capturedBy AS capturedBy, e.json AS json
"""
# orderBy an extension field: its first number, else time, else text; the kind found ranks first (events lacking
# the field last, as the standard leaves them anywhere), so that a page's end compares like with like
SORT_BY_FIELD: Final = """WITH e,
  [i IN range(0, size(coalesce(e.numberKeys, [])) - 1) WHERE e.numberKeys[i] IN $orderKeys | e.numbers[i]] AS numbers
WITH e, numbers, CASE WHEN size(numbers) > 0 THEN [] ELSE
  [i IN range(0, size(coalesce(e.timeKeys, [])) - 1) WHERE e.timeKeys[i] IN $orderKeys | e.times[i]] END AS times
WITH e, numbers, times, CASE WHEN size(numbers) + size(times) > 0 THEN [] ELSE
  [t IN coalesce(e.facets, []) WHERE any(k IN $orderKeys WHERE t STARTS WITH k + '=')
   | substring(t, size(split(t, '=')[0]) + 1)] END AS texts
WITH e,
     CASE WHEN size(numbers) > 0 THEN 0 WHEN size(times) > 0 THEN 1 WHEN size(texts) > 0 THEN 2 ELSE 3 END AS sortRank,
     coalesce(numbers[0], times[0], texts[0], '') AS sortKey
WITH e, sortRank, sortKey,
     CASE $after.rank WHEN 1 THEN datetime($after.key) ELSE $after.key END AS afterKey
"""
PAGE_BY_FIELD_ASCENDING: Final = """WHERE $after IS NULL OR sortRank > $after.rank
   OR (sortRank = $after.rank AND (sortKey > afterKey OR (sortKey = afterKey AND e.eventId > $after.id)))
WITH e, sortRank, sortKey ORDER BY sortRank, sortKey, e.eventId
"""
PAGE_BY_FIELD_DESCENDING: Final = """WHERE $after IS NULL OR sortRank > $after.rank
   OR (sortRank = $after.rank AND (sortKey < afterKey OR (sortKey = afterKey AND e.eventId < $after.id)))
WITH e, sortRank, sortKey ORDER BY sortRank, sortKey DESC, e.eventId DESC
"""
RETURN_FIELD_PAGE: Final = """LIMIT $limit
RETURN e.eventId AS eventId, sortKey, sortRank, e.capturedBy AS capturedBy, e.json AS json
"""
TIME_ORDERS: Final = ("eventTime", "recordTime")
RETURN_COUNT: Final = """WITH e LIMIT $countLimit
RETURN count(e) AS matched
"""


@dataclass(frozen=True)
class TermMatch:
    """One identifier parameter (MATCH_epc, EQ_bizTransaction_po, ...): an event matches when one of its terms
    is among ``keys`` or starts with one of ``prefixes``."""

    keys: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def param(self) -> dict[str, list[str]]:
        return {"keys": list(self.keys), "prefixes": list(self.prefixes)}


@dataclass(frozen=True)
class Places:
    """EQ_ or WD_ locations: exact URIs, and prefixes standing for a site with every sub-location under it."""

    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # Digital Links of the same places: their master data children are within them

    def param(self) -> dict[str, list[str]]:
        return {"exact": list(self.exact), "prefixes": list(self.prefixes), "links": list(self.links)}


@dataclass(frozen=True)
class EventFilter:
    """The SimpleEventQuery, normalised: None (or empty) places no restriction."""

    event_types: list[str] | None = None
    ge_time: str | None = None
    lt_time: str | None = None
    ge_record_time: str | None = None
    lt_record_time: str | None = None
    event_ids: list[str] | None = None
    actions: list[str] | None = None
    biz_steps: list[str] | None = None
    dispositions: list[str] | None = None
    persistent_set: list[str] | None = None
    persistent_unset: list[str] | None = None
    read_points: list[str] | None = None
    wd_read_points: Places | None = None
    biz_locations: list[str] | None = None
    wd_biz_locations: Places | None = None
    error_declared: bool | None = None
    ge_error_time: str | None = None
    lt_error_time: str | None = None
    error_reasons: list[str] | None = None
    terms: tuple[TermMatch, ...] = ()
    # each group is one parameter: an event satisfies it when one of its alternatives holds
    # ({"kind": "text", "text": "name=value"}, {"kind": "name", "key"}, {"kind": "number"|"time", "key", "op", ...})
    facets: tuple[tuple[dict[str, Any], ...], ...] = ()
    # HASATTR_/EQATTR_: {"field": "bizLocation"|"readPoint", "names": [attribute URIs], "texts": ["<URI>=<value>"]};
    # the event's place has master data with one of the names (HASATTR_) or one of the texts (EQATTR_)
    attributes: tuple[dict[str, Any], ...] = ()
    order_by: str = "eventTime"  # or recordTime, or an extension field's name (its facet keys in order_keys)
    order_keys: tuple[str, ...] = ()
    descending: bool = False

    @property
    def by_field(self) -> bool:
        """Whether the order is an extension field's (not eventTime or recordTime)."""
        return self.order_by not in TIME_ORDERS


@dataclass(frozen=True)
class Position:
    """Where the previous page ended: its last event's sort key (ISO 8601 for a time order) and id; ordered by an
    extension field, the kind of its key (0 number, 1 time, 2 text, 3 none) and the key."""

    time: str
    event_id: str
    rank: int | None = None
    key: float | str | None = None

    def param(self) -> dict[str, Any]:
        if self.rank is None:
            return {"time": self.time, "id": self.event_id}
        return {"rank": self.rank, "key": self.key, "id": self.event_id}


@dataclass
class _Plan:
    text: LiteralString
    params: dict[str, Any] = field(default_factory=dict)


def _plan(query: EventFilter) -> _Plan:
    params: dict[str, Any] = {
        "eventTypes": query.event_types,
        "geTime": query.ge_time or FAR_PAST,
        "ltTime": query.lt_time or FAR_FUTURE,
        "geRecordTime": query.ge_record_time,
        "ltRecordTime": query.lt_record_time,
        "eventIds": query.event_ids,
        "actions": query.actions,
        "bizSteps": query.biz_steps,
        "dispositions": query.dispositions,
        "persistentSet": query.persistent_set,
        "persistentUnset": query.persistent_unset,
        "readPoints": query.read_points,
        "wdReadPoints": query.wd_read_points.param() if query.wd_read_points else None,
        "bizLocations": query.biz_locations,
        "wdBizLocations": query.wd_biz_locations.param() if query.wd_biz_locations else None,
        "errorDeclared": True if query.error_declared else None,
        "geErrorTime": query.ge_error_time,
        "ltErrorTime": query.lt_error_time,
        "errorReasons": query.error_reasons,
        "termGroups": [match.param() for match in query.terms],
        "facetGroups": [list(group) for group in query.facets],
        "attributeGroups": [
            {"field": g["field"], "names": list(g.get("names") or []), "texts": list(g.get("texts") or [])}
            for g in query.attributes
        ],
        "orderKeys": list(query.order_keys),
    }
    start: LiteralString
    if query.event_ids:
        start = START_BY_EVENT_ID
    elif query.terms:
        # the match starts from the first identifier parameter; exact keys before prefixes, being narrower
        first = min(query.terms, key=lambda match: (len(match.prefixes) > 0, len(match.keys) + len(match.prefixes)))
        params["start"] = first.param()
        start = START_BY_TERM
    elif query.read_points:
        start = START_BY_READ_POINT
    elif query.biz_locations:
        start = START_BY_BIZ_LOCATION
    elif query.order_by == "recordTime" or (
        (query.ge_record_time or query.lt_record_time) and not (query.ge_time or query.lt_time)
    ):
        params["geRecordTime"] = query.ge_record_time or FAR_PAST
        params["ltRecordTime"] = query.lt_record_time or FAR_FUTURE
        start = START_BY_RECORD_TIME
    else:
        start = START_BY_TIME
    return _Plan(start + FILTERS, params)


def _ordered(query: EventFilter) -> LiteralString:
    if query.by_field:
        page = PAGE_BY_FIELD_DESCENDING if query.descending else PAGE_BY_FIELD_ASCENDING
        return SORT_BY_FIELD + page + RETURN_FIELD_PAGE
    sort = SORT_BY_RECORD_TIME if query.order_by == "recordTime" else SORT_BY_EVENT_TIME
    return sort + (PAGE_DESCENDING if query.descending else PAGE_ASCENDING) + RETURN_PAGE


def query_text(query: EventFilter) -> LiteralString:
    """The Cypher that answers ``query`` (for plan tests)."""
    return _plan(query).text + _ordered(query)


async def query_events(
    graph: Graph, viewer: Viewer, query: EventFilter, *, after: Position | None, limit: int
) -> list[Row]:
    """A page of the events the viewer may see that match the query, in the query's order."""
    plan = _plan(query)
    params = {**plan.params, "after": after.param() if after else None, "limit": limit, **viewer.params()}
    return await graph.read(plan.text + _ordered(query), params)


async def count_events(graph: Graph, viewer: Viewer, query: EventFilter, *, at_most: int) -> int:
    """How many events the viewer may see match the query, counted up to ``at_most``."""
    plan = _plan(query)
    rows = await graph.read(plan.text + RETURN_COUNT, {**plan.params, "countLimit": at_most, **viewer.params()})
    return int(rows[0]["matched"])


def query_params(viewer: Viewer, query: EventFilter, *, limit: int) -> dict[str, Any]:
    """The parameters of ``query_text(query)`` (for plan tests and benchmarks)."""
    return {**_plan(query).params, "after": None, "limit": limit, **viewer.params()}


# --- one event --------------------------------------------------------------------------------------------------

EVENT_BY_ID: Final = (
    """
MATCH (e:EpcisEvent {eventId: $eventId})
WHERE """
    + EVENT_VISIBLE
    + """
RETURN e.eventId AS eventId, e.capturedBy AS capturedBy, e.json AS json
"""
)


async def event_by_id(graph: Graph, viewer: Viewer, event_id: str) -> Row | None:
    """The event if the viewer may see it (an unknown id and a hidden event look alike)."""
    rows = await graph.read(EVENT_BY_ID, {"eventId": event_id, **viewer.params()})
    return rows[0] if rows else None


# --- the vocabularies and places in use ---------------------------------------------------------------------------

VALUES_IN_USE: Final[dict[str, LiteralString]] = {
    "bizLocation": (
        """
MATCH (e:EpcisEvent) WHERE e.bizLocation > $after AND """
        + EVENT_VISIBLE
        + """
WITH DISTINCT e.bizLocation AS value ORDER BY value LIMIT $limit
RETURN value
"""
    ),
    "readPoint": (
        """
MATCH (e:EpcisEvent) WHERE e.readPoint > $after AND """
        + EVENT_VISIBLE
        + """
WITH DISTINCT e.readPoint AS value ORDER BY value LIMIT $limit
RETURN value
"""
    ),
    # custom vocabulary values are full URIs; the CBV's own are compact terms, listed without looking
    "bizStep": (
        """
MATCH (e:EpcisEvent) WHERE e.bizStep CONTAINS ':' AND e.bizStep > $after AND """
        + EVENT_VISIBLE
        + """
WITH DISTINCT e.bizStep AS value ORDER BY value LIMIT $limit
RETURN value
"""
    ),
    "disposition": (
        """
MATCH (e:EpcisEvent) WHERE e.disposition CONTAINS ':' AND e.disposition > $after AND """
        + EVENT_VISIBLE
        + """
WITH DISTINCT e.disposition AS value ORDER BY value LIMIT $limit
RETURN value
"""
    ),
}


async def values_in_use(graph: Graph, viewer: Viewer, field: str, *, after: str, limit: int) -> list[str]:
    """Distinct values of one event field among the events the viewer may see, in order, after ``after``."""
    if field in TERM_KINDS:
        return await terms_in_use(graph, viewer, TERM_KINDS[field], after=after, limit=limit)
    rows = await graph.read(VALUES_IN_USE[field], {"after": after, "limit": limit, **viewer.params()})
    return [row["value"] for row in rows]


# Values kept as terms (graph_schema.epcis.facets): read in key order from the terms' unique index, each kept when
# one event the viewer may see has it, so that a page costs its own terms rather than a scan of every event.
TERMS_IN_USE: Final = (
    """
UNWIND $kinds AS kind
CALL (kind) {
  MATCH (t:EpcisTerm)
  WHERE t.key STARTS WITH kind + ' ' AND t.key > kind + ' ' + $after
    AND EXISTS { MATCH (e:EpcisEvent)-[:HAS_TERM]->(t) WHERE """
    + EVENT_VISIBLE
    + """ }
  WITH t ORDER BY t.key LIMIT $limit
  RETURN substring(t.key, size(kind) + 1) AS value
}
WITH DISTINCT value ORDER BY value LIMIT $limit
RETURN value
"""
)
# the custom business steps and dispositions, and every identifier /epcs lists (instances and classes)
TERM_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "bizStep": ("bizStep",),
    "disposition": ("disposition",),
    "epc": ("epc", "parentID", "inputEPC", "outputEPC", "epcClass", "inputEPCClass", "outputEPCClass"),
}


async def terms_in_use(graph: Graph, viewer: Viewer, kinds: tuple[str, ...], *, after: str, limit: int) -> list[str]:
    """Distinct values of terms of these kinds that events the viewer may see have, in order, after ``after``."""
    rows = await graph.read(TERMS_IN_USE, {"kinds": list(kinds), "after": after, "limit": limit, **viewer.params()})
    return [row["value"] for row in rows]


def position_after(row: Row) -> Position:
    """Where a page ending on ``row`` ends: the next page's ``after``."""
    key = sort_position(row)
    if isinstance(key, str):
        return Position(time=key, event_id=row["eventId"])
    return Position(time="", event_id=row["eventId"], rank=key[0], key=key[1])


def sort_position(row: Row) -> Any:
    """A page's last event's sort key as a page token keeps it: ISO 8601 for a time order, else [kind, key]."""
    rank = row.get("sortRank")
    if rank is None:
        return iso(row["sortKey"])
    key = row["sortKey"]
    return [int(rank), iso(key) if rank == 1 else float(key) if rank == 0 else str(key)]


def iso(value: Any) -> str:
    """A sort key or time from Neo4j as ISO 8601 text."""
    return value.iso_format() if hasattr(value, "iso_format") else datetime.fromisoformat(str(value)).isoformat()


# --- captures, for the sweep of pushes a dying process left unpublished -------------------------------------------

RECENT_CAPTURES: Final = """
MATCH (e:EpcisEvent) WHERE e.recordTime >= datetime($since)
WITH e.captureId AS captureId, e.capturedBy AS firmId, min(e.recordTime) AS recordTime, count(*) AS captured
ORDER BY recordTime LIMIT $limit
RETURN captureId, firmId, recordTime, captured
"""


async def recent_captures(graph: Graph, *, since: str, limit: int) -> list[Row]:
    """The captures that wrote events since ``since`` (ISO 8601), oldest first: id, firm, record time, events."""
    return await graph.read(RECENT_CAPTURES, {"since": since, "limit": limit})
