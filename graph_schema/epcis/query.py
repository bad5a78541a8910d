"""SimpleEventQuery parameters (EPCIS 2.0 REST binding, GET /events) parsed into the event store's filter.

A parameter this hub does not answer is refused by name rather than ignored: an ignored filter would
return events the caller did not ask for, and a recall coordinator would not know.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import orjson

from graph_schema.epcis.epc import parse_identifier
from graph_schema.epcis.model import EventType
from graph_schema.epcis.standard import parse_date_time
from graph_schema.epcis.store import EventFilter
from graph_schema.epcis.vocabulary import BIZ_STEP
from graph_schema.errors import HubError, InvalidIdentifier

SUPPORTED: Final = (
    "eventType",
    "GE_eventTime",
    "LT_eventTime",
    "EQ_bizStep",
    "EQ_bizLocation",
    "MATCH_epc",
    "MATCH_epcClass",
    "MATCH_anyEPCClass",
    "perPage",
    "nextPageToken",
)
DEFAULT_PER_PAGE: Final = 30
MAX_PER_PAGE: Final = 1000


class QueryError(HubError):
    """A SimpleEventQuery parameter the hub cannot answer as given."""


@dataclass(frozen=True)
class ParsedQuery:
    filter: EventFilter
    per_page: int
    after: tuple[str, str] | None


def _values(items: list[tuple[str, str]], name: str) -> list[str] | None:
    # the REST binding repeats a parameter or separates its values with '|' (and commas are common too)
    values = [v.strip() for key, value in items if key == name for v in value.replace("|", ",").split(",")]
    values = [v for v in values if v]
    return values or None


def _time(items: list[tuple[str, str]], name: str) -> str | None:
    values = _values(items, name)
    if values is None:
        return None
    try:
        return parse_date_time(values[0]).isoformat()
    except ValueError as error:
        raise QueryError(f"{name}: {error}", field=name) from None


def _patterns(values: list[str] | None, name: str, *, classes: bool) -> list[str] | None:
    """EPCs or classes to match: exact canonical URNs, or prefixes ending in '*' for ``idpat`` patterns."""
    if values is None:
        return None
    patterns: list[str] = []
    for value in values:
        if value.startswith("urn:epc:idpat:"):
            scheme, _, body = value.removeprefix("urn:epc:idpat:").partition(":")
            if not body.endswith("*"):
                raise QueryError(f"{name}: pattern {value!r} must end with '*'", field=name)
            stem = body.rstrip("*")
            if classes and scheme == "sgtin":  # a product pattern matches its lots and the product class itself
                patterns += [f"urn:epc:class:lgtin:{stem}*", f"urn:epc:idpat:sgtin:{stem}*"]
            else:
                patterns.append(f"urn:epc:id:{scheme}:{stem}*")
            continue
        try:
            patterns.append(parse_identifier(value, field=name).canonical)
        except InvalidIdentifier as error:
            raise QueryError(error.message, field=name) from None
    return patterns


def parse_simple_event_query(items: Iterable[tuple[str, str]]) -> ParsedQuery:
    """The store's filter, page size and position from the query string; QueryError naming the parameter."""
    given = list(items)
    for key, _ in given:
        if key not in SUPPORTED:
            raise QueryError(
                f"query parameter {key!r} is not supported by this hub; supported: {', '.join(SUPPORTED)}", field=key
            )
    event_types = _values(given, "eventType")
    for value in event_types or []:
        if value not in {t.value for t in EventType}:
            raise QueryError(f"eventType: {value!r} is not an EPCIS event type", field="eventType")
    biz_steps = _values(given, "EQ_bizStep")
    try:
        steps = [BIZ_STEP.normalise(step, {}) for step in biz_steps] if biz_steps else None
    except ValueError as error:
        raise QueryError(f"EQ_bizStep: {error}", field="EQ_bizStep") from None
    locations = _values(given, "EQ_bizLocation")
    per_page_text = (_values(given, "perPage") or [str(DEFAULT_PER_PAGE)])[0]
    if not per_page_text.isdigit() or not 1 <= int(per_page_text) <= MAX_PER_PAGE:
        raise QueryError(f"perPage must be a whole number from 1 to {MAX_PER_PAGE}", field="perPage")
    tokens = _values(given, "nextPageToken")
    token = tokens[0] if tokens else None
    return ParsedQuery(
        filter=EventFilter(
            event_types=event_types,
            ge_time=_time(given, "GE_eventTime"),
            lt_time=_time(given, "LT_eventTime"),
            biz_steps=steps,
            biz_locations=_patterns(locations, "EQ_bizLocation", classes=False),
            epcs=_patterns(_values(given, "MATCH_epc"), "MATCH_epc", classes=False),
            epc_classes=_patterns(_values(given, "MATCH_epcClass"), "MATCH_epcClass", classes=True),
            any_epc_classes=_patterns(_values(given, "MATCH_anyEPCClass"), "MATCH_anyEPCClass", classes=True),
        ),
        per_page=int(per_page_text),
        after=_position(token) if token else None,
    )


def _position(token: str) -> tuple[str, str]:
    try:
        time, event_id = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, TypeError):
        raise QueryError("nextPageToken is not one this hub issued", field="nextPageToken") from None
    if not isinstance(time, str) or not isinstance(event_id, str):
        raise QueryError("nextPageToken is not one this hub issued", field="nextPageToken")
    return time, event_id
