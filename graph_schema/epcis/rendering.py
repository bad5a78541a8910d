"""Stored EPCIS events written out for a query's answer: identifiers as EPC URNs or GS1 Digital Links, and the
EPCIS 2.0 XML binding of an EPCISQueryDocument.

The event store keeps each event's JSON-LD as received (``store.event_row``). ``translate_identifiers`` rewrites
its GS1 identifiers as the client's ``GS1-EPC-Format`` asks. ``query_document_xml`` writes the events in the XML
binding, elements in the order of the standard's XSD, CBV terms as their URNs, extension fields as elements of
their own namespaces: the inverse of ``xml_reading``, so an event written out and read back has the same CBV 2.0
event hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Final

from lxml import etree

from graph_schema.epcis import vocabulary as voc
from graph_schema.epcis.epc import Gs1Id, parse_identifier
from graph_schema.epcis.xml_reading import ELEMENT_ORDER, EPCIS_2_NS
from graph_schema.errors import InvalidIdentifier

EPCIS_QUERY_NS: Final = "urn:epcglobal:epcis-query:xsd:2"


class EpcFormat(StrEnum):
    """The values of the ``GS1-EPC-Format`` header (EPCIS 2.0 section 12.1)."""

    NO_PREFERENCE = "No_Preference"
    DIGITAL_LINK = "Always_GS1_Digital_Link"
    URN = "Always_EPC_URN"
    NEVER_TRANSLATES = "Never_Translates"


# --- identifiers ---------------------------------------------------------------------------------------------------

_ID_LISTS: Final = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_CLASS_LISTS: Final = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def _translated(value: object, fmt: EpcFormat) -> object:
    if not isinstance(value, str):
        return value
    try:
        parsed: Gs1Id = parse_identifier(value, field="id")
    except InvalidIdentifier:
        return value
    if parsed.scheme == "uri":
        return value  # not a GS1 key: nothing to translate to
    if fmt is EpcFormat.DIGITAL_LINK:
        return parsed.digital_link or value
    return parsed.canonical


def translate_identifiers(event: dict[str, Any], fmt: EpcFormat) -> dict[str, Any]:
    """The event with its EPCs, classes, parent, locations and parties as ``fmt`` asks (as stored otherwise)."""
    if fmt in (EpcFormat.NO_PREFERENCE, EpcFormat.NEVER_TRANSLATES):
        return event
    out = dict(event)
    for key in _ID_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_translated(value, fmt) for value in out[key]]
    for key in _CLASS_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [
                {**entry, "epcClass": _translated(entry.get("epcClass"), fmt)} if isinstance(entry, dict) else entry
                for entry in out[key]
            ]
    if "parentID" in out:
        out["parentID"] = _translated(out["parentID"], fmt)
    for key in ("readPoint", "bizLocation"):
        if isinstance(out.get(key), dict) and "id" in out[key]:
            out[key] = {**out[key], "id": _translated(out[key]["id"], fmt)}
    for key, item in (("sourceList", "source"), ("destinationList", "destination")):
        if isinstance(out.get(key), list):
            out[key] = [
                {**entry, item: _translated(entry.get(item), fmt)} if isinstance(entry, dict) else entry
                for entry in out[key]
            ]
    return out


# --- the XML binding -----------------------------------------------------------------------------------------------

# CBV terms written compactly in JSON-LD, as the URNs (or web URIs) the XML binding carries
_TERMS: Final[dict[str, voc.Vocabulary]] = {
    "bizStep": voc.BIZ_STEP,
    "disposition": voc.DISPOSITION,
    "set": voc.DISPOSITION,
    "unset": voc.DISPOSITION,
    "reason": voc.ERROR_REASON,
}
_TYPED: Final = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_TYPED_VOCABULARY: Final = {
    "bizTransactionList": voc.BIZ_TRANSACTION_TYPE,
    "sourceList": voc.SOURCE_DESTINATION_TYPE,
    "destinationList": voc.SOURCE_DESTINATION_TYPE,
}
# sensor terms keep the gs1: CURIE the XML binding's examples use (the hash expands it as it does a bare term)
_SENSOR_TERMS: Final = {"type": "gs1:", "exception": "gs1:", "component": "cbv:Comp-"}
_SKIP: Final = frozenset({"@context", "type"})
# the standard prefixes as XML namespaces: CBV master data is urn:epcglobal:cbv:mda in the XML binding (no colon)
_XML_PREFIXES: Final = {**voc.STANDARD_PREFIXES, "cbvmda": "urn:epcglobal:cbv:mda"}
_NCNAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _term(value: object, vocabulary: voc.Vocabulary) -> str:
    text = _text(value)
    if text in vocabulary.terms:
        return (vocabulary.urn_prefix or vocabulary.web_prefix) + text
    return text


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


class _Writer:
    def __init__(self, namespaces: dict[str, str]) -> None:
        self.namespaces = namespaces  # prefix -> IRI of the event's extension fields

    def tag(self, key: str) -> str:
        """The element name of a JSON key: unqualified for the standard's, {namespace}local for extensions."""
        if key.startswith(("http://", "https://", "urn:")):
            cut = max(key.rfind("/"), key.rfind("#"), key.rfind(":"))
            return "{" + key[: cut + 1] + "}" + key[cut + 1 :]
        prefix, sep, local = key.partition(":")
        if sep:
            iri = self.namespaces.get(prefix) or _XML_PREFIXES.get(prefix) or f"urn:x-prefix:{prefix}:"
            return "{" + iri + "}" + local
        return key

    def extension(self, parent: Any, key: str, value: Any) -> None:
        """An extension field (or ilmd entry): lists repeat the element, objects nest."""
        if isinstance(value, list):
            for item in value:
                self.extension(parent, key, item)
            return
        element = etree.SubElement(parent, self.tag(key))
        if isinstance(value, dict):
            for inner, item in value.items():
                self.extension(element, inner, item)
        else:
            element.text = _text(value)

    def event(self, parent: Any, event: dict[str, Any]) -> None:
        kind = str(event.get("type", "ObjectEvent"))
        # the event's prefixes declared on it: its extension elements use them, and CURIE values name them
        declared = {prefix: iri for prefix, iri in self.namespaces.items() if _NCNAME.fullmatch(prefix)}
        element = etree.SubElement(parent, kind, nsmap=declared)
        order = ELEMENT_ORDER.get(kind, ())
        for key in order:
            if key in event:
                self.standard(element, key, event[key])
        for key, value in event.items():
            if key not in order and key not in _SKIP:
                self.extension(element, key, value)

    def standard(self, parent: Any, key: str, value: Any) -> None:
        if key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
            holder = etree.SubElement(parent, key)
            for epc in value or []:
                etree.SubElement(holder, "epc").text = _text(epc)
        elif key in _CLASS_LISTS:
            holder = etree.SubElement(parent, key)
            for entry in value or []:
                item = etree.SubElement(holder, "quantityElement")
                for name in ("epcClass", "quantity", "uom"):
                    if name in entry:
                        etree.SubElement(item, name).text = _text(entry[name])
        elif key in _TYPED:
            holder = etree.SubElement(parent, key)
            for entry in value or []:
                item = etree.SubElement(holder, _TYPED[key])
                if "type" in entry:
                    item.set("type", _term(entry["type"], _TYPED_VOCABULARY[key]))
                item.text = _text(entry.get(_TYPED[key]))
        elif key in ("readPoint", "bizLocation"):
            holder = etree.SubElement(parent, key)
            etree.SubElement(holder, "id").text = _text(value.get("id"))
            for inner, item in value.items():
                if inner != "id":
                    self.extension(holder, inner, item)
        elif key == "persistentDisposition":
            holder = etree.SubElement(parent, key)
            for name in ("unset", "set"):
                for term in value.get(name) or []:
                    etree.SubElement(holder, name).text = _term(term, voc.DISPOSITION)
        elif key == "errorDeclaration":
            holder = etree.SubElement(parent, key)
            for inner, item in value.items():
                if inner == "declarationTime":
                    etree.SubElement(holder, inner).text = _text(item)
                elif inner == "reason":
                    etree.SubElement(holder, inner).text = _term(item, voc.ERROR_REASON)
                elif inner == "correctiveEventIDs":
                    ids = etree.SubElement(holder, inner)
                    for event_id in item or []:
                        etree.SubElement(ids, "correctiveEventID").text = _text(event_id)
                else:
                    self.extension(holder, inner, item)
        elif key == "sensorElementList":
            holder = etree.SubElement(parent, key)
            for sensor in value or []:
                self.sensor_element(holder, sensor)
        elif key == "ilmd":
            holder = etree.SubElement(parent, key)
            for inner, item in value.items():
                self.extension(holder, inner, item)
        elif key == "certificationInfo" and isinstance(value, list):
            for item in value:
                etree.SubElement(parent, key).text = _text(item)
        elif key in _TERMS:
            etree.SubElement(parent, key).text = _term(value, _TERMS[key])
        else:
            etree.SubElement(parent, key).text = _text(value)

    def sensor_element(self, parent: Any, sensor: dict[str, Any]) -> None:
        element = etree.SubElement(parent, "sensorElement")
        if isinstance(sensor.get("sensorMetadata"), dict):
            self.attributes(etree.SubElement(element, "sensorMetadata"), sensor["sensorMetadata"])
        for report in sensor.get("sensorReport") or []:
            self.attributes(etree.SubElement(element, "sensorReport"), report)
        for key, value in sensor.items():
            if key not in ("sensorMetadata", "sensorReport"):
                self.extension(element, key, value)

    def attributes(self, element: Any, values: dict[str, Any]) -> None:
        for key, value in values.items():
            text = _text(value)
            if key in _SENSOR_TERMS and ":" not in text:
                text = _SENSOR_TERMS[key] + text
            element.set(self.tag(key), text)


def query_document_xml(
    events: Iterable[dict[str, Any]], *, creation_date: str, query_name: str = "SimpleEventQuery"
) -> bytes:
    """An EPCIS 2.0 XML EPCISQueryDocument of ``events`` (stored JSON-LD events)."""
    root = etree.Element(
        f"{{{EPCIS_QUERY_NS}}}EPCISQueryDocument",
        nsmap={"epcisq": EPCIS_QUERY_NS, "epcis": EPCIS_2_NS},
        attrib={"schemaVersion": "2.0", "creationDate": creation_date},
    )
    body = etree.SubElement(root, "EPCISBody")
    results = etree.SubElement(body, f"{{{EPCIS_QUERY_NS}}}QueryResults")
    etree.SubElement(results, "queryName").text = query_name
    event_list = etree.SubElement(etree.SubElement(results, "resultsBody"), "EventList")
    for event in events:
        write_event(event_list, event)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def write_event(parent: Any, event: dict[str, Any]) -> None:
    """Append ``event`` (JSON-LD, with its @context's prefixes) to ``parent`` as an EPCIS 2.0 XML event element."""
    namespaces = voc.context_namespaces(event.get("@context"))
    _Writer(namespaces).event(parent, event)
