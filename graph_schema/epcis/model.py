"""One captured EPCIS 2.0 event, validated and normalised: what the graph mapping and the event store read.

The validator (``graph_schema.epcis.validation``) builds these from the JSON-LD of a document or of a single
event; every identifier is already checked and put in one canonical form, so the mapping never parses again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    OBJECT = "ObjectEvent"
    AGGREGATION = "AggregationEvent"
    TRANSACTION = "TransactionEvent"
    TRANSFORMATION = "TransformationEvent"
    ASSOCIATION = "AssociationEvent"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassQuantity(Frozen):
    """A quantity of one EPC class: with a lot, an LGTIN; without one, a whole product (GTIN) class."""

    epc_class: str  # canonical: urn:epc:class:lgtin:... (with lot) or urn:epc:idpat:sgtin:<prefix>.<item>.* (no lot)
    given: str  # as written in the document (URN or GS1 Digital Link), for error messages and round trips
    gtin: str | None  # 14 digits, when the class is a GTIN-based class
    lot: str | None  # the lot number, when the class names one
    quantity: float | None  # None when the document gives no quantity
    uom: str | None  # UN/CEFACT code such as KGM; None means a count of items


class PartyOrLocation(Frozen):
    """One entry of a sourceList or destinationList: its CBV type and the party or location it names."""

    type: str  # compact CBV term: owning_party, possessing_party, location (or a full URI for others)
    id: str  # canonical EPC URN (urn:epc:id:pgln:..., urn:epc:id:sgln:...) or the URI as given
    gln: str | None  # 13-digit GLN of an sgln (location) or pgln (party), when there is one


class BizTransaction(Frozen):
    type: str | None  # compact CBV term (po, desadv, bol, inv, ...) or a full URI
    id: str  # the business transaction identifier as given (URN or URI)


class EpcisEvent(Frozen):
    """A valid EPCIS 2.0 event in canonical form, with its place in the document it came in."""

    index: int  # position in the document's eventList (0-based), or 0 for a single event
    type: EventType
    event_id: str  # the eventID given, else the CBV 2.0 event hash ("ni:///sha-256;...?ver=CBV2.0")
    event_hash: str  # the CBV 2.0 event hash of the content, always computed (idempotency and 409 checks)
    event_time: datetime  # time zone aware
    event_time_zone_offset: str  # "+09:00"
    record_time: datetime | None = None
    action: str | None = None  # ADD, OBSERVE, DELETE; None for TransformationEvent
    biz_step: str | None = None  # compact CBV term ("shipping") for standard steps, the full URI for custom ones
    disposition: str | None = None  # compact CBV term or a custom URI
    read_point: str | None = None  # canonical urn:epc:id:sgln:... (or the URI as given when not an SGLN)
    read_point_gln: str | None = None
    biz_location: str | None = None
    biz_location_gln: str | None = None  # the 13-digit GLN of the business location (the site)
    parent_id: str | None = None
    epcs: list[str] = Field(default_factory=list)  # instance ids: epcList, childEPCs (canonical URNs)
    quantities: list[ClassQuantity] = Field(default_factory=list)  # quantityList, childQuantityList
    input_epcs: list[str] = Field(default_factory=list)
    input_quantities: list[ClassQuantity] = Field(default_factory=list)
    output_epcs: list[str] = Field(default_factory=list)
    output_quantities: list[ClassQuantity] = Field(default_factory=list)
    sources: list[PartyOrLocation] = Field(default_factory=list)
    destinations: list[PartyOrLocation] = Field(default_factory=list)
    biz_transactions: list[BizTransaction] = Field(default_factory=list)
    ilmd: dict[str, Any] | None = None  # instance/lot master data, keys as written (prefixed, e.g. cbvmda:...)
    sensor_elements: list[dict[str, Any]] = Field(default_factory=list)  # sensorElementList as written
    error_declaration: dict[str, Any] | None = None
    raw: dict[str, Any]  # the event's JSON as received (for storage, query answers and round trips)
    namespaces: dict[str, str] = Field(default_factory=dict)  # prefix -> IRI of the extensions the event uses

    @property
    def classes(self) -> list[ClassQuantity]:
        """Every EPC class the event names, inputs and outputs included."""
        return [*self.quantities, *self.input_quantities, *self.output_quantities]


class EventError(Frozen):
    """What is wrong with one event of a document, and where."""

    index: int | None  # the event's index in eventList; None for the document's header
    event_id: str | None = None
    field: str  # a JSON path inside the event, e.g. "quantityList[1].quantity", or the header field
    code: str  # stable: BAD_USER_INPUT, NOT_FOUND, FORBIDDEN, CONFLICT
    message: str
