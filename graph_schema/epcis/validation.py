"""Validate one EPCIS 2.0 event and normalise it into ``EpcisEvent``, or report every problem it has.

Four checks run on each event, and all their findings are returned together so that a sender can fix an event in
one go: the standard's types (``standard.py``), the fields that must come together (an ObjectEvent needs an
epcList or a quantityList, ...), the CBV vocabularies (``vocabulary.py``) and the GS1 identifiers (``epc.py``).
Unknown keys are errors unless they are namespaced extensions: ``prefix:name`` with the prefix declared in an
``@context`` in force, or a full IRI.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from graph_schema.epcis import standard as std
from graph_schema.epcis import vocabulary as voc
from graph_schema.epcis.epc import Gs1Id, parse_identifier
from graph_schema.epcis.hashing import event_hash
from graph_schema.epcis.model import BizTransaction, ClassQuantity, EpcisEvent, EventError, EventType, PartyOrLocation
from graph_schema.errors import BAD_USER_INPUT, InvalidIdentifier
from graph_schema.identifiers import lgtin_for

_EVENT_TYPES: Final = ", ".join(std.EVENT_MODELS)
_EVENT_KEYS: Final[dict[str, frozenset[str]]] = {
    name: std.json_names(model) for name, model in std.EVENT_MODELS.items()
}
# Objects inside an event whose keys the standard defines, by the event key that holds them (lists: per entry).
_NESTED: Final[dict[str, frozenset[str]]] = {
    "quantityList": std.json_names(std.QuantityElement),
    "childQuantityList": std.json_names(std.QuantityElement),
    "inputQuantityList": std.json_names(std.QuantityElement),
    "outputQuantityList": std.json_names(std.QuantityElement),
    "bizTransactionList": std.json_names(std.BizTransactionElement),
    "sourceList": std.json_names(std.SourceElement),
    "destinationList": std.json_names(std.DestinationElement),
    "readPoint": std.json_names(std.Location),
    "bizLocation": std.json_names(std.Location),
    "errorDeclaration": std.json_names(std.ErrorDeclaration),
    "persistentDisposition": std.json_names(std.PersistentDisposition),
}
_SENSOR_ELEMENT_KEYS: Final = std.json_names(std.SensorElement)
_SENSOR_METADATA_KEYS: Final = std.json_names(std.SensorMetadata)
_SENSOR_REPORT_KEYS: Final = std.json_names(std.SensorReport)
_INSTANCE_LISTS: Final = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_CLASS_LISTS: Final = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


class _Problems:
    """The errors found in one event, with its index and eventID for each."""

    def __init__(self, index: int, event_id: str | None) -> None:
        self.index = index
        self.event_id = event_id
        self.errors: list[EventError] = []
        self._seen: set[str] = set()

    def add(self, field: str, message: str) -> None:
        if field in self._seen and field:  # one message per field: the first (pydantic's) is the most specific
            return
        self._seen.add(field)
        text = f"{field}: {message}" if field else message
        self.errors.append(
            EventError(
                index=self.index, event_id=self.event_id, field=field or "event", code=BAD_USER_INPUT, message=text
            )
        )


def validate_event(raw: dict[str, Any], *, index: int, namespaces: dict[str, str]) -> EpcisEvent | list[EventError]:
    """Check one event of a capture document; return it normalised, or every problem it has."""
    if not isinstance(raw, dict):
        return [
            EventError(index=index, field="event", code=BAD_USER_INPUT, message=f"event {index}: must be a JSON object")
        ]
    given_id = raw.get("eventID")
    problems = _Problems(index, given_id if isinstance(given_id, str) else None)
    in_force = {**namespaces, **voc.context_namespaces(raw.get("@context"))}
    model = _check_types(raw, problems)
    event_type = raw.get("type")
    if isinstance(event_type, str) and event_type in std.EVENT_MODELS:
        _check_keys(raw, event_type, in_force, problems)
        _check_required_combinations(raw, event_type, problems)
    _check_certification_info(raw.get("certificationInfo"), problems)
    terms = _check_vocabularies(raw, in_force, problems)
    ids = _check_identifiers(raw, problems)
    if problems.errors or model is None:
        return problems.errors
    return _normalised(raw, model, index=index, namespaces=in_force, terms=terms, ids=ids)


# -- the standard's types ------------------------------------------------------------------------------------------


def _check_types(raw: dict[str, Any], problems: _Problems) -> std.StandardEvent | None:
    try:
        return std.EVENT_ADAPTER.validate_python(raw)
    except ValidationError as invalid:
        for error in invalid.errors(include_url=False):
            field, message = _explain(error, raw.get("type"))
            problems.add(field, message)
    return None


def json_path(loc: tuple[int | str, ...]) -> str:
    """``('quantityList', 1, 'quantity')`` -> ``quantityList[1].quantity``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _explain(error: ErrorDetails, event_type: object) -> tuple[str, str]:
    kind = error["type"]
    loc = error["loc"]
    if kind == "union_tag_not_found":
        return "type", f"is required: one of {_EVENT_TYPES}"
    if kind == "union_tag_invalid":
        return "type", f"must be one of {_EVENT_TYPES}, got {std.describe_value(event_type)}"
    if loc and loc[0] == event_type:
        loc = loc[1:]  # the discriminated union puts the event type first
    field = json_path(loc)
    got = std.describe_value(error.get("input"))
    context = error.get("ctx") or {}
    if kind == "missing":
        return field, f"is required in {event_type}" if len(loc) == 1 else "is required"
    messages = {
        "float_type": f"must be a number, got {got}",
        "string_type": f"must be a text, got {got}",
        "list_type": f"must be a list, got {got}",
        "dict_type": f"must be an object, got {got}",
        "model_type": f"must be an object, got {got}",
        "model_attributes_type": f"must be an object, got {got}",
        "bool_type": f"must be true or false, got {got}",
        "literal_error": f"must be one of {context.get('expected')}, got {got}",
        "too_short": f"must have at least {context.get('min_length')} entry, it is empty",
    }
    return field, messages.get(kind, error["msg"])


# -- keys: standard or namespaced extensions -----------------------------------------------------------------------


def _is_namespaced(key: str, namespaces: dict[str, str]) -> bool:
    if key.startswith(("http://", "https://", "urn:")):
        return True
    prefix, sep, _ = key.partition(":")
    return bool(sep) and (prefix in namespaces or prefix in voc.STANDARD_PREFIXES)


def _unknown_key(key: str, where: str, field: str, namespaces: dict[str, str], problems: _Problems) -> None:
    if _is_namespaced(key, namespaces):
        return
    prefix, sep, _ = key.partition(":")
    if sep:
        problems.add(
            field,
            f"the prefix '{prefix}' of the extension field '{key}' is not declared in @context; declare it "
            f'(e.g. {{"{prefix}": "https://example.com/{prefix}/"}}) or use a full IRI',
        )
        return
    problems.add(
        field,
        f"'{key}' is not a field of {where} in EPCIS 2.0; an extension field must be namespaced, as "
        f"'prefix:{key}' with the prefix declared in @context, or as a full IRI",
    )


def _check_object_keys(
    obj: object, allowed: frozenset[str], where: str, path: str, namespaces: dict[str, str], problems: _Problems
) -> None:
    if not isinstance(obj, dict):
        return
    for key in obj:
        if key not in allowed:
            _unknown_key(key, where, f"{path}.{key}" if path else key, namespaces, problems)


def _check_keys(raw: dict[str, Any], event_type: str, namespaces: dict[str, str], problems: _Problems) -> None:
    _check_object_keys(raw, _EVENT_KEYS[event_type], f"an {event_type}", "", namespaces, problems)
    for key, allowed in _NESTED.items():
        value = raw.get(key)
        entries = value if isinstance(value, list) else [value]
        for position, entry in enumerate(entries):
            path = f"{key}[{position}]" if isinstance(value, list) else key
            _check_object_keys(entry, allowed, key, path, namespaces, problems)
    ilmd = raw.get("ilmd")
    if isinstance(ilmd, dict):
        for key in ilmd:
            _unknown_key(key, "ilmd (which holds only namespaced master data)", f"ilmd.{key}", namespaces, problems)
    sensors = raw.get("sensorElementList")
    for position, element in enumerate(sensors if isinstance(sensors, list) else []):
        path = f"sensorElementList[{position}]"
        _check_object_keys(element, _SENSOR_ELEMENT_KEYS, "sensorElement", path, namespaces, problems)
        if not isinstance(element, dict):
            continue
        _check_object_keys(
            element.get("sensorMetadata"), _SENSOR_METADATA_KEYS, "sensorMetadata", f"{path}.sensorMetadata",
            namespaces, problems,
        )  # fmt: skip
        reports = element.get("sensorReport")
        for number, report in enumerate(reports if isinstance(reports, list) else []):
            _check_object_keys(
                report, _SENSOR_REPORT_KEYS, "sensorReport", f"{path}.sensorReport[{number}]", namespaces, problems
            )


# -- fields that must come together ----------------------------------------------------------------------------------


def _non_empty(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key)
    return isinstance(value, list) and len(value) > 0


def _check_required_combinations(raw: dict[str, Any], event_type: str, problems: _Problems) -> None:
    action = raw.get("action")
    if event_type == "ObjectEvent":
        has_what = "epcList" in raw or _non_empty(raw, "quantityList")
        sensor_only = _non_empty(raw, "sensorElementList") and "readPoint" in raw
        if not (has_what or sensor_only):
            problems.add(
                "epcList",
                "an ObjectEvent must say what it is about: an epcList, a non-empty quantityList, "
                "or a sensorElementList together with a readPoint",
            )
        if "ilmd" in raw and action in ("OBSERVE", "DELETE"):
            problems.add("ilmd", f"is allowed only when action is ADD (instance/lot master data), not {action}")
    elif event_type in ("AggregationEvent", "AssociationEvent"):
        if action != "DELETE" and not (_non_empty(raw, "childEPCs") or _non_empty(raw, "childQuantityList")):
            problems.add(
                "childEPCs", f"an {event_type} with action {action} needs childEPCs or a non-empty childQuantityList"
            )
    elif event_type == "TransactionEvent":
        if action != "DELETE" and not ("epcList" in raw or _non_empty(raw, "quantityList")):
            problems.add("epcList", "a TransactionEvent needs an epcList or a non-empty quantityList")
    elif event_type == "TransformationEvent":
        has_input = _non_empty(raw, "inputEPCList") or _non_empty(raw, "inputQuantityList")
        has_output = _non_empty(raw, "outputEPCList") or _non_empty(raw, "outputQuantityList")
        if not (has_input and has_output) and not ((has_input or has_output) and "transformationID" in raw):
            problems.add(
                "inputEPCList",
                "a TransformationEvent needs inputs (inputEPCList or inputQuantityList) and outputs "
                "(outputEPCList or outputQuantityList), or either of them with a transformationID",
            )


def _check_certification_info(value: object, problems: _Problems) -> None:
    if value is None:
        return
    entries = value if isinstance(value, list) else [value]
    for position, entry in enumerate(entries):
        if not (isinstance(entry, str) and voc.is_absolute_uri(entry)):
            field = f"certificationInfo[{position}]" if isinstance(value, list) else "certificationInfo"
            problems.add(
                field, f"must be the URI of a certificate (or a list of them), got {std.describe_value(entry)}"
            )


# -- CBV vocabularies --------------------------------------------------------------------------------------------------


def _vocabulary_values(raw: dict[str, Any]) -> list[tuple[str, str, object]]:
    """(JSON path, vocabulary key, value) of every vocabulary-governed field present in the event."""
    found: list[tuple[str, str, object]] = []
    for key in ("bizStep", "disposition"):
        if key in raw:
            found.append((key, key, raw[key]))
    persistent = raw.get("persistentDisposition")
    if isinstance(persistent, dict):
        for key in ("set", "unset"):
            values = persistent.get(key)
            for position, value in enumerate(values if isinstance(values, list) else []):
                found.append((f"persistentDisposition.{key}[{position}]", f"persistentDisposition.{key}", value))
    for list_key in ("bizTransactionList", "sourceList", "destinationList"):
        entries = raw.get(list_key)
        for position, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and "type" in entry:
                found.append((f"{list_key}[{position}].type", f"{list_key}.type", entry["type"]))
    declaration = raw.get("errorDeclaration")
    if isinstance(declaration, dict) and "reason" in declaration:
        found.append(("errorDeclaration.reason", "errorDeclaration.reason", declaration["reason"]))
    sensors = raw.get("sensorElementList")
    for position, element in enumerate(sensors if isinstance(sensors, list) else []):
        reports = element.get("sensorReport") if isinstance(element, dict) else None
        for number, report in enumerate(reports if isinstance(reports, list) else []):
            if not isinstance(report, dict):
                continue
            for key in ("exception", "component"):
                if key in report:
                    path = f"sensorElementList[{position}].sensorReport[{number}].{key}"
                    found.append((path, f"sensorElementList.sensorReport.{key}", report[key]))
    return found


def _check_vocabularies(raw: dict[str, Any], namespaces: dict[str, str], problems: _Problems) -> dict[str, str]:
    normalised: dict[str, str] = {}
    for path, key, value in _vocabulary_values(raw):
        if not isinstance(value, str):
            continue  # the type check reports it
        try:
            normalised[path] = voc.FIELD_VOCABULARIES[key].normalise(value, namespaces)
        except ValueError as wrong:
            problems.add(path, str(wrong))
    return normalised


# -- GS1 identifiers ---------------------------------------------------------------------------------------------------


def _identifier_fields(raw: dict[str, Any]) -> list[tuple[str, object, str]]:
    """(JSON path, value, role) of every identifier; role is 'instance', 'class', 'location', 'party' or 'any'."""
    found: list[tuple[str, object, str]] = []
    for key in _INSTANCE_LISTS:
        values = raw.get(key)
        for position, value in enumerate(values if isinstance(values, list) else []):
            found.append((f"{key}[{position}]", value, "instance"))
    for key in _CLASS_LISTS:
        entries = raw.get(key)
        for position, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and "epcClass" in entry:
                found.append((f"{key}[{position}].epcClass", entry["epcClass"], "class"))
    for key in ("parentID", "transformationID"):
        if key in raw:
            found.append((key, raw[key], "instance" if key == "parentID" else "any"))
    for key in ("readPoint", "bizLocation"):
        location = raw.get(key)
        if isinstance(location, dict) and "id" in location:
            found.append((f"{key}.id", location["id"], "location"))
    for list_key, id_key in (("sourceList", "source"), ("destinationList", "destination")):
        entries = raw.get(list_key)
        for position, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and id_key in entry:
                found.append((f"{list_key}[{position}].{id_key}", entry[id_key], "any"))
    entries = raw.get("bizTransactionList")
    for position, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict) and "bizTransaction" in entry:
            found.append((f"bizTransactionList[{position}].bizTransaction", entry["bizTransaction"], "any"))
    return found


def _check_identifiers(raw: dict[str, Any], problems: _Problems) -> dict[str, Gs1Id]:
    parsed: dict[str, Gs1Id] = {}
    for path, value, role in _identifier_fields(raw):
        if not (isinstance(value, str) and voc.is_absolute_uri(value)):
            continue  # the type check reports it
        try:
            identifier = parse_identifier(value, field=path)
        except InvalidIdentifier as wrong:
            problems.add(path, wrong.message.removeprefix(f"{path}: "))
            continue
        if role == "instance" and identifier.is_class:
            problems.add(path, f"'{value}' names a class of objects, not one object; put it in a quantity list")
        elif role == "class" and identifier.scheme != "uri" and not identifier.is_class:
            problems.add(path, f"'{value}' names one object, not a class; put it in an EPC list")
        elif role == "location" and identifier.scheme not in ("sgln", "uri"):
            problems.add(path, f"'{value}' is not a location: use an SGLN URN or a Digital Link with AI (414)")
        parsed[path] = identifier
    return parsed


# -- the normalised event ----------------------------------------------------------------------------------------------


def _class_quantity(path: str, entry: std.QuantityElement, ids: dict[str, Gs1Id]) -> ClassQuantity:
    identifier = ids[f"{path}.epcClass"]
    canonical = identifier.canonical
    if identifier.scheme == "lgtin" and not identifier.given.startswith("urn:") and identifier.gtin and identifier.lot:
        try:
            # Digital Link names no company prefix: lgtin_for assumes 7 digits (lots match on GTIN + lot anyway).
            canonical = lgtin_for(identifier.gtin, identifier.lot)
        except InvalidIdentifier:
            canonical = identifier.canonical
    return ClassQuantity(
        epc_class=canonical,
        given=entry.epc_class,
        gtin=identifier.gtin,
        lot=identifier.lot,
        quantity=entry.quantity,
        uom=entry.uom,
    )


def _quantities(key: str, entries: list[std.QuantityElement] | None, ids: dict[str, Gs1Id]) -> list[ClassQuantity]:
    return [_class_quantity(f"{key}[{position}]", entry, ids) for position, entry in enumerate(entries or [])]


def _epcs(key: str, values: list[str] | None, ids: dict[str, Gs1Id]) -> list[str]:
    return [ids[f"{key}[{position}]"].canonical for position in range(len(values or []))]


def _parties(
    key: str, id_key: str, entries: list[std.SourceElement] | list[std.DestinationElement] | None,
    terms: dict[str, str], ids: dict[str, Gs1Id],
) -> list[PartyOrLocation]:  # fmt: skip
    parties: list[PartyOrLocation] = []
    for position in range(len(entries or [])):
        identifier = ids[f"{key}[{position}].{id_key}"]
        parties.append(
            PartyOrLocation(type=terms[f"{key}[{position}].type"], id=identifier.canonical, gln=identifier.gln)
        )
    return parties


def _normalised(
    raw: dict[str, Any], model: std.StandardEvent, *, index: int, namespaces: dict[str, str],
    terms: dict[str, str], ids: dict[str, Gs1Id],
) -> EpcisEvent:  # fmt: skip
    computed = event_hash(raw, namespaces)
    read_point = ids.get("readPoint.id")
    biz_location = ids.get("bizLocation.id")
    parent = ids.get("parentID")
    fields: dict[str, Any] = {}
    if isinstance(model, std.ObjectEvent | std.TransactionEvent):
        fields["epcs"] = _epcs("epcList", model.epc_list, ids)
        fields["quantities"] = _quantities("quantityList", model.quantity_list, ids)
    elif isinstance(model, std.AggregationEvent | std.AssociationEvent):
        fields["epcs"] = _epcs("childEPCs", model.child_epcs, ids)
        fields["quantities"] = _quantities("childQuantityList", model.child_quantity_list, ids)
    else:
        fields["input_epcs"] = _epcs("inputEPCList", model.input_epc_list, ids)
        fields["input_quantities"] = _quantities("inputQuantityList", model.input_quantity_list, ids)
        fields["output_epcs"] = _epcs("outputEPCList", model.output_epc_list, ids)
        fields["output_quantities"] = _quantities("outputQuantityList", model.output_quantity_list, ids)
    if isinstance(model, std.ObjectEvent | std.TransformationEvent):
        fields["ilmd"] = raw.get("ilmd")
    transactions = [
        BizTransaction(type=terms.get(f"bizTransactionList[{position}].type"), id=entry.biz_transaction)
        for position, entry in enumerate(model.biz_transaction_list or [])
    ]
    return EpcisEvent(
        index=index,
        type=EventType(model.type),
        event_id=model.event_id or computed,
        event_hash=computed,
        event_time=model.event_time,
        event_time_zone_offset=model.event_time_zone_offset,
        record_time=model.record_time,
        action=None if isinstance(model, std.TransformationEvent) else model.action,
        biz_step=terms.get("bizStep"),
        disposition=terms.get("disposition"),
        read_point=read_point.canonical if read_point else None,
        read_point_gln=read_point.gln if read_point else None,
        biz_location=biz_location.canonical if biz_location else None,
        biz_location_gln=biz_location.gln if biz_location else None,
        parent_id=parent.canonical if parent else None,
        sources=_parties("sourceList", "source", model.source_list, terms, ids),
        destinations=_parties("destinationList", "destination", model.destination_list, terms, ids),
        biz_transactions=transactions,
        sensor_elements=raw.get("sensorElementList") or [],
        error_declaration=raw.get("errorDeclaration"),
        raw=raw,
        namespaces=namespaces,
        **fields,
    )
