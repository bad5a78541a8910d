"""What the SimpleEventQuery filters on, taken from one valid event: its terms, facets and scalar fields.

Terms are the values an EPCIS query matches by identifier (EPCs, EPC classes, business transactions, sources,
destinations, corrective event ids, custom business steps and dispositions), each written ``<kind> <value>`` so
that one index on one key answers every MATCH_ and EQ_ parameter of those kinds, exact or by prefix
(``urn:epc:idpat`` patterns). Facets are the other
values a query compares: extension and ILMD fields, quantities and sensor reports, as ``name=value`` texts for
equality and as parallel key and value lists for numbers and times (Neo4j lists hold one type each).

Standards code only: the store (graph_schema.epcis.store) writes what this returns.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from graph_schema.epcis.model import EpcisEvent
from graph_schema.epcis.standard import parse_date_time
from graph_schema.epcis.vocabulary import DISPOSITION, ERROR_REASON, STANDARD_PREFIXES

# Sensor report fields answered by EQ_<field> (text or URI values) and by GE_/GT_/LE_/LT_<field>_<uom> (numbers)
SENSOR_TEXT_FIELDS: Final = (
    "type",
    "deviceID",
    "dataProcessingMethod",
    "microorganism",
    "chemicalSubstance",
    "bizRules",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
)
SENSOR_NUMBER_FIELDS: Final = ("value", "minValue", "maxValue", "meanValue", "sDev", "percValue")
SENSOR_TIME_FIELDS: Final = ("time", "startTime", "endTime")

# The event's own fields: anything else at its top level is an extension (a prefixed name).
_STANDARD_FIELDS: Final = frozenset(
    {
        "@context",
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "certificationInfo",
        "errorDeclaration",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
        "ilmd",
        "quantityList",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
    }
)


def term(kind: str, *parts: str) -> str:
    """The key of one matchable value: ``epc urn:epc:id:sgtin:...``, ``bizTransaction po urn:...``."""
    return " ".join((kind, *parts))


def field_names(name: str, namespaces: dict[str, str]) -> list[str]:
    """The names an extension field is found by: as written (``ex:grade``) and, when its prefix is known, the full
    IRI (``https://example.com/ns/grade``), so a query using another prefix for the same namespace finds it."""
    prefix, sep, local = name.partition(":")
    iri = (namespaces.get(prefix) or STANDARD_PREFIXES.get(prefix)) if sep else None
    return [name, iri + local] if iri is not None and iri + local != name else [name]


@dataclass
class Facets:
    """The filterable values of one event, as the store keeps them."""

    terms: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # "name=value"
    names: list[str] = field(default_factory=list)  # every field present (EXISTS_)
    number_keys: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    time_keys: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)  # ISO 8601 with offset

    def text(self, name: str, value: str) -> None:
        self.texts.append(f"{name}={value}")

    def number(self, name: str, value: float) -> None:
        self.number_keys.append(name)
        self.numbers.append(float(value))

    def time(self, name: str, value: datetime) -> None:
        self.time_keys.append(name)
        # in UTC: Neo4j orders two date-times of one instant in different zones as unequal
        self.times.append(value.astimezone(UTC).isoformat())

    def value(self, name: str, value: Any) -> None:
        """A scalar of an extension or ILMD field: text, number or time (a text that reads as one)."""
        if isinstance(value, bool):
            self.text(name, "true" if value else "false")
        elif isinstance(value, int | float):
            self.number(name, value)
            self.text(name, _number_text(value))
        elif isinstance(value, str):
            self.text(name, value)
            if len(value) >= 20 and value[4:5] == "-":  # only what looks like a date-time is parsed
                with contextlib.suppress(ValueError):
                    self.time(name, parse_date_time(value))


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _walk(facets: Facets, kind: str, inner: str, values: dict[str, Any], namespaces: dict[str, str]) -> None:
    """Top-level fields as ``<kind> <name>``, fields nested at any depth below them as ``<inner> <name>``."""
    for name, value in values.items():
        if name.startswith("@"):
            continue
        for known in field_names(name, namespaces):
            key = f"{kind} {known}"
            facets.names.append(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    _walk(facets, inner, inner, item, namespaces)
                else:
                    facets.value(key, item)


def _extensions(values: dict[str, Any]) -> dict[str, Any]:
    """The extension fields of a sensor element, its metadata or a report: prefixed names or IRIs (the standard's
    own fields have no colon)."""
    return {name: value for name, value in values.items() if ":" in name and not name.startswith("@")}


def _sensor(facets: Facets, elements: list[Any], namespaces: dict[str, str]) -> None:
    if elements:
        facets.names.append("sensorElementList")
    for element in elements:
        if not isinstance(element, dict):
            continue
        metadata = element.get("sensorMetadata") or {}
        reports = [r for r in element.get("sensorReport") or [] if isinstance(r, dict)]
        # EQ_/GT_/.../EXISTS_ SENSORELEMENT_, SENSORMETADATA_, SENSORREPORT_ (and INNER_) of extension fields
        _walk(facets, "sensorElement", "innerSensorElement", _extensions(element), namespaces)
        if isinstance(metadata, dict):
            _walk(facets, "sensorMetadata", "innerSensorMetadata", _extensions(metadata), namespaces)
        for report in reports:
            _walk(facets, "sensorReport", "innerSensorReport", _extensions(report), namespaces)
        for part in [metadata, *reports]:
            if not isinstance(part, dict):
                continue
            for name in SENSOR_TEXT_FIELDS:
                if name in part and not isinstance(part[name], dict | list):
                    facets.value(f"sensor {name}", part[name])
            for name in SENSOR_TIME_FIELDS:
                if isinstance(part.get(name), str):
                    with contextlib.suppress(ValueError):
                        facets.time(f"sensor {name}", parse_date_time(part[name]))
        for report in reports:
            uom = report.get("uom")
            for name in SENSOR_NUMBER_FIELDS:
                number = report.get(name)
                if isinstance(number, int | float) and not isinstance(number, bool):
                    facets.number(f"sensor {name} {uom or ''}".rstrip(), number)
            rank = report.get("percRank")
            if isinstance(rank, int | float) and not isinstance(rank, bool):
                facets.number("sensor percRank", rank)


def event_facets(event: EpcisEvent) -> Facets:
    """The terms and facets of a valid event (see the module's docstring)."""
    facets = Facets()
    terms = facets.terms
    terms += [term("epc", epc) for epc in event.epcs]
    terms += [term("parentID", event.parent_id)] if event.parent_id else []
    terms += [term("inputEPC", epc) for epc in event.input_epcs]
    terms += [term("outputEPC", epc) for epc in event.output_epcs]
    terms += [term("epcClass", q.epc_class) for q in event.quantities]
    terms += [term("inputEPCClass", q.epc_class) for q in event.input_quantities]
    terms += [term("outputEPCClass", q.epc_class) for q in event.output_quantities]
    terms += [term("bizTransaction", t.type or "", t.id) for t in event.biz_transactions]
    terms += [term("source", s.type, s.id) for s in event.sources]
    terms += [term("destination", d.type, d.id) for d in event.destinations]
    # custom business steps and dispositions (full URIs; the CBV's own are compact terms): the REST binding's
    # /bizSteps and /dispositions list them from their terms rather than from every event
    terms += [term("bizStep", event.biz_step)] if event.biz_step and ":" in event.biz_step else []
    terms += [term("disposition", event.disposition)] if event.disposition and ":" in event.disposition else []
    transformation = event.raw.get("transformationID")
    if isinstance(transformation, str):
        terms.append(term("transformationID", transformation))
    declaration = event.error_declaration or {}
    for corrective in declaration.get("correctiveEventIDs") or []:
        if isinstance(corrective, str):
            terms.append(term("correctiveEventID", corrective))
    for quantity in event.classes:
        if quantity.quantity is not None:
            facets.number("quantity", quantity.quantity)
            facets.number(f"quantity {quantity.uom or ''}".rstrip(), quantity.quantity)
    extensions = {k: v for k, v in event.raw.items() if k not in _STANDARD_FIELDS}
    _walk(facets, "field", "inner", extensions, event.namespaces)
    _walk(facets, "ilmd", "innerIlmd", event.ilmd or {}, event.namespaces)
    declared = {k: v for k, v in declaration.items() if k not in ("declarationTime", "reason", "correctiveEventIDs")}
    _walk(facets, "errorDeclaration", "innerErrorDeclaration", declared, event.namespaces)
    _sensor(facets, event.sensor_elements, event.namespaces)
    facets.terms = sorted(set(terms))
    return facets


def error_declaration_fields(event: EpcisEvent) -> dict[str, Any]:
    """The error declaration's time (ISO 8601) and reason (a compact CBV term or a URI), when the event has one."""
    declaration = event.error_declaration
    if not declaration:
        return {"errorDeclarationTime": None, "errorReason": None}
    reason = declaration.get("reason")
    if isinstance(reason, str):
        with contextlib.suppress(ValueError):
            reason = ERROR_REASON.normalise(reason, event.namespaces)
    when = declaration.get("declarationTime")
    try:
        time = parse_date_time(when).astimezone(UTC).isoformat() if isinstance(when, str) else None
    except ValueError:
        time = None
    return {"errorDeclarationTime": time, "errorReason": reason if isinstance(reason, str) else None}


def persistent_dispositions(event: EpcisEvent) -> tuple[list[str], list[str]]:
    """The dispositions the event sets and unsets persistently (compact CBV terms or URIs)."""
    persistent = event.raw.get("persistentDisposition")
    found: tuple[list[str], list[str]] = ([], [])
    if isinstance(persistent, dict):
        for key, into in (("set", found[0]), ("unset", found[1])):
            for value in persistent.get(key) or []:
                if isinstance(value, str):
                    try:
                        into.append(DISPOSITION.normalise(value, event.namespaces))
                    except ValueError:
                        into.append(value)
    return found
