"""EPCISMasterDataDocument in JSON-LD: master data alone, in ``epcisBody.vocabularyList``.

EPCIS 2.0 defines the master-data document in XML (``epcismd:EPCISMasterDataDocument``, its body a
``VocabularyList``); GS1's JSON schema has no such document, so the hub takes the JSON-LD form converters write
(openepcis's among them): the EPCISDocument's header fields with ``"type": "EPCISMasterDataDocument"`` and
``"epcisBody": {"vocabularyList": [...]}``. Its vocabularies are read by ``read_vocabulary_list`` like a capture
document's header master data, and stored the same way. The whole document is built in memory, within bounds as it
streams (depth, 500,000 JSON values, 32 MB of keys and text): far above the 10,000 vocabulary elements one document
may describe.
"""

from __future__ import annotations

from typing import IO, Any, Final

import ijson  # type: ignore[import-untyped]  # ijson ships no type information
from ijson.common import ObjectBuilder  # type: ignore[import-untyped]

from graph_schema.epcis import vocabulary as voc
from graph_schema.epcis.document import context_errors
from graph_schema.epcis.limits import LIMIT_EXCEEDED, LimitExceeded, ReadingLimits, bounded_parse
from graph_schema.epcis.master_data import MasterData, read_vocabulary_list
from graph_schema.epcis.model import EventError
from graph_schema.epcis.standard import describe_value, parse_date_time
from graph_schema.errors import BAD_USER_INPUT

MASTER_DATA_DOCUMENT: Final = "EPCISMasterDataDocument"
BODY_LIST_PATH: Final = "epcisBody.vocabularyList"
MAX_VALUES: Final = 500_000
MAX_BYTES: Final = 32 * 1_048_576
_HEADER_KEYS: Final = frozenset(
    {"@context", "type", "schemaVersion", "creationDate", "id", "instanceIdentifier", "sender", "receiver"}
)


def _error(field: str, message: str, code: str = BAD_USER_INPUT) -> EventError:
    return EventError(index=None, field=field, code=code, message=f"{field}: {message}")


def document_type(stream: IO[bytes], limits: ReadingLimits) -> object:
    """The document's top-level ``type`` (None when it has none, or is no JSON object: its reading says why)."""
    expecting = False
    try:
        for prefix, event, value in bounded_parse(stream, limits, unit_prefix="epcisBody.eventList.item"):
            if expecting:
                return value if event in ("string", "number", "boolean", "null") else None
            expecting = prefix == "" and event == "map_key" and value == "type"
    except (ijson.JSONError, LimitExceeded):
        return None
    return None


def read_master_data_document(stream: IO[bytes], limits: ReadingLimits) -> MasterData | list[EventError]:
    """The master data of a JSON-LD EPCISMasterDataDocument, or everything wrong with the document."""
    bounds = ReadingLimits(max_depth=limits.max_depth, max_event_values=MAX_VALUES, max_event_bytes=MAX_BYTES)
    builder = ObjectBuilder()
    try:
        # no unit: the whole document counts against the bounds (a prefix that never occurs)
        for _, event, value in bounded_parse(stream, bounds, unit_prefix="\x00"):
            builder.event(event, value)
    except ijson.JSONError as broken:
        return [_error("document", f"is not valid JSON: {broken}")]
    except LimitExceeded as exceeded:
        message = f"the master-data document {exceeded.message}; send its vocabularies in several documents"
        return [EventError(index=None, field="document", code=LIMIT_EXCEEDED, message=message)]
    document: Any = getattr(builder, "value", None)
    if not isinstance(document, dict):
        return [_error("document", f"must be a JSON object, got {describe_value(document)}")]
    errors = context_errors(document.get("@context"), present="@context" in document)
    if document.get("schemaVersion") != "2.0":
        errors.append(_error("schemaVersion", f"must be '2.0', got {describe_value(document.get('schemaVersion'))}"))
    try:
        parse_date_time(document.get("creationDate"))
    except ValueError as wrong:
        errors.append(_error("creationDate", str(wrong) if "creationDate" in document else "is required"))
    namespaces = voc.context_namespaces(document.get("@context"))
    for key in sorted(set(document) - _HEADER_KEYS - {"epcisHeader", "epcisBody"}):
        if voc.expand_curie(key, namespaces) == key and ":" not in key:
            errors.append(_error(key, "is not a field of an EPCISMasterDataDocument"))
    header = document.get("epcisHeader")
    if isinstance(header, dict) and "epcisMasterData" in header:
        errors.append(
            _error(
                "epcisHeader.epcisMasterData",
                f"an EPCISMasterDataDocument carries its vocabularies in {BODY_LIST_PATH}; move them there",
            )
        )
    body = document.get("epcisBody")
    if not isinstance(body, dict):
        errors.append(_error("epcisBody", f"is required: an object holding vocabularyList, got {describe_value(body)}"))
        return errors
    for key in sorted(set(body) - {"vocabularyList"}):
        errors.append(_error(f"epcisBody.{key}", "is not a field of a master-data document's body (vocabularyList)"))
    if errors:
        return errors
    return read_vocabulary_list(body.get("vocabularyList", []), namespaces=namespaces, path=BODY_LIST_PATH)
