"""SimpleEventQuery parameters (EPCIS 2.0 section 8.2.7.1, REST binding's GET /events) parsed into the store's filter.

Every parameter of the standard's query is read here, by its fixed name or its pattern (``EQ_bizTransaction_po``,
``GE_ILMD_ex:weight``, ``LT_value_CEL``). A parameter this hub does not answer is refused by name, as the
standard's QueryParameterException, rather than ignored: an ignored filter would return events the caller did
not ask for, and a recall coordinator would not know.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any, Final

import orjson

from graph_schema.epcis.epc import parse_identifier, to_digital_link
from graph_schema.epcis.event_reads import EventFilter, Places, Position, TermMatch
from graph_schema.epcis.facets import SENSOR_TEXT_FIELDS, field_names, term
from graph_schema.epcis.master_data import attribute_uri
from graph_schema.epcis.master_data_store import attribute_text
from graph_schema.epcis.model import EventType
from graph_schema.epcis.standard import parse_date_time
from graph_schema.epcis.vocabulary import BIZ_STEP, DISPOSITION, ERROR_REASON, Vocabulary
from graph_schema.errors import HubError, InvalidIdentifier

DEFAULT_PER_PAGE: Final = 30
MAX_PER_PAGE: Final = 1000
MAX_VALUES: Final = 100  # values of one parameter: a query is not a bulk lookup
MAX_PARAMETERS: Final = 64  # distinct parameters of one query, each a predicate of its Cypher
MAX_NAME: Final = 200  # characters of a parameter's name
MAX_VALUE: Final = 2_000  # characters of one value (an identifier, a URI, a time, a token)
QUERY_PARAMETER_EXCEPTION: Final = "epcisException:QueryParameterException"

FIXED: Final = (
    "eventType",
    "GE_eventTime",
    "LT_eventTime",
    "GE_recordTime",
    "LT_recordTime",
    "EQ_action",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_persistentDisposition_set",
    "EQ_persistentDisposition_unset",
    "EQ_readPoint",
    "WD_readPoint",
    "EQ_bizLocation",
    "WD_bizLocation",
    "EQ_transformationID",
    "MATCH_epc",
    "MATCH_parentID",
    "MATCH_inputEPC",
    "MATCH_outputEPC",
    "MATCH_anyEPC",
    "MATCH_epcClass",
    "MATCH_inputEPCClass",
    "MATCH_outputEPCClass",
    "MATCH_anyEPCClass",
    "EQ_quantity",
    "GT_quantity",
    "GE_quantity",
    "LT_quantity",
    "LE_quantity",
    "EQ_eventID",
    "EXISTS_errorDeclaration",
    "GE_errorDeclarationTime",
    "LT_errorDeclarationTime",
    "EQ_errorReason",
    "EQ_correctiveEventID",
    "EXISTS_sensorElementList",
    "GE_time",
    "LT_time",
    "GE_startTime",
    "LT_startTime",
    "GE_endTime",
    "LT_endTime",
    *(f"EQ_{name}" for name in SENSOR_TEXT_FIELDS),
    "GT_percRank",
    "GE_percRank",
    "LT_percRank",
    "LE_percRank",
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    "perPage",
    "nextPageToken",
)
PATTERNS: Final = (
    "EQ_bizTransaction_<type>",
    "EQ_source_<type>",
    "EQ_destination_<type>",
    "HASATTR_bizLocation, HASATTR_readPoint (attribute names) and EQATTR_bizLocation_<attribute>,"
    " EQATTR_readPoint_<attribute> (values), through the locations' master data",
    "EQ_|GT_|GE_|LT_|LE_<prefix:field> (with ILMD_, INNER_, INNER_ILMD_, ERROR_DECLARATION_, INNER_ERROR_DECLARATION_,"
    " SENSORELEMENT_, SENSORMETADATA_, SENSORREPORT_ and their INNER_)",
    "EXISTS_<prefix:field> (likewise)",
    "EQ_quantity_<uom> and GT_|GE_|LT_|LE_quantity_<uom>",
    "EQ_value_<uom> and GT_|GE_|LT_|LE_ of value, minValue, maxValue, meanValue, sDev, percValue _<uom>",
)
# aliases the standard's own documents use for the same parameter
ALIASES: Final = {
    "GE_errorDeclaration_Time": "GE_errorDeclarationTime",
    "LT_errorDeclaration_Time": "LT_errorDeclarationTime",
}

_FIELD: Final = r"([a-zA-Z][a-zA-Z0-9_.\-]*:[^\s:]+|https?://\S+)"
_FIELD_NAME: Final = re.compile(_FIELD)
# the longer sections first: INNER_ alone would take INNER_SENSORREPORT_ex:x for a field named SENSORREPORT_ex:x
_SECTIONS: Final = (
    "(INNER_ERROR_DECLARATION_|ERROR_DECLARATION_|INNER_ILMD_|ILMD_|INNER_SENSORELEMENT_|SENSORELEMENT_"
    "|INNER_SENSORMETADATA_|SENSORMETADATA_|INNER_SENSORREPORT_|SENSORREPORT_|INNER_|)"
)
_COMPARISON: Final = re.compile(r"(EQ|GT|GE|LT|LE)_" + _SECTIONS + _FIELD)
_EXISTS: Final = re.compile(r"EXISTS_" + _SECTIONS + _FIELD)
_PARTY: Final = re.compile(r"EQ_(bizTransaction|source|destination)_([a-zA-Z][a-zA-Z0-9_]*)")
_MEASURE: Final = re.compile(
    r"(EQ|GT|GE|LT|LE)_(quantity|value|minValue|maxValue|meanValue|sDev|percValue)_([A-Z0-9]{2,4})"
)
# the standard's parameters this hub refuses by name rather than mistake for an extension field's
_NOT_ANSWERED: Final = re.compile(r"(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?(readPoint|bizLocation)_.*")
_HAS_ATTRIBUTE: Final = re.compile(r"HASATTR_(.+)")
_ATTRIBUTE_EQUALS: Final = re.compile(r"EQATTR_(bizLocation|readPoint)_(.+)|EQATTR_(.*)")
# the fields whose master data the hub keeps (graph_schema.epcis.master_data: locations)
_ATTRIBUTE_FIELDS: Final = ("bizLocation", "readPoint")
_FACET_KIND: Final = {
    "": "field",
    "INNER_": "inner",
    "ILMD_": "ilmd",
    "INNER_ILMD_": "innerIlmd",
    "ERROR_DECLARATION_": "errorDeclaration",
    "INNER_ERROR_DECLARATION_": "innerErrorDeclaration",
    "SENSORELEMENT_": "sensorElement",
    "INNER_SENSORELEMENT_": "innerSensorElement",
    "SENSORMETADATA_": "sensorMetadata",
    "INNER_SENSORMETADATA_": "innerSensorMetadata",
    "SENSORREPORT_": "sensorReport",
    "INNER_SENSORREPORT_": "innerSensorReport",
}
_TIME_PARAMS: Final = {"GE_time", "LT_time", "GE_startTime", "LT_startTime", "GE_endTime", "LT_endTime"}


class QueryError(HubError):
    """A SimpleEventQuery parameter the hub cannot answer as given (the standard's QueryParameterException)."""


@dataclass(frozen=True)
class ParsedQuery:
    filter: EventFilter
    per_page: int
    after: Position | None
    served: int = 0  # events already given on earlier pages (for eventCountLimit)
    event_count_limit: int | None = None
    max_event_count: int | None = None

    @property
    def page_size(self) -> int:
        """How many events this page may hold."""
        if self.event_count_limit is None:
            return self.per_page
        return max(0, min(self.per_page, self.event_count_limit - self.served))


def _split(value: str, *, commas: bool = True) -> list[str]:
    # the REST binding separates a parameter's values with '|' (commas are common too, for URIs and terms)
    parts = value.replace("|", ",").split(",") if commas else value.split("|")
    return [part.strip() for part in parts if part.strip()]


class _Reader:
    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = {}
        for key, value in items:
            name = ALIASES.get(key, key)
            if len(name) > MAX_NAME:
                raise QueryError(f"{name[:MAX_NAME]}...: a parameter's name is not that long", field=name[:MAX_NAME])
            if len(value) > MAX_VALUES * MAX_VALUE:
                raise QueryError(f"{name}: its values are longer than any query needs", field=name)
            if name not in self.values and len(self.values) == MAX_PARAMETERS:
                raise QueryError(f"{name}: a query gives at most {MAX_PARAMETERS} different parameters", field=name)
            self.values.setdefault(name, []).append(value)
            if len(self.values[name]) > MAX_VALUES:
                raise QueryError(f"{name}: given more than {MAX_VALUES} times", field=name)

    def raw(self, name: str) -> list[str] | None:
        return self.values.get(name)

    def list(self, name: str, *, commas: bool = True) -> list[str] | None:
        given = self.values.get(name)
        if given is None:
            return None
        values = [v for each in given for v in _split(each, commas=commas)]
        if not values:
            raise QueryError(f"{name}: give at least one value", field=name)
        if len(values) > MAX_VALUES:
            raise QueryError(f"{name}: at most {MAX_VALUES} values in one query", field=name)
        if any(len(value) > MAX_VALUE for value in values):
            raise QueryError(f"{name}: a value is longer than {MAX_VALUE:,} characters", field=name)
        return values

    def one(self, name: str) -> str | None:
        given = self.values.get(name)
        if given is None:
            return None
        if len(given) > 1:
            raise QueryError(f"{name}: give it once", field=name)
        if len(given[0]) > MAX_VALUE:
            raise QueryError(f"{name}: its value is longer than {MAX_VALUE:,} characters", field=name)
        return given[0].strip()


def _time(name: str, value: str) -> str:
    try:
        # in UTC, as the store keeps times: Neo4j orders one instant in two zones as unequal
        return parse_date_time(value).astimezone(UTC).isoformat()
    except ValueError as error:
        raise QueryError(f"{name}: {error}", field=name) from None


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise QueryError(f"{name}: {value!r} is not a number", field=name) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise QueryError(f"{name}: {value!r} is not a number", field=name)
    return number


def _whole(name: str, value: str, *, at_least: int) -> int:
    if not value.isdigit() or int(value) < at_least or int(value) > 1_000_000_000:
        raise QueryError(f"{name} must be a whole number of at least {at_least}", field=name)
    return int(value)


def _vocabulary(name: str, values: list[str] | None, vocabulary: Vocabulary) -> list[str] | None:
    if values is None:
        return None
    try:
        return [vocabulary.normalise(value, {}) for value in values]
    except ValueError as error:
        raise QueryError(f"{name}: {error}", field=name) from None


def _canonical(name: str, value: str) -> str:
    """An identifier in the store's canonical form (a URN), or the URI as given when it is not a GS1 key."""
    try:
        return parse_identifier(value, field=name).canonical
    except InvalidIdentifier as error:
        if value.startswith(("urn:epc:", "https://id.gs1.org/")):
            raise QueryError(error.message, field=name) from None
        return value


def _epc_patterns(name: str, values: list[str], kinds: tuple[str, ...], *, classes: bool) -> TermMatch:
    """Terms of the kinds for EPCs or classes: exact canonical URNs, or prefixes for ``idpat`` patterns."""
    keys: list[str] = []
    prefixes: list[str] = []
    for value in values:
        if value.startswith("urn:epc:idpat:"):
            scheme, _, body = value.removeprefix("urn:epc:idpat:").partition(":")
            if not body.endswith("*"):
                raise QueryError(f"{name}: pattern {value!r} must end with '*'", field=name)
            stem = body.rstrip("*")
            if classes and scheme == "sgtin":  # a product pattern matches its lots and the product class itself
                stems = [f"urn:epc:class:lgtin:{stem}", f"urn:epc:idpat:sgtin:{stem}"]
            else:
                stems = [f"urn:epc:id:{scheme}:{stem}"]
            prefixes += [term(kind, each) for kind in kinds for each in stems]
            continue
        canonical = _canonical(name, value)
        keys += [term(kind, canonical) for kind in kinds]
    return TermMatch(keys=tuple(keys), prefixes=tuple(prefixes))


def _places(name: str, values: list[str] | None, *, descendants: bool) -> tuple[list[str] | None, Places | None]:
    if values is None:
        return None, None
    canonical = [_canonical(name, value) for value in values]
    if not descendants:
        return canonical, None
    # a site (an SGLN without extension, '.0') includes every sub-location of its GLN: the same URN up to the
    # extension; and any location includes its children in the master data (by Digital Link, as it is keyed)
    prefixes = tuple(v[:-1] for v in canonical if v.startswith("urn:epc:id:sgln:") and v.endswith(".0"))
    links = tuple(link for v in canonical if (link := to_digital_link(v)) is not None)
    return None, Places(exact=tuple(canonical), prefixes=prefixes, links=links)


def _attribute_name(parameter: str, name: str) -> str:
    uri = attribute_uri(name)
    if uri is None:
        raise QueryError(
            f"{parameter}: {name[:100]!r} is not an attribute's name (a full URI, or a CURIE such as cbvmda:sst)",
            field=parameter,
        )
    return uri


def _attribute_field(parameter: str, field_name: str) -> str:
    if field_name not in _ATTRIBUTE_FIELDS:
        raise QueryError(
            f"{parameter}: this hub keeps master data for bizLocation and readPoint only, not {field_name[:100]!r}",
            field=parameter,
        )
    return field_name


def _attribute_group(parameter: str, values: list[str]) -> dict[str, Any]:
    """HASATTR_<field> (attribute names) or EQATTR_<field>_<attribute> (its values) as a group of the filter."""
    if (match := _HAS_ATTRIBUTE.fullmatch(parameter)) is not None:
        field_name = _attribute_field(parameter, match.group(1))
        return {"field": field_name, "names": sorted({_attribute_name(parameter, v) for v in values}), "texts": []}
    match = _ATTRIBUTE_EQUALS.fullmatch(parameter)
    assert match is not None
    if match.group(1) is None:
        raise QueryError(
            f"{parameter}: write EQATTR_bizLocation_<attribute> or EQATTR_readPoint_<attribute>; this hub keeps"
            " master data for those fields only",
            field=parameter,
        )
    uri = _attribute_name(parameter, match.group(2))
    texts: set[str] = set()
    for value in values:
        texts.add(f"{uri}={value}")
        try:  # a number as the store writes it: 5 and 5.0 alike
            number = float(value)
        except ValueError:
            continue
        if number == number and abs(number) != float("inf"):
            texts.add(f"{uri}={attribute_text(number)}")
    return {"field": match.group(1), "names": [], "texts": sorted(texts)}


def _facet_value_alternatives(name: str, key_names: list[str], value: str) -> list[dict[str, Any]]:
    """An EQ_ value: the text itself, the number it writes (5 and 5.0 alike) and the time it names."""
    alternatives: list[dict[str, Any]] = [{"kind": "text", "text": f"{key}={value}"} for key in key_names]
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None and number == number and abs(number) != float("inf"):
        alternatives += [{"kind": "number", "key": key, "op": "EQ", "number": number} for key in key_names]
    if len(value) >= 20 and value[4:5] == "-":
        try:
            moment = parse_date_time(value).astimezone(UTC).isoformat()
        except ValueError:
            moment = None
        if moment is not None:
            alternatives += [{"kind": "time", "key": key, "op": "EQ", "time": moment} for key in key_names]
    return alternatives


def _comparison(name: str, op: str, key_names: list[str], value: str) -> tuple[dict[str, Any], ...]:
    """A GT_/GE_/LT_/LE_ bound: a number, or a date-time."""
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        return tuple({"kind": "number", "key": key, "op": op, "number": _number(name, value)} for key in key_names)
    return tuple({"kind": "time", "key": key, "op": op, "time": _time(name, value)} for key in key_names)


class _Builder:
    def __init__(self) -> None:
        self.terms: list[TermMatch] = []
        self.facets: list[tuple[dict[str, Any], ...]] = []

    def facet_parameter(self, name: str, values: list[str]) -> bool:
        """The pattern parameters on facets; False when ``name`` is none of them."""
        if (match := _MEASURE.fullmatch(name)) is not None:
            op, measure, uom = match.groups()
            prefix = "quantity" if measure == "quantity" else f"sensor {measure}"
            self.numbers(name, op, [f"{prefix} {uom}"], values)
            return True
        if (match := _COMPARISON.fullmatch(name)) is not None:
            op, section, field_name = match.groups()
            keys = [f"{_FACET_KIND[section]} {each}" for each in field_names(field_name, {})]
            if op == "EQ":
                self.facets.append(tuple(a for value in values for a in _facet_value_alternatives(name, keys, value)))
            else:
                self.facets.append(_comparison(name, op, keys, _single(name, values)))
            return True
        if (match := _EXISTS.fullmatch(name)) is not None:
            section, field_name = match.groups()
            keys = [f"{_FACET_KIND[section]} {each}" for each in field_names(field_name, {})]
            self.facets.append(tuple({"kind": "name", "key": key} for key in keys))
            return True
        if (match := _PARTY.fullmatch(name)) is not None:
            kind, type_name = match.groups()
            # business transaction ids are kept as written; parties and locations in their canonical form
            ids = values if kind == "bizTransaction" else [_canonical(name, v) for v in values]
            self.terms.append(TermMatch(keys=tuple(term(kind, type_name, each) for each in ids)))
            return True
        return False

    def numbers(self, name: str, op: str, keys: list[str], values: list[str]) -> None:
        if op == "EQ":
            numbers = [_number(name, value) for value in values]
            self.facets.append(
                tuple({"kind": "number", "key": key, "op": "EQ", "number": n} for n in numbers for key in keys)
            )
        else:
            self.facets.append(
                tuple(
                    {"kind": "number", "key": key, "op": op, "number": _number(name, _single(name, values))}
                    for key in keys
                )
            )


def _single(name: str, values: list[str]) -> str:
    if len(values) != 1:
        raise QueryError(f"{name}: give one value", field=name)
    return values[0]


def parse_simple_event_query(items: Iterable[tuple[str, str]]) -> ParsedQuery:
    """The store's filter, page size and position from the query string; QueryError naming the parameter."""
    given = _Reader(items)
    builder = _Builder()
    attribute_groups: list[dict[str, Any]] = []
    for name in given.values:
        if name in FIXED:
            continue
        if _NOT_ANSWERED.fullmatch(name):
            raise QueryError(
                f"query parameter {name!r} is not supported by this hub: it does not filter on fields inside"
                " read points or business locations",
                field=name,
            )
        if name.startswith(("HASATTR_", "EQATTR_")):
            attribute_groups.append(_attribute_group(name, given.list(name, commas=False) or []))
            continue
        # EXISTS_ parameters carry no value
        values = [] if name.startswith("EXISTS_") else given.list(name, commas=False) or []
        if not builder.facet_parameter(name, values):
            raise QueryError(
                f"query parameter {name!r} is not supported by this hub; supported: {', '.join(FIXED)},"
                f" and the patterns {'; '.join(PATTERNS)}",
                field=name,
            )
    event_types = given.list("eventType")
    for value in event_types or []:
        if value not in {t.value for t in EventType}:
            raise QueryError(f"eventType: {value!r} is not an EPCIS event type", field="eventType")
    actions = given.list("EQ_action")
    for value in actions or []:
        if value not in ("ADD", "OBSERVE", "DELETE"):
            raise QueryError(f"EQ_action: {value!r} is not ADD, OBSERVE or DELETE", field="EQ_action")

    def time(name: str) -> str | None:
        value = given.one(name)
        return None if value is None else _time(name, value)

    epc_kinds: dict[str, tuple[tuple[str, ...], bool]] = {
        "MATCH_epc": (("epc",), False),
        "MATCH_parentID": (("parentID",), False),
        "MATCH_inputEPC": (("inputEPC",), False),
        "MATCH_outputEPC": (("outputEPC",), False),
        "MATCH_anyEPC": (("epc", "parentID", "inputEPC", "outputEPC"), False),
        "MATCH_epcClass": (("epcClass",), True),
        "MATCH_inputEPCClass": (("inputEPCClass",), True),
        "MATCH_outputEPCClass": (("outputEPCClass",), True),
        "MATCH_anyEPCClass": (("epcClass", "inputEPCClass", "outputEPCClass"), True),
    }
    for name, (kinds, classes) in epc_kinds.items():
        if (epcs := given.list(name)) is not None:
            builder.terms.append(_epc_patterns(name, epcs, kinds, classes=classes))
    for name, kind in (("EQ_transformationID", "transformationID"), ("EQ_correctiveEventID", "correctiveEventID")):
        if (ids := given.list(name)) is not None:
            builder.terms.append(TermMatch(keys=tuple(term(kind, v) for v in ids)))
    for op in ("EQ", "GT", "GE", "LT", "LE"):
        if (quantities := given.list(f"{op}_quantity")) is not None:
            builder.numbers(f"{op}_quantity", op, ["quantity"], quantities)
    for op in ("GT", "GE", "LT", "LE"):
        if (rank := given.one(f"{op}_percRank")) is not None:
            builder.facets.append(
                ({"kind": "number", "key": "sensor percRank", "op": op, "number": _number(f"{op}_percRank", rank)},)
            )
    for name in sorted(_TIME_PARAMS):
        if (moment := given.one(name)) is not None:
            op, field_name = name.split("_", 1)
            builder.facets.append(
                ({"kind": "time", "key": f"sensor {field_name}", "op": op, "time": _time(name, moment)},)
            )
    for field_name in SENSOR_TEXT_FIELDS:
        name = f"EQ_{field_name}"
        if (texts := given.list(name, commas=False)) is not None:
            builder.facets.append(tuple({"kind": "text", "text": f"sensor {field_name}={v}"} for v in texts))
    if given.raw("EXISTS_sensorElementList") is not None:
        builder.facets.append(({"kind": "name", "key": "sensorElementList"},))
    read_points, _ = _places("EQ_readPoint", given.list("EQ_readPoint"), descendants=False)
    _, wd_read_points = _places("WD_readPoint", given.list("WD_readPoint"), descendants=True)
    biz_locations, _ = _places("EQ_bizLocation", given.list("EQ_bizLocation"), descendants=False)
    _, wd_biz_locations = _places("WD_bizLocation", given.list("WD_bizLocation"), descendants=True)
    order_by = given.one("orderBy")
    order_keys: tuple[str, ...] = ()
    if order_by is not None and order_by not in ("eventTime", "recordTime"):
        if _FIELD_NAME.fullmatch(order_by) is None:
            raise QueryError(
                f"orderBy: {order_by[:200]!r} is neither eventTime, recordTime nor an extension field's name"
                " (a prefixed name such as ex:weight, or a full IRI)",
                field="orderBy",
            )
        order_keys = tuple(f"field {each}" for each in field_names(order_by, {}))
    direction = given.one("orderDirection")
    if direction is not None and direction not in ("ASC", "DESC"):
        raise QueryError("orderDirection must be ASC or DESC", field="orderDirection")
    limit_text, max_text = given.one("eventCountLimit"), given.one("maxEventCount")
    if limit_text is not None and max_text is not None:
        raise QueryError("eventCountLimit and maxEventCount may not be given together", field="eventCountLimit")
    if limit_text is not None and order_by is None:
        raise QueryError(
            "eventCountLimit needs orderBy (it keeps the first events in that order)", field="eventCountLimit"
        )
    per_page_text = given.one("perPage") or str(DEFAULT_PER_PAGE)
    if not per_page_text.isdigit() or not 1 <= int(per_page_text) <= MAX_PER_PAGE:
        raise QueryError(f"perPage must be a whole number from 1 to {MAX_PER_PAGE}", field="perPage")
    event_filter = EventFilter(
        event_types=event_types,
        ge_time=time("GE_eventTime"),
        lt_time=time("LT_eventTime"),
        ge_record_time=time("GE_recordTime"),
        lt_record_time=time("LT_recordTime"),
        event_ids=given.list("EQ_eventID"),
        actions=actions,
        biz_steps=_vocabulary("EQ_bizStep", given.list("EQ_bizStep"), BIZ_STEP),
        dispositions=_vocabulary("EQ_disposition", given.list("EQ_disposition"), DISPOSITION),
        persistent_set=_vocabulary(
            "EQ_persistentDisposition_set", given.list("EQ_persistentDisposition_set"), DISPOSITION
        ),
        persistent_unset=_vocabulary(
            "EQ_persistentDisposition_unset", given.list("EQ_persistentDisposition_unset"), DISPOSITION
        ),
        read_points=read_points,
        wd_read_points=wd_read_points,
        biz_locations=biz_locations,
        wd_biz_locations=wd_biz_locations,
        error_declared=True if given.raw("EXISTS_errorDeclaration") is not None else None,
        ge_error_time=time("GE_errorDeclarationTime"),
        lt_error_time=time("LT_errorDeclarationTime"),
        error_reasons=_vocabulary("EQ_errorReason", given.list("EQ_errorReason"), ERROR_REASON),
        terms=tuple(builder.terms),
        facets=tuple(builder.facets),
        attributes=tuple(attribute_groups),
        order_by=order_by or "eventTime",
        order_keys=order_keys,
        # the standard's default direction is DESC once orderBy is given; without it the hub keeps time order
        descending=(direction or "DESC") == "DESC" if order_by is not None else False,
    )
    token = given.one("nextPageToken")
    position, served = _position(token, event_filter) if token else (None, 0)
    return ParsedQuery(
        filter=event_filter,
        per_page=int(per_page_text),
        after=position,
        served=served,
        event_count_limit=_whole("eventCountLimit", limit_text, at_least=1) if limit_text is not None else None,
        max_event_count=_whole("maxEventCount", max_text, at_least=0) if max_text is not None else None,
    )


def page_token(query: ParsedQuery, *, sort_key: Any, event_id: str, served: int) -> str:
    """The nextPageToken after an event: its sort key and id, the order they belong to, and how many were given
    (the sort key as graph_schema.epcis.event_reads.sort_position gives it)."""
    order = [query.filter.order_by, query.filter.descending]
    return base64.urlsafe_b64encode(orjson.dumps([sort_key, event_id, order, served])).decode().rstrip("=")


def _position(token: str, event_filter: EventFilter) -> tuple[Position, int]:
    bad = QueryError("nextPageToken is not one this hub issued for this query", field="nextPageToken")
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, TypeError):
        raise bad from None
    if not isinstance(decoded, list) or len(decoded) not in (2, 4):
        raise bad
    if len(decoded) == 2:  # issued before ordering was offered: event time, ascending
        decoded = [*decoded, ["eventTime", False], 0]
    sort_key, event_id, order, served = decoded
    if not isinstance(event_id, str) or not isinstance(served, int) or isinstance(served, bool):
        raise bad
    if order != [event_filter.order_by, event_filter.descending]:
        raise bad
    if event_filter.by_field:
        return _field_position(sort_key, event_id, bad), served
    if not isinstance(sort_key, str):
        raise bad
    try:
        parse_date_time(sort_key)
    except ValueError:
        raise bad from None
    return Position(time=sort_key, event_id=event_id), served


def _field_position(sort_key: Any, event_id: str, bad: QueryError) -> Position:
    """[kind, key] of an extension field's order: 0 a number, 1 a time, 2 a text, 3 none."""
    if not isinstance(sort_key, list) or len(sort_key) != 2 or sort_key[0] not in (0, 1, 2, 3):
        raise bad
    rank, key = sort_key
    if isinstance(rank, bool) or isinstance(key, bool):
        raise bad
    if rank == 0:
        if not isinstance(key, int | float):
            raise bad
        return Position(time="", event_id=event_id, rank=0, key=float(key))
    if not isinstance(key, str):
        raise bad
    if rank == 1:
        try:
            parse_date_time(key)
        except ValueError:
            raise bad from None
    return Position(time="", event_id=event_id, rank=int(rank), key=key)


def with_fixed(query: ParsedQuery, **changes: Any) -> ParsedQuery:
    """The query with some filter fields fixed (a resource's own: /eventTypes/{type}/events, ...)."""
    return replace(query, filter=replace(query.filter, **changes))


Canonical = Callable[[str, str], str]
canonical_identifier: Canonical = _canonical
