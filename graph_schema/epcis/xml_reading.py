"""EPCIS XML capture documents (the 2.0 XML binding, and EPCIS 1.2 XML) read as a stream into the JSON-LD events.

Each event of ``EPCISBody/EventList`` is parsed with lxml's ``iterparse`` and turned into the event the JSON-LD
binding would carry (``epcList`` a list of EPCs, ``bizTransactionList`` entries ``{"type", "bizTransaction"}``,
sensor attributes as keys, extension elements as ``prefix:name`` keys with their namespace), then validated by
the same ``validate_event`` as a JSON-LD event: the same checks, the same normalised event and the same CBV 2.0
event hash, so an event captured once in XML and once in JSON-LD is one event. Errors name the XML element path
(``/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[3]/bizStep``) instead of the JSON path.

Memory stays bounded: each event's elements are dropped once it is read, and a document passing the nesting
depth or an event's size limits (``limits.py``, the same as for JSON) is refused as it streams. The parser
resolves no entity, loads no DTD and reaches no network; a document carrying a DOCTYPE at all (the vehicle of
XXE and of entity expansion bombs) is refused before any event is read (``XML_DTD_FORBIDDEN``).

EPCIS 1.2 documents (namespace ``urn:epcglobal:epcis:xsd:1``) differ in where fields sit, not in what they mean:
fields added after 1.0 are wrapped in ``extension`` (and ``baseExtension`` for eventID and errorDeclaration), and a
TransformationEvent sits in ``EventList/extension``. The wrappers are read through; the events are the same.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Final

from lxml import etree

from graph_schema.epcis import standard as std
from graph_schema.epcis.capture import EventSource, SourceItem
from graph_schema.epcis.limits import LIMIT_EXCEEDED, ReadingLimits
from graph_schema.epcis.master_data import MasterData, read_vocabulary_list
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.standard import parse_date_time
from graph_schema.epcis.validation import validate_event
from graph_schema.epcis.xml_schema import (
    XML_SCHEMA_INVALID,
    EpcisXmlSchemas,
    locate_violation,
    schema_errors,
)
from graph_schema.errors import BAD_USER_INPUT

EPCIS_2_NS: Final = "urn:epcglobal:epcis:xsd:2"
EPCIS_1_NS: Final = "urn:epcglobal:epcis:xsd:1"
__all__ = ["XML_SCHEMA_INVALID"]  # re-exported: the code of a document the GS1 XSD refuses
EPCIS_NAMESPACES: Final = frozenset({EPCIS_2_NS, EPCIS_1_NS})
MASTER_DATA_2_NS: Final = "urn:epcglobal:epcis-masterdata:xsd:2"
MASTER_DATA_1_NS: Final = "urn:epcglobal:epcis-masterdata:xsd:1"
# the root elements the hub captures, by namespace: events (and their header's master data), or master data alone
ROOTS: Final = {
    EPCIS_2_NS: "EPCISDocument",
    EPCIS_1_NS: "EPCISDocument",
    MASTER_DATA_2_NS: "EPCISMasterDataDocument",
    MASTER_DATA_1_NS: "EPCISMasterDataDocument",
}
_ROOTS_SAID: Final = (
    f"an EPCISDocument of the namespace {EPCIS_2_NS} (EPCIS 2.0) or {EPCIS_1_NS} (EPCIS 1.2), or an"
    f" EPCISMasterDataDocument of {MASTER_DATA_2_NS} or {MASTER_DATA_1_NS}"
)
XML_DTD_FORBIDDEN: Final = "XML_DTD_FORBIDDEN"
XML_NOT_WELL_FORMED: Final = "XML_NOT_WELL_FORMED"
HEADER = -1  # the index under which a document's own problems are reported (as for JSON documents)

EVENT_TYPES: Final = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)
_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
_NIL: Final = f"{{{_XSI}}}nil"
_NOT_EXTENSIONS: Final = frozenset({_XSI, "http://www.w3.org/2001/XMLSchema", "urn:epcglobal:xsd:1"})
# Lists of identifiers: the list element holds one child per entry
_ID_LISTS: Final = {"epcList": "epc", "childEPCs": "epc", "inputEPCList": "epc", "outputEPCList": "epc"}
_QUANTITY_LISTS: Final = frozenset({"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"})
# Lists of typed references: the entry's text is the id, its ``type`` attribute the CBV type
_TYPED_LISTS: Final = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_NUMBERS: Final = frozenset({"quantity", "value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"})
# The standard elements of each event type in the order of the XML schema (EPCglobal-epcis-2_0.xsd): the common
# fields of EPCISEventType, then each type's own. Namespaced extension elements follow them all.
_COMMON: Final = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration", "certificationInfo")
_TAIL: Final = ("sourceList", "destinationList", "sensorElementList", "persistentDisposition")
ELEMENT_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "ObjectEvent": (
        *_COMMON, "epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList",
        "quantityList", *_TAIL, "ilmd",
    ),
    "AggregationEvent": (
        *_COMMON, "parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
        "bizTransactionList", "childQuantityList", *_TAIL,
    ),
    "AssociationEvent": (
        *_COMMON, "parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition", "readPoint",
        "bizLocation", "bizTransactionList", *_TAIL,
    ),
    "TransactionEvent": (
        *_COMMON, "bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition", "readPoint",
        "bizLocation", "quantityList", *_TAIL,
    ),
    "TransformationEvent": (
        *_COMMON, "inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList", "transformationID",
        "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList", *_TAIL, "ilmd",
    ),
}  # fmt: skip
_WRAPPERS: Final = frozenset({"extension", "baseExtension"})  # EPCIS 1.x's extension points, read through
# What a document's EPCISHeader (its master data) may make the reader hold while it is read: far above the master
# data's own limits (10,000 vocabulary elements of up to 200 attributes), and bounded.
HEADER_MAX_VALUES: Final = 500_000
HEADER_MAX_BYTES: Final = 32 * 1_048_576


class XmlRefused(Exception):
    """The document is not one the hub reads at all (a DTD, not well-formed, not an EPCIS document)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class XmlEvent:
    """One event of an XML document as its JSON-LD twin, with where each of its fields sits in the XML."""

    raw: dict[str, Any]
    namespaces: dict[str, str]
    path: str  # the event element's path, e.g. /epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[3]
    places: dict[str, str] = field(default_factory=dict)  # top-level JSON key -> its XML path below the event
    problems: list[tuple[str, str]] = field(default_factory=list)  # (XML path, message): order, attributes


def _parser_options() -> dict[str, Any]:
    # no entity resolved, no DTD loaded, no network, libxml2's own size guards kept (huge_tree off)
    return {
        "resolve_entities": False,
        "load_dtd": False,
        "no_network": True,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }


def _local(tag: object) -> str:
    # lxml's names are "{namespace}local" or "local": sliced, not parsed (this runs for every element)
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _ns(tag: object) -> str | None:
    return tag[1 : tag.index("}")] if isinstance(tag, str) and tag.startswith("{") else None


def check_prolog(stream: IO[bytes]) -> str:
    """Read up to the root element: its namespace; XmlRefused for a DOCTYPE (a DTD), broken XML, or another root."""
    namespace, local, shown = root_element(stream)
    if ROOTS.get(namespace or "") != local:
        raise XmlRefused(BAD_USER_INPUT, f"the document's root element is {shown}, not {_ROOTS_SAID}")
    return namespace or ""


def root_element(stream: IO[bytes]) -> tuple[str | None, str, str]:
    """The root element's namespace, local name and name as written; XmlRefused for a DOCTYPE or broken XML."""
    try:
        for _, element in etree.iterparse(stream, events=("start",), **_parser_options()):
            if element.getroottree().docinfo.doctype:
                raise XmlRefused(XML_DTD_FORBIDDEN, _DTD_MESSAGE)
            return _ns(element.tag), _local(element.tag), _display(element)
    except etree.XMLSyntaxError as broken:
        raise XmlRefused(*_syntax(broken)) from None
    raise XmlRefused(XML_NOT_WELL_FORMED, "the document is empty: no root element")


_DTD_MESSAGE: Final = (
    "the document has a DOCTYPE: EPCIS XML documents need no DTD, and the hub reads none (no entities, no external"
    " resources); remove the DOCTYPE and any entity references"
)


def _syntax(broken: etree.XMLSyntaxError) -> tuple[str, str]:
    text = str(broken)
    if "entity" in text.lower() or "doctype" in text.lower():
        return XML_DTD_FORBIDDEN, f"{_DTD_MESSAGE} ({text})"
    return XML_NOT_WELL_FORMED, f"the document is not well-formed XML: {text}"


def _display(element: Any) -> str:
    prefix = element.prefix
    name = _local(element.tag)
    return f"{prefix}:{name}" if prefix else name


def xml_document_source(
    path: Path, *, schemas: EpcisXmlSchemas | None, limits: ReadingLimits | None = None, schema_first: bool = False
) -> EventSource:
    """The events of the XML document at ``path``, validated one by one as they are read (bounded memory), the
    document checked against the GS1 XSD of its version while it streams (``schemas``; None only to measure
    without). ``schema_first``: the whole document is checked against its XSD before its first event is given (for a
    capture that writes as it reads), once however often the source is read."""
    verdict: list[EventError | None] = []

    def events() -> Iterator[tuple[int, SourceItem]]:
        if schema_first and schemas is not None:
            if not verdict:
                verdict.append(schema_violation(path, schemas))
            if verdict[0] is not None:
                yield HEADER, [verdict[0]]
                return
        with path.open("rb") as stream:
            for index, item in XmlDocumentReader(stream, schemas=schemas, limits=limits).events():
                if isinstance(item, list | MasterData):
                    yield index, item
                else:
                    yield index, validate_xml_event(item, index=index)

    return events


def schema_violation(path: Path, schemas: EpcisXmlSchemas) -> EventError | None:
    """The document's first violation of its XSD, read as a stream with nothing kept (None: it follows its XSD, or
    it is no EPCIS document at all, which its reading says)."""
    with path.open("rb") as stream:
        schema = schemas.for_namespace(_root_namespace(stream))
        if schema is None:
            return None
        stream.seek(0)
        parser: Any = etree.iterparse(stream, events=("end",), schema=schema, **_parser_options())
        try:
            for _, element in parser:
                _forget(element)
        except etree.XMLSyntaxError:
            pass  # broken XML: its reading says where
        if not schema_errors(parser.error_log):
            return None
        return XmlDocumentReader(stream, schemas=schemas).violation(schema, 0, parser.error_log)


# a bare event is read inside this envelope (on the event's first line, so lines keep their numbers): the XSD declares
# no event element of its own, and the reader reads documents
_ENVELOPE_PREFIX: Final = "hub-envelope"
_ENVELOPE: Final = (
    f'<{_ENVELOPE_PREFIX}:EPCISDocument xmlns:{_ENVELOPE_PREFIX}="{EPCIS_2_NS}" schemaVersion="2.0"'
    ' creationDate="2000-01-01T00:00:00Z"><EPCISBody><EventList>'
).encode()
_ENVELOPE_END: Final = f"</EventList></EPCISBody></{_ENVELOPE_PREFIX}:EPCISDocument>".encode()
_DECLARATION: Final = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*\?>")


def read_single_xml_event(
    body: bytes, *, schemas: EpcisXmlSchemas | None, limits: ReadingLimits | None = None
) -> EpcisEvent | list[EventError]:
    """``POST /epcis/events`` in XML: one event, bare (``<ObjectEvent>...``) or the one event of an EPCIS XML
    document; checked against the XSD like a document and validated like the JSON-LD event; or what is wrong."""
    try:
        namespace, local, shown = root_element(io.BytesIO(body))
    except XmlRefused as refused:
        return [_header(refused.code, "document", refused.message)]
    bare = namespace is None and local in EVENT_TYPES
    if not bare and not ROOTS.get(namespace or "") == local == "EPCISDocument":
        what = f"{shown}: send documents"
        if local == "EPCISMasterDataDocument":
            what = "an EPCISMasterDataDocument: send it"
        elif local in EVENT_TYPES:
            what = f"{shown}, qualified (the events of EPCIS XML are unqualified elements, no prefix): send documents"
        return [
            _header(
                BAD_USER_INPUT,
                "/" + shown,
                f"the root element is {what} to /epcis/capture; this route takes one event, as an ObjectEvent,"
                " AggregationEvent, TransactionEvent, TransformationEvent or AssociationEvent element (no namespace)"
                " or in an EPCISDocument holding it alone",
            )
        ]
    if bare:
        declaration = _DECLARATION.match(body)
        cut = declaration.end() if declaration else 0
        body = body[:cut] + _ENVELOPE + body[cut:] + _ENVELOPE_END
    found: list[XmlEvent] = []
    for index, item in XmlDocumentReader(io.BytesIO(body), schemas=schemas, limits=limits).events():
        if isinstance(item, MasterData):
            return [_header(BAD_USER_INPUT, "document", "carries master data: send it to /epcis/capture")]
        if isinstance(item, list):
            return [_unwrapped(error, local) if bare else error for error in item]
        if index > 0:
            return [
                _header(
                    BAD_USER_INPUT,
                    "document",
                    "holds more than one event: this route takes one; send documents to /epcis/capture",
                )
            ]
        found.append(item)
    if not found:
        return [_header(BAD_USER_INPUT, "document", "holds no event: this route takes one")]
    event = found[0]
    if bare:
        event.path = "/" + local
    return validate_xml_event(event, index=0)


def _unwrapped(error: EventError, local: str) -> EventError:
    """An error of a bare event read in the envelope, named as the event was sent."""
    inside = f"/{_ENVELOPE_PREFIX}:EPCISDocument/EPCISBody/EventList/{local}[1]"
    field = error.field.replace(inside, "/" + local)
    return error.model_copy(update={"field": field, "message": error.message.replace(inside, "/" + local)})


def validate_xml_event(event: XmlEvent, *, index: int) -> EpcisEvent | list[EventError]:
    """The event validated as its JSON-LD twin; errors carry the XML element path of each field."""
    result = validate_event(event.raw, index=index, namespaces=event.namespaces)
    errors = [] if isinstance(result, EpcisEvent) else result
    event_id = event.raw.get("eventID") if isinstance(event.raw.get("eventID"), str) else None
    extra = [
        EventError(index=index, event_id=event_id, field=where, code=BAD_USER_INPUT, message=f"{where}: {message}")
        for where, message in event.problems
    ]
    if not errors and not extra:
        return result
    return extra + [_in_xml(error, event) for error in errors]


_STEP: Final = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def xml_field_path(json_field: str, event: XmlEvent) -> str:
    """A JSON path of a field of ``event`` (``quantityList[1].quantity``) as its XML element path."""
    if json_field in ("", "event"):
        return event.path
    steps: list[str | int] = [name if name else int(number) for name, number in _STEP.findall(json_field)]
    out: list[str] = []
    parent = ""
    position = 0
    while position < len(steps):
        step = steps[position]
        if isinstance(step, int):  # an entry of a list: the entry element, counted from 1
            item = _ITEM_NAMES.get(parent, parent)
            out.append(f"{item}[{step + 1}]")
        elif not out:
            out.append(event.places.get(step, step))
            parent = step
        elif step in _ATTRIBUTES.get(parent, ()):
            out.append(f"@{step}")
        else:
            out.append(step)
            parent = step
        position += 1
    return event.path + "/" + "/".join(out)


_ITEM_NAMES: Final[dict[str, str]] = {
    **_ID_LISTS,
    **_TYPED_LISTS,
    **{name: "quantityElement" for name in _QUANTITY_LISTS},
    "sensorElementList": "sensorElement",
    "sensorReport": "sensorReport",
    "correctiveEventIDs": "correctiveEventID",
    "set": "set",
    "unset": "unset",
    "certificationInfo": "certificationInfo",
}
_ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    **{name: frozenset({"type"}) for name in _TYPED_LISTS},
    "sensorMetadata": std.json_names(std.SensorMetadata),
    "sensorReport": std.json_names(std.SensorReport),
}


def _in_xml(error: EventError, event: XmlEvent) -> EventError:
    where = xml_field_path(error.field, event)
    message = error.message
    if error.field and message.startswith(f"{error.field}: "):
        message = f"{where}: {message[len(error.field) + 2 :]}"
    elif error.field == "event" or not error.field:
        message = f"{where}: {message}"
    message = message.replace("as 'prefix:", "as an element of a namespace of its own, 'prefix:").replace(
        "with the prefix declared in @context", "with xmlns:prefix declared"
    )
    return error.model_copy(update={"field": where, "message": message})


class XmlDocumentReader:
    """Stream the events of an EPCIS XML capture document (see the module docstring)."""

    def __init__(
        self, stream: IO[bytes], *, schemas: EpcisXmlSchemas | None, limits: ReadingLimits | None = None
    ) -> None:
        self._stream = stream
        self._schemas = schemas
        self._limits = limits or ReadingLimits()
        self.version: str | None = None  # "2.0" or "1.2" once the root has been read
        self.master_data_document = False  # an EPCISMasterDataDocument: master data in its body, no events
        self.event_count = 0

    def events(self) -> Iterator[tuple[int, XmlEvent | list[EventError] | MasterData]]:
        """``(index, event)`` for each event of EventList in document order; ``(HEADER, errors)`` for the document's
        own problems (then nothing more is read); ``(HEADER, master data)`` from its header, before any event."""
        max_depth = self._limits.max_depth
        depth = 0
        index = 0
        counts: dict[str, int] = {}  # events of each type so far, for their XPath positions
        saw_body = saw_list = False
        root_prefix = "epcis"
        root = "/epcis:EPCISDocument"
        event_depth = 0  # the depth of event elements: 3, or 4 for 1.2's EventList/extension/TransformationEvent
        values = size = 0  # of the current event, against the event limits
        # inside EPCISHeader (or a master-data document's EPCISBody): kept whole until it ends (its master data),
        # within its own bounds
        in_header = False
        header_values = header_size = 0
        start = self._stream.tell()
        schema = self._schemas.for_namespace(_root_namespace(self._stream)) if self._schemas else None
        self._stream.seek(start)
        parser: Any = None
        try:
            parser = etree.iterparse(self._stream, events=("start", "end"), schema=schema, **_parser_options())
            for kind, element in parser:
                if kind == "start":
                    depth += 1
                    if depth > max_depth:
                        where = f"event {index}" if event_depth and depth > event_depth else "the document"
                        yield (
                            HEADER,
                            [
                                _limit(
                                    f"{where} nests deeper than {max_depth} levels (at {_display(element)});"
                                    " EPCIS events are not nearly as deep: flatten the extension that nests",
                                    index if event_depth and depth > event_depth else None,
                                )
                            ],
                        )
                        return
                    if depth == 1:
                        if element.getroottree().docinfo.doctype:
                            yield HEADER, [_header(XML_DTD_FORBIDDEN, "document", _DTD_MESSAGE)]
                            return
                        problems = self._root(element)
                        if problems:
                            yield HEADER, problems
                            return
                        root_prefix = element.prefix or "epcis"
                        root = f"/{root_prefix}:{_local(element.tag)}"
                    elif depth == 2 and _local(element.tag) == "EPCISHeader" and _ns(element.tag) is None:
                        in_header = True
                    elif depth == 2 and _local(element.tag) == "EPCISBody" and _ns(element.tag) is None:
                        saw_body = True
                        in_header = self.master_data_document
                    elif depth == 3 and saw_body and _local(element.tag) == "EventList" and _ns(element.tag) is None:
                        saw_list = True
                    elif saw_list and not event_depth and _starts_event(element, depth):
                        event_depth, values, size = depth, 0, 0
                    if in_header and depth > 2:
                        header_values += 1 + len(element.attrib)
                        header_size += sum(len(value) for value in element.attrib.values())
                        if header_values > HEADER_MAX_VALUES:
                            too_many = f"more than {HEADER_MAX_VALUES:,} XML elements and attributes"
                            yield HEADER, [_header_limit(too_many)]
                            return
                    if event_depth and depth > event_depth:
                        values += 1 + len(element.attrib)
                        size += sum(len(value) for value in element.attrib.values())
                        if values > self._limits.max_event_values:
                            yield (
                                HEADER,
                                [
                                    _limit(
                                        f"event {index} holds more than {self._limits.max_event_values:,}"
                                        " XML elements and attributes; split it (or its lists) into"
                                        " smaller events",
                                        index,
                                    )
                                ],
                            )
                            return
                    continue
                # end: the element at ``depth`` is read whole
                level, depth = depth, depth - 1
                if event_depth and level > event_depth:  # inside an event: kept until the event ends
                    size += len(element.text or "")
                    if size > self._limits.max_event_bytes:
                        yield (
                            HEADER,
                            [
                                _limit(
                                    f"event {index} holds more than {self._limits.max_event_bytes:,}"
                                    " characters of text; split it into smaller events",
                                    index,
                                )
                            ],
                        )
                        return
                    continue
                # the XSD's verdict first (as far as the parser has read): an event, or anything of the lists' level
                if schema is not None and (level <= 4 or level == event_depth) and schema_errors(parser.error_log):
                    yield HEADER, [self.violation(schema, start, parser.error_log)]
                    return
                if in_header and level > 2:  # kept until the header ends
                    header_size += len(element.text or "")
                    if header_size > HEADER_MAX_BYTES:
                        yield HEADER, [_header_limit(f"more than {HEADER_MAX_BYTES:,} characters")]
                        return
                    continue
                if in_header:  # the header, read whole: its master data, written before the events
                    in_header = False
                    master = master_data_in(element, where=f"{root}/{_local(element.tag)}")
                    if master is not None and self.master_data_document and _local(element.tag) == "EPCISHeader":
                        master = [
                            _header(
                                BAD_USER_INPUT,
                                f"{root}/EPCISHeader/extension/EPCISMasterData",
                                "an EPCISMasterDataDocument carries its vocabularies in EPCISBody/VocabularyList;"
                                " move them there",
                            )
                        ]
                    if isinstance(master, list):
                        yield HEADER, master
                        return
                    if master:
                        yield HEADER, master
                if event_depth and level == event_depth:
                    name = _local(element.tag)
                    counts[name] = counts.get(name, 0) + 1
                    path = self._event_path(element, root_prefix, counts[name])
                    yield index, to_json_event(element, path=path, version=self.version or "2.0")
                    index += 1
                    event_depth = 0
                elif saw_list and level == 4 and not _is_list_entry(element):
                    # something other than an event in the list: a 1.2 QuantityEvent, or a stray element
                    yield index, [self._not_an_event(element, root_prefix, index)]
                    index += 1
                if level >= 2:
                    _forget(element)
        except etree.XMLSyntaxError as broken:
            # the parser's own log (the exception's gathers this thread's earlier parses too)
            if schema is not None and parser is not None and schema_errors(parser.error_log):
                yield HEADER, [self.violation(schema, start, parser.error_log)]
                return
            code, message = _syntax(broken)
            yield HEADER, [_header(code, "document", message)]
            return
        if schema is not None and parser is not None and schema_errors(parser.error_log):
            yield HEADER, [self.violation(schema, start, parser.error_log)]
            return
        self.event_count = index
        if not saw_body:
            kind = root.rpartition(":")[2]
            yield HEADER, [_header(BAD_USER_INPUT, f"{root}/EPCISBody", f"is required in an {kind}")]
        elif not saw_list and not self.master_data_document:
            yield (
                HEADER,
                [
                    _header(
                        BAD_USER_INPUT,
                        f"/{root_prefix}:EPCISDocument/EPCISBody/EventList",
                        "is required: the list of events to capture",
                    )
                ],
            )

    def violation(self, schema: etree.XMLSchema, start: int, log: Any) -> EventError:
        """The document's first violation of its XSD, found again to name its line and element."""
        self._stream.seek(start)
        violation = locate_violation(self._stream, schema, fallback=str(schema_errors(log)[0].message))
        return EventError(
            index=None,
            field=violation.path,
            code=XML_SCHEMA_INVALID,
            message=f"{violation.describe()}; nothing of the document was captured",
        )

    def _root(self, root: Any) -> list[EventError]:
        namespace = _ns(root.tag)
        where = "/" + _display(root)
        kind = ROOTS.get(namespace or "")
        if kind != _local(root.tag):
            return [_header(BAD_USER_INPUT, where, f"the root element must be {_ROOTS_SAID}")]
        self.master_data_document = kind == "EPCISMasterDataDocument"
        problems: list[EventError] = []
        version = root.get("schemaVersion")
        two = namespace in (EPCIS_2_NS, MASTER_DATA_2_NS)
        allowed = ("2.0",) if two else ("1.0", "1.1", "1.2")
        if version is None:
            problems.append(_header(BAD_USER_INPUT, f"{where}/@schemaVersion", f"is required in an {kind}"))
        elif version.strip() not in allowed:
            problems.append(
                _header(
                    BAD_USER_INPUT,
                    f"{where}/@schemaVersion",
                    f"must be {' or '.join(allowed)} in the namespace {namespace}, got '{version}'",
                )
            )
        self.version = "2.0" if two else "1.2"
        created = root.get("creationDate")
        if created is None:
            problems.append(_header(BAD_USER_INPUT, f"{where}/@creationDate", f"is required in an {kind}"))
        else:
            try:
                parse_date_time(created.strip())
            except ValueError as wrong:
                problems.append(_header(BAD_USER_INPUT, f"{where}/@creationDate", str(wrong)))
        return problems

    @staticmethod
    def _event_path(element: Any, root_prefix: str, position: int) -> str:
        inside = "EventList/extension" if _local(element.getparent().tag) == "extension" else "EventList"
        return f"/{root_prefix}:EPCISDocument/EPCISBody/{inside}/{_local(element.tag)}[{position}]"

    @staticmethod
    def _not_an_event(element: Any, root_prefix: str, index: int) -> EventError:
        where = f"/{root_prefix}:EPCISDocument/EPCISBody/EventList/{_display(element)}"
        hint = ""
        if _local(element.tag) == "QuantityEvent":
            hint = " (EPCIS 2.0 has no QuantityEvent: write an ObjectEvent with a quantityList)"
        elif _ns(element.tag) in EPCIS_NAMESPACES:
            hint = " (the events of EPCIS XML are unqualified elements: no epcis: prefix)"
        message = (
            f"{where}: is not an event: the EventList holds ObjectEvent, AggregationEvent, TransactionEvent,"
            f" TransformationEvent and AssociationEvent elements{hint}"
        )
        return EventError(index=index, field=where, code=BAD_USER_INPUT, message=message)


def _root_namespace(stream: IO[bytes]) -> str | None:
    """The namespace of the document's root element (None when there is none to read: the reading says why)."""
    try:
        for _, element in etree.iterparse(stream, events=("start",), **_parser_options()):
            return _ns(element.tag)
    except etree.XMLSyntaxError:
        return None
    return None


def _starts_event(element: Any, depth: int) -> bool:
    """An event element: in EventList (depth 4), or in EPCIS 1.x's EventList/extension (depth 5)."""
    if _ns(element.tag) is not None or _local(element.tag) not in EVENT_TYPES:
        return False
    return depth == 4 or (depth == 5 and _local(element.getparent().tag) == "extension")


def _is_list_entry(element: Any) -> bool:
    """An element directly in EventList that is an event or EPCIS 1.x's extension holding TransformationEvents."""
    parent = element.getparent()
    in_list = parent is not None and _local(parent.tag) == "EventList" and _ns(parent.tag) is None
    local = _local(element.tag)
    return not in_list or (_ns(element.tag) is None and (local in EVENT_TYPES or local == "extension"))


def _header_limit(what: str) -> EventError:
    return EventError(
        index=None,
        field="document",
        code=LIMIT_EXCEEDED,
        message=f"the document's EPCISHeader holds {what}; send its master data in several documents; nothing of the"
        " document was captured",
    )


def _header(code: str, where: str, message: str) -> EventError:
    return EventError(index=None, field=where, code=code, message=f"{where}: {message}")


def _limit(message: str, index: int | None) -> EventError:
    return EventError(
        index=index,
        field="document" if index is None else "event",
        code=LIMIT_EXCEEDED,
        message=f"{message}; nothing of the document was captured",
    )


def _forget(element: Any) -> None:
    """Drop an element read to the end, and its earlier siblings (what keeps iterparse's tree small)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


# --- one event element as its JSON-LD twin ---------------------------------------------------------------------


def to_json_event(element: Any, *, path: str, version: str = "2.0") -> XmlEvent:
    """The JSON-LD event of an XML event element (EPCIS 2.0 or 1.2)."""
    name = _local(element.tag)
    # every prefix in scope: CBV values may be CURIEs of the document's own namespaces (ext1:summarising_discharge)
    in_scope = {
        prefix: uri
        for prefix, uri in (element.nsmap or {}).items()
        if prefix and uri not in EPCIS_NAMESPACES and uri not in _NOT_EXTENSIONS
    }
    event = XmlEvent(raw={"type": name}, namespaces=in_scope, path=path)
    order = ELEMENT_ORDER.get(name, ())
    rank = {field: position for position, field in enumerate(order)}
    last = -1
    last_name = ""
    saw_extension = False
    for child, place in _children(element, ""):
        if not isinstance(child.tag, str):
            continue
        child_ns = _ns(child.tag)
        local = _local(child.tag)
        if child_ns is not None:
            key = _extension_key(child, event)
            _add(event.raw, key, _extension_value(child, event))
            event.places.setdefault(key, place + _display(child))
            saw_extension = True
            continue
        event.places[local] = place + local
        if local in rank:
            if (rank[local] < last or saw_extension) and not event.problems:  # the first misplaced one says it
                before = last_name if not saw_extension else "the extension elements"
                message = (
                    f"comes after {before}: in EPCIS XML the elements of {_article(name)} {name} follow the order"
                    f" of the standard's schema ({', '.join(order)}, then extensions)"
                )
                event.problems.append((f"{path}/{place}{local}", message))
            else:
                last, last_name = rank[local], local
        event.raw[local] = _standard_value(local, child, event)
    return event


def _article(name: str) -> str:
    return "an" if name[0] in "AEIOU" else "a"


def _children(element: Any, place: str) -> Iterator[tuple[Any, str]]:
    """The element's children, reading through EPCIS 1.x's extension and baseExtension wrappers."""
    for child in element:
        if isinstance(child.tag, str) and child.get(_NIL) in ("true", "1"):
            continue  # xsi:nil="true", which the XSD allows for nillable fields: the field is absent
        if isinstance(child.tag, str) and _ns(child.tag) is None and _local(child.tag) in _WRAPPERS and len(child):
            yield from _children(child, f"{place}{_local(child.tag)}/")
        else:
            yield child, place


def _text(element: Any) -> str:
    return (element.text or "").strip()


def _standard_value(name: str, element: Any, event: XmlEvent) -> Any:
    if name in _ID_LISTS:
        return [_text(child) for child in element if isinstance(child.tag, str)]
    if name in _QUANTITY_LISTS:
        return [_object(child, event, numbers=True) for child in element if isinstance(child.tag, str)]
    if name in _TYPED_LISTS:
        entries = []
        for child in element:
            if not isinstance(child.tag, str):
                continue
            entry: dict[str, Any] = {}
            if child.get("type") is not None:
                entry["type"] = child.get("type").strip()
            entry[_TYPED_LISTS[name]] = _text(child)
            entries.append(entry)
        return entries
    if name in ("readPoint", "bizLocation", "errorDeclaration"):
        return _object(element, event)
    if name == "persistentDisposition":
        found: dict[str, Any] = {}
        for child in element:
            if isinstance(child.tag, str):
                found.setdefault(_local(child.tag), []).append(_text(child))
        return found
    if name == "sensorElementList":
        return [_sensor_element(child, event) for child in element if isinstance(child.tag, str)]
    if name == "ilmd":
        found = {}
        for child, _ in _children(element, ""):
            if isinstance(child.tag, str):
                key = _extension_key(child, event) if _ns(child.tag) else _local(child.tag)
                _add(found, key, _extension_value(child, event))
        return found
    if len(element):
        return _object(element, event)
    return _text(element)


def _object(element: Any, event: XmlEvent, *, numbers: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for child, _ in _children(element, ""):
        if not isinstance(child.tag, str):
            continue
        if _ns(child.tag) is not None:
            _add(found, _extension_key(child, event), _extension_value(child, event))
            continue
        local = _local(child.tag)
        if local == "correctiveEventIDs":
            found[local] = [_text(entry) for entry in child if isinstance(entry.tag, str)]
        elif numbers and local in _NUMBERS:
            found[local] = _number(_text(child))
        elif len(child):
            found[local] = _object(child, event)
        else:
            found[local] = _text(child)
    return found


def _sensor_element(element: Any, event: XmlEvent) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for child, _ in _children(element, ""):
        if not isinstance(child.tag, str):
            continue
        if _ns(child.tag) is not None:
            _add(found, _extension_key(child, event), _extension_value(child, event))
            continue
        local = _local(child.tag)
        values = _attributes(child, event)
        if local == "sensorReport":
            found.setdefault("sensorReport", []).append(values)
        else:
            found[local] = values
    return found


def _attributes(element: Any, event: XmlEvent) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in element.attrib.items():
        namespace = _ns(name)
        if namespace == _XSI:
            continue
        if namespace is not None:
            found[_qualified(name, element, event)] = value.strip()
            continue
        text = value.strip()
        if name in _NUMBERS:
            found[name] = _number(text)
        elif name == "booleanValue":
            found[name] = {"true": True, "1": True, "false": False, "0": False}.get(text, text)
        else:
            found[name] = text
    return found


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the type check says it is not a number, where it stands


def _qualified(tag: str, element: Any, event: XmlEvent) -> str:
    """``prefix:local`` for a namespaced name, the prefix declared as in the document (one made up if none)."""
    qname = etree.QName(tag)
    namespace = qname.namespace or ""
    prefix = None
    for known, uri in (element.nsmap or {}).items():
        if uri == namespace and known:
            prefix = known
            break
    if prefix is None:
        prefix = next((known for known, uri in event.namespaces.items() if uri == namespace), None)
    if prefix is None:
        prefix = f"ns{len(event.namespaces) + 1}"
    if event.namespaces.get(prefix, namespace) != namespace:  # one prefix, two namespaces in one event
        prefix = f"{prefix}{len(event.namespaces) + 1}"
    event.namespaces[prefix] = namespace
    return f"{prefix}:{qname.localname}"


def _extension_key(element: Any, event: XmlEvent) -> str:
    return _qualified(element.tag, element, event)


def _extension_value(element: Any, event: XmlEvent) -> Any:
    children = [child for child in element if isinstance(child.tag, str)]
    attributes = {name: value for name, value in element.attrib.items() if _ns(name) != _XSI}
    if not children and not attributes:
        return _text(element)
    found: dict[str, Any] = {}
    for name, value in attributes.items():  # as the JSON-LD binding writes them: keys beside the children
        found[_qualified(name, element, event) if _ns(name) else name] = value.strip()
    for child in children:
        key = _extension_key(child, event) if _ns(child.tag) else _local(child.tag)
        _add(found, key, _extension_value(child, event))
    return found


def _add(target: dict[str, Any], key: str, value: Any) -> None:
    """A repeated element becomes a list, as the JSON-LD binding writes it."""
    if key not in target:
        target[key] = value
    elif isinstance(target[key], list):
        target[key].append(value)
    else:
        target[key] = [target[key], value]


# --- master data: a VocabularyList as the JSON-LD binding's vocabularyList ------------------------------------


def master_data_in(holder: Any, *, where: str) -> MasterData | list[EventError] | None:
    """The master data of an EPCISHeader (``extension/EPCISMasterData/VocabularyList``, in EPCIS 1.2 and in the
    2.0 XSD alike) or of a master-data document's EPCISBody (``VocabularyList``): None when it has none, else read
    by the JSON-LD binding's rules, problems named by their XML path."""
    if _local(holder.tag) == "EPCISHeader":
        found = [
            (f"{where}/extension/EPCISMasterData/VocabularyList", vocabulary_list)
            for extension in _named(holder, "extension")
            for master in _named(extension, "EPCISMasterData")
            for vocabulary_list in _named(master, "VocabularyList")
        ]
    else:
        found = [(f"{where}/VocabularyList", vocabulary_list) for vocabulary_list in _named(holder, "VocabularyList")]
    if not found:
        return None
    path, vocabulary_list = found[0]
    namespaces = {
        prefix: uri
        for prefix, uri in (vocabulary_list.nsmap or {}).items()
        if prefix and uri not in EPCIS_NAMESPACES and uri not in ROOTS and uri not in _NOT_EXTENSIONS
    }
    read = read_vocabulary_list(_vocabularies(vocabulary_list, namespaces), namespaces=namespaces, path=_AT)
    if isinstance(read, list):
        return [_md_error(error, path) for error in read]
    read.locations = [replace(location, path=_md_path(location.path, path)) for location in read.locations]
    read.parties = [replace(party, path=_md_path(party.path, path)) for party in read.parties]
    return read


_AT: Final = "\x00"  # where read_vocabulary_list's paths start: replaced by the list's XML path
_MD_STEP: Final = re.compile(r"\[(\d+)\]|\.(\w+)(?:\[(\d+)\])?")


def _md_path(json_path: str, base: str) -> str:
    """``\x00[0].vocabularyElementList[2].attributes[1].attribute`` as ``<base>/Vocabulary[1]/VocabularyElementList/
    VocabularyElement[3]/attribute[2]``."""
    out = base
    for step in _MD_STEP.finditer(json_path.removeprefix(_AT)):
        vocabulary, name, number = step.groups()
        if vocabulary is not None:
            out += f"/Vocabulary[{int(vocabulary) + 1}]"
        elif name == "vocabularyElementList":
            out += "/VocabularyElementList" + (f"/VocabularyElement[{int(number) + 1}]" if number else "")
        elif name == "attributes":
            out += f"/attribute[{int(number) + 1}]" if number else ""
        elif name == "children":
            out += "/children" + (f"/id[{int(number) + 1}]" if number else "")
        elif name in ("id", "type"):
            out += f"/@{name}"
        elif name != "attribute":  # an attribute's value is the attribute element's content
            out += f"/{name}"
    return out


def _md_error(error: EventError, base: str) -> EventError:
    where = _md_path(error.field, base)
    message = error.message
    if message.startswith(f"{error.field}: "):
        message = f"{where}: {message[len(error.field) + 2 :]}"
    return error.model_copy(update={"field": where, "message": message.replace(_AT, base)})


def _named(element: Any, name: str) -> list[Any]:
    return [child for child in element if _local(child.tag) == name and _ns(child.tag) is None]


def _vocabularies(vocabulary_list: Any, namespaces: dict[str, str]) -> list[dict[str, Any]]:
    """The JSON-LD shape of a VocabularyList (extension elements of other namespaces left out, as the XSD allows)."""
    holder = XmlEvent(raw={}, namespaces=dict(namespaces), path="")
    vocabularies: list[dict[str, Any]] = []
    for vocabulary in _named(vocabulary_list, "Vocabulary"):
        entry: dict[str, Any] = {"type": (vocabulary.get("type") or "").strip()}
        elements: list[dict[str, Any]] = []
        for element_list in _named(vocabulary, "VocabularyElementList"):
            for element in _named(element_list, "VocabularyElement"):
                item: dict[str, Any] = {"id": (element.get("id") or "").strip()}
                attributes = []
                for attribute in _named(element, "attribute"):
                    children = [child for child in attribute if isinstance(child.tag, str)]
                    value: Any = _extension_value(attribute, holder) if children else _text(attribute)
                    if isinstance(value, dict):
                        value.pop("id", None)  # the attribute's own id, not part of its value
                    attributes.append({"id": (attribute.get("id") or "").strip(), "attribute": value})
                if attributes:
                    item["attributes"] = attributes
                for listed in _named(element, "children"):
                    item["children"] = [_text(child) for child in _named(listed, "id")]
                elements.append(item)
        entry["vocabularyElementList"] = elements
        vocabularies.append(entry)
    return vocabularies
