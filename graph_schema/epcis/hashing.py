"""The CBV 2.0 EPCIS event hash (CBV 2.0 section 8.9): ``ni:///sha-256;<hex>?ver=CBV2.0``.

The PyPI package ``epcis-event-hash-generator`` (1.9.3) is not used: it fetches the current EPCIS JSON-LD context
over the network at run time (this hub must work offline), fails on some valid documents (an IndexError on the
openepcis TransactionEvent example, a JSON-LD "protected term" error on another), keeps parsing state in module
globals, and needs Flask. This module computes the same pre-hash string from the event as received:

1. the event becomes a tree of (name, value, children); extension keys ``prefix:local`` are written
   ``{namespace}local``; lists become repeated children (``epcList`` holds ``epc`` children);
2. the standard fields are emitted in the canonical property order, each list's entries sorted, values
   canonicalised (UTC times at millisecond precision, numbers without trailing zeros, CBV terms and URNs as
   ``https://ref.gs1.org/cbv/...`` URIs, CURIEs expanded, EPC URNs and Digital Links as constrained canonical
   Digital Links on ``https://id.gs1.org``);
3. what the property order did not consume (ilmd, extensions, extension parts of standard fields) is appended,
   each level sorted; recordTime, eventID, errorDeclaration and certificationInfo are not part of the CBV 2.0 hash.

The result is checked against the published CBV 2.0 examples of the reference implementation (see the tests).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

from pydantic_core import PydanticCustomError

from graph_schema.epcis import vocabulary as voc
from graph_schema.epcis.epc import to_digital_link
from graph_schema.epcis.standard import parse_date_time

HASH_VERSION: Final = "CBV2.0"

# Namespaces of the standard prefixes as the reference implementation's examples expand them (gs1: under
# ref.gs1.org/voc, cbvmda as its XML namespace without the trailing colon).
_HASH_PREFIXES: Final[dict[str, str]] = {
    **voc.STANDARD_PREFIXES,
    "gs1": "https://ref.gs1.org/voc/",
    "cbvmda": "urn:epcglobal:cbv:mda",
}
_IGNORED: Final = frozenset(
    {"@context", "type", "recordTime", "eventID", "errorDeclaration", "certificationInfo", "rdfs:comment", "comment"}
)
_NUMBER: Final = re.compile(r"[+\-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+\-]?\d+)?")
_CBV_URNS: Final = (
    ("urn:epcglobal:cbv:bizstep:", voc.CBV_WEB + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", voc.CBV_WEB + "Disp-"),
    ("urn:epcglobal:cbv:btt:", voc.CBV_WEB + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", voc.CBV_WEB + "SDT-"),
    ("urn:epcglobal:cbv:er:", voc.CBV_WEB + "ER-"),
)


@dataclass(slots=True)
class _Node:
    name: str
    text: str = ""
    children: list[_Node] = field(default_factory=list)
    vocabulary: str | None = None  # the term namespace a bare value of this node expands into
    generic: str | None = None  # the finished pre-hash text of a part outside the property order


# Property order: (name, vocabulary prefix for bare values, sub-order or None).
_Order = list[tuple[str, "_Order | None"]]
_QUANTITY: Final[_Order] = [("quantityElement", [("epcClass", None), ("quantity", None), ("uom", None)])]
_SENSOR_METADATA: Final[_Order] = [
    (name, None)
    for name in ("time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
                 "bizRules")
]  # fmt: skip
_SENSOR_REPORT: Final[_Order] = [
    (name, None)
    for name in ("type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
                 "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
                 "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
                 "uom", "coordinateReferenceSystem")
]  # fmt: skip
_PROPERTY_ORDER: Final[_Order] = [
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("epcList", [("epc", None)]),
    ("parentID", None),
    ("inputEPCList", [("epc", None)]),
    ("childEPCs", [("epc", None)]),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", [("epc", None)]),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", [("set", None), ("unset", None)]),
    ("readPoint", [("id", None)]),
    ("bizLocation", [("id", None)]),
    ("bizTransactionList", [("", [("type", None), ("bizTransaction", None)])]),
    ("sourceList", [("", [("type", None), ("source", None)])]),
    ("destinationList", [("", [("type", None), ("destination", None)])]),
    ("sensorElement", [("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)]),
]
# Lists whose entries are written under an item name (the XML binding's element names).
_ITEM_NAMES: Final[dict[str, str]] = {
    "epcList": "epc",
    "childEPCs": "epc",
    "inputEPCList": "epc",
    "outputEPCList": "epc",
    "quantityList": "quantityElement",
    "childQuantityList": "quantityElement",
    "inputQuantityList": "quantityElement",
    "outputQuantityList": "quantityElement",
    "bizTransactionList": "",
    "sourceList": "",
    "destinationList": "",
    "correctiveEventIDs": "correctiveEventID",
}
# Fields whose bare value is a standard vocabulary term, by (parent name, field name).
_TERM_NAMESPACES: Final[dict[tuple[str, str], str]] = {
    ("", "bizStep"): voc.BIZ_STEP.hash_prefix,
    ("", "disposition"): voc.DISPOSITION.hash_prefix,
    ("persistentDisposition", "set"): voc.DISPOSITION.hash_prefix,
    ("persistentDisposition", "unset"): voc.DISPOSITION.hash_prefix,
    ("bizTransactionList", "type"): voc.BIZ_TRANSACTION_TYPE.hash_prefix,
    ("sourceList", "type"): voc.SOURCE_DESTINATION_TYPE.hash_prefix,
    ("destinationList", "type"): voc.SOURCE_DESTINATION_TYPE.hash_prefix,
    ("sensorReport", "type"): voc.MEASUREMENT_TYPE_HASH_PREFIX,
    ("sensorReport", "exception"): voc.SENSOR_ALERT_TYPE.hash_prefix,
    ("sensorReport", "component"): voc.COMPONENT.hash_prefix,
}


_QUANTITY_KEYS: Final = frozenset({"epcClass", "quantity", "uom"})
# The keys the property order knows, per enclosing object; everything else is emitted generically.
_KNOWN_KEYS: Final[dict[str, frozenset[str]]] = {
    "": frozenset(name for name, _ in _PROPERTY_ORDER) | {"sensorElementList"},
    "readPoint": frozenset({"id"}),
    "bizLocation": frozenset({"id"}),
    "persistentDisposition": frozenset({"set", "unset"}),
    "quantityList": _QUANTITY_KEYS,
    "childQuantityList": _QUANTITY_KEYS,
    "inputQuantityList": _QUANTITY_KEYS,
    "outputQuantityList": _QUANTITY_KEYS,
    "bizTransactionList": frozenset({"type", "bizTransaction"}),
    "sourceList": frozenset({"type", "source"}),
    "destinationList": frozenset({"type", "destination"}),
    "sensorElement": frozenset({"sensorMetadata", "sensorReport"}),
    "sensorMetadata": frozenset(name for name, _ in _SENSOR_METADATA),
    "sensorReport": frozenset(name for name, _ in _SENSOR_REPORT),
}


def event_hash(event: dict[str, Any], namespaces: dict[str, str]) -> str:
    """The CBV 2.0 event hash of one event, as ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    digest = hashlib.sha256(pre_hash_string(event, namespaces).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"


def pre_hash_string(event: dict[str, Any], namespaces: dict[str, str]) -> str:
    """The canonical pre-hash string of an event (CBV 2.0 section 8.9), before hashing."""
    prefixes = {**_HASH_PREFIXES, **namespaces}
    root = _Node("event", children=_children(event, "", prefixes))
    ordered = _emit_in_order(root, _PROPERTY_ORDER, prefixes)
    rest = sorted(_emit_generic(child, prefixes) for child in root.children)
    return f"eventType={event.get('type', '')}" + ordered + "".join(rest)


def _qualified(key: str, prefixes: dict[str, str]) -> str:
    if ":" not in key:
        return key
    prefix, sep, local = key.partition(":")
    if sep and not local.startswith("//"):
        iri = prefixes.get(prefix)
        if iri is not None:
            return "{" + iri + "}" + local
    return key


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def _children(obj: dict[str, Any], parent: str, prefixes: dict[str, str]) -> list[_Node]:
    nodes: list[_Node] = []
    known = _KNOWN_KEYS.get(parent, frozenset())
    for key, value in obj.items():
        if parent == "" and key in _IGNORED:
            continue
        if key not in known:
            # Not in the property order: it can only be emitted generically, so it is emitted right away.
            name = _qualified(key, prefixes)
            nodes.extend(_Node(name, generic=text) for text in _generic(name, value, prefixes))
        elif parent == "" and key == "sensorElementList" and isinstance(value, list):
            # The XML binding's sensorElement elements sit directly in the event's pre-hash.
            nodes.extend(_node("sensorElement", item, "sensorElementList", prefixes) for item in value)
        elif isinstance(value, list) and key in _ITEM_NAMES:
            item_name = _ITEM_NAMES[key]
            holder = _Node(key, children=[_node(item_name, item, key, prefixes, key=key) for item in value])
            nodes.append(holder)
        elif isinstance(value, list):
            nodes.extend(_node(key, item, parent, prefixes, key=key) for item in value)
        else:
            nodes.append(_node(key, value, parent, prefixes, key=key))
    return nodes


def _generic(name: str, value: Any, prefixes: dict[str, str]) -> list[str]:
    """The generic pre-hash strings of an extension (or ilmd) value: lists repeat the name, each level sorted."""
    if isinstance(value, list):
        return [text for item in value for text in _generic(name, item, prefixes)]
    if isinstance(value, dict):
        inner = sorted(
            text for key, item in value.items() for text in _generic(_qualified(key, prefixes), item, prefixes)
        )
        return [name + "".join(inner)]
    if value is None:
        return [name]
    scalar = _scalar(value)
    return [name + "=" + _canonical_text(scalar, None, prefixes)] if scalar else [name]


def _node(name: str, value: Any, parent: str, prefixes: dict[str, str], *, key: str | None = None) -> _Node:
    if isinstance(value, dict):
        return _Node(name, children=_children(value, key if key is not None else name, prefixes))
    if value is None:
        return _Node(name)
    term_namespace = _TERM_NAMESPACES.get((parent, key if key is not None else name))
    return _Node(name, _scalar(value), vocabulary=term_namespace)


def _emit_in_order(node: _Node, order: _Order, prefixes: dict[str, str]) -> str:
    """Emit the children named in ``order`` (sorted within each name); consumed children leave the tree."""
    by_name: dict[str, list[_Node]] = {}
    for child in node.children:
        by_name.setdefault(child.name, []).append(child)
    out: list[str] = []
    for name, sub_order in order:
        matching = by_name.get(name)
        if not matching:
            continue
        values: list[str] = []
        for child in matching:
            text = ""
            if child.text:
                canonical = _canonical_time(child.text) if _is_time(child.name) else _canonical(child, prefixes)
                text = "=" + canonical if canonical else ""
                child.text = ""
            below = _emit_in_order(child, sub_order, prefixes) if sub_order else ""
            if text or below:
                values.append(child.name + text + below)
        if len(values) > 1:
            values.sort()
        out.append("".join(values))
    # What the order consumed completely leaves the tree; the rest is emitted by the generic pass.
    node.children = [child for child in node.children if child.text or child.children or child.generic is not None]
    return "".join(out)


def _emit_generic(node: _Node, prefixes: dict[str, str]) -> str:
    if node.generic is not None:
        return node.generic
    text = "=" + _canonical(node, prefixes) if node.text else ""
    return node.name + text + "".join(sorted(_emit_generic(child, prefixes) for child in node.children))


@lru_cache(maxsize=1024)
def _is_time(name: str) -> bool:
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


@lru_cache(maxsize=65536)
def _canonical_time(text: str) -> str:
    """UTC, millisecond precision (the fourth decimal rounds half up), 'Z' (CBV 2.0 8.9 rules 8 and 9)."""
    try:
        moment = parse_date_time(text).astimezone(UTC)
    except PydanticCustomError:
        return text
    fraction = re.search(r"\.(\d+)", text[19:])
    digits = (fraction.group(1) if fraction else "").ljust(4, "0")
    millis = int(digits[:3]) + (1 if digits[3] >= "5" else 0)
    moment = moment.replace(microsecond=0) + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _canonical(node: _Node, prefixes: dict[str, str]) -> str:
    return _canonical_text(node.text, node.vocabulary, prefixes)


def _canonical_text(text: str, vocabulary: str | None, prefixes: dict[str, str]) -> str:
    if vocabulary is not None and ":" not in text:
        return vocabulary + text
    canonical = _canonical_value(text)
    if canonical is not None:
        return canonical
    prefix, sep, local = text.partition(":")
    if sep and not local.startswith("//") and prefix in prefixes:
        return prefixes[prefix] + local
    return text


@lru_cache(maxsize=131072)  # documents repeat their products, sites and numbers
def _canonical_value(text: str) -> str | None:
    """The canonical form of a value that does not depend on the document's prefixes, or None."""
    for urn, web in _CBV_URNS:
        if text.startswith(urn):
            return web + text[len(urn) :]
    if _NUMBER.fullmatch(text):
        return _canonical_number(text)
    return to_digital_link(text)


def _canonical_number(text: str) -> str:
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimal numbers
        return text
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")
