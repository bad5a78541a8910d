"""EPCIS master data (a document's ``epcisHeader.epcisMasterData.vocabularyList``), checked and normalised.

The standard carries master data as vocabularies: each has a ``type`` (a vocabulary type URI) and a list of
elements, each element an ``id``, ``attributes`` (``{"id": <attribute URI>, "attribute": <value>}``) and
``children`` (the ids of the elements below it). The hub keeps the CBV master data attributes of locations
(business locations, read points: a site's GLN or a sub-site, GLN + extension) and of parties (PGLNs):
``urn:epcglobal:cbv:mda:`` name, streetAddressOne/Two/Three, city, state, postalCode, countryCode, latitude,
longitude, and for sub-sites site, sst (sub-site type), ssa (sub-site attributes) and ssd (sub-site detail).
Other attributes (extensions under a declared prefix or a full URI) are kept as given. Vocabularies of other
types (EPCClass, BusinessTransaction, ...) are read for errors but not stored.

This module knows nothing of Neo4j: ``read_vocabulary_list`` takes the parsed vocabulary list (the JSON-LD
structure; the XML binding maps its ``VocabularyList`` into the same shape) and returns ``MasterData`` or every
problem found, each with its path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Final

import pycountry

from graph_schema.epcis.epc import parse_identifier
from graph_schema.epcis.model import EventError
from graph_schema.epcis.standard import describe_value
from graph_schema.epcis.vocabulary import expand_curie, is_absolute_uri
from graph_schema.errors import BAD_USER_INPUT, InvalidIdentifier
from graph_schema.identifiers import validate_gln

VOCABULARY_LIST_PATH: Final = "epcisHeader.epcisMasterData.vocabularyList"
MDA: Final = "urn:epcglobal:cbv:mda:"
VTYPE: Final = "urn:epcglobal:epcis:vtype:"
LOCATION_VOCABULARIES: Final = frozenset({f"{VTYPE}BusinessLocation", f"{VTYPE}ReadPoint", f"{VTYPE}Location"})
PARTY_VOCABULARIES: Final = frozenset({f"{VTYPE}Party"})
SOURCE_DEST: Final = f"{VTYPE}SourceDest"  # sources and destinations: locations (SGLN) or parties (PGLN)

# What one document's master data may hold: far above a firm describing its own sites, and bounded.
MAX_ELEMENTS: Final = 10_000
MAX_ATTRIBUTES: Final = 200  # per element
MAX_CHILDREN: Final = 1_000  # per element
MAX_TEXT: Final = 200
MAX_ERRORS: Final = 1_000

# The CBV master data attributes the hub reads, by local name: the longest text each may be (0: not text).
ADDRESS_FIELDS: Final = (
    "name",
    "streetAddressOne",
    "streetAddressTwo",
    "streetAddressThree",
    "city",
    "state",
    "postalCode",
    "countryCode",
)
LOCATION_ONLY: Final = ("latitude", "longitude", "site", "sst", "ssa", "ssd")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_POSTAL_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 \-]{0,15}")
_SST: Final = re.compile(r"2\d\d")  # CBV sub-site types: 201 backroom, 202 storage area, ...
_SSA: Final = re.compile(r"4\d\d(?:,4\d\d)*")  # CBV sub-site attributes, comma-separated: 401, 402, ...


@dataclass(frozen=True)
class Attribute:
    """One attribute of an element as the document gave it: its full URI and its value."""

    id: str
    value: Any


@dataclass(frozen=True)
class LocationMasterData:
    """A location's master data: a site (its GLN, extension 0) or a sub-site (GLN + extension)."""

    id: str  # the SGLN URN
    digital_link: str  # https://id.gs1.org/414/<GLN>[/254/<extension>]: the key, whatever the prefix length
    gln: str  # the 13-digit GLN the id is under
    extension: str  # "0" for the site itself
    path: str  # where in the document, for error messages
    vocabulary_types: tuple[str, ...]
    fields: dict[str, Any]  # CBV attribute local name -> normalised value
    attributes: tuple[Attribute, ...]  # every attribute, as given (with its full URI)
    children: tuple[str, ...]  # SGLN URNs of the locations below it
    children_links: tuple[str, ...]  # their Digital Links, in the same order


@dataclass(frozen=True)
class PartyMasterData:
    """A party's master data (a PGLN)."""

    id: str  # the PGLN URN
    digital_link: str  # https://id.gs1.org/417/<GLN>
    gln: str
    path: str
    fields: dict[str, Any]
    attributes: tuple[Attribute, ...]


@dataclass
class MasterData:
    """What a document's master data says, ready to be stored."""

    locations: list[LocationMasterData] = field(default_factory=list)
    parties: list[PartyMasterData] = field(default_factory=list)
    skipped_vocabularies: list[str] = field(default_factory=list)  # types the hub reads but does not store

    def __bool__(self) -> bool:
        return bool(self.locations or self.parties)


class _Problems:
    def __init__(self) -> None:
        self.errors: list[EventError] = []

    def add(self, path: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(EventError(index=None, field=path, code=BAD_USER_INPUT, message=f"{path}: {message}"))


def read_vocabulary_list(
    vocabulary_list: object, *, namespaces: dict[str, str], path: str = VOCABULARY_LIST_PATH
) -> MasterData | list[EventError]:
    """Check a vocabulary list and normalise the location and party master data in it; every problem, else.

    ``namespaces`` are the prefixes the document declares (for attribute ids such as ``ext:temperatureZone``);
    ``path`` names the list in messages (the XML binding passes its element path).
    """
    problems = _Problems()
    result = MasterData()
    if not isinstance(vocabulary_list, list):
        problems.add(path, f"must be a list of vocabularies, got {describe_value(vocabulary_list)}")
        return problems.errors
    count = 0
    seen: dict[str, str] = {}  # digital link -> path of the element that described it
    locations: dict[str, LocationMasterData] = {}
    for v, vocabulary in enumerate(vocabulary_list):
        at = f"{path}[{v}]"
        if not isinstance(vocabulary, dict):
            got = describe_value(vocabulary)
            problems.add(at, f"must be an object with 'type' and 'vocabularyElementList', got {got}")
            continue
        unknown = sorted(set(vocabulary) - {"type", "vocabularyElementList"})
        for key in unknown:
            problems.add(f"{at}.{key}", "is not a field of a vocabulary (type, vocabularyElementList)")
        vtype = vocabulary.get("type")
        if not isinstance(vtype, str) or not is_absolute_uri(vtype):
            problems.add(
                f"{at}.type",
                f"must be a vocabulary type URI such as '{VTYPE}BusinessLocation', got {describe_value(vtype)}",
            )
            continue
        elements = vocabulary.get("vocabularyElementList", [])
        if not isinstance(elements, list):
            problems.add(f"{at}.vocabularyElementList", f"must be a list, got {describe_value(elements)}")
            continue
        count += len(elements)
        if count > MAX_ELEMENTS:
            problems.add(path, f"holds more than {MAX_ELEMENTS:,} vocabulary elements; send them in several documents")
            return problems.errors
        stored = vtype in LOCATION_VOCABULARIES or vtype in PARTY_VOCABULARIES or vtype == SOURCE_DEST
        if not stored and vtype not in result.skipped_vocabularies:
            result.skipped_vocabularies.append(vtype)
        for e, element in enumerate(elements):
            where = f"{at}.vocabularyElementList[{e}]"
            read = _element(element, vtype=vtype, where=where, namespaces=namespaces, problems=problems)
            if read is None:
                continue
            earlier = seen.get(read.digital_link)
            if isinstance(read, LocationMasterData) and read.digital_link in locations:
                # one location may be both a business location and a read point: one description, or the same one
                before = locations[read.digital_link]
                if before.fields != read.fields or before.attributes != read.attributes:
                    problems.add(
                        where,
                        f"describes {read.id} again with other attributes than {earlier}; describe a location once",
                    )
                    continue
                if read.children != before.children:
                    problems.add(where, f"gives {read.id} other children than {earlier}; describe a location once")
                    continue
                types = tuple(dict.fromkeys((*before.vocabulary_types, *read.vocabulary_types)))
                locations[read.digital_link] = replace(before, vocabulary_types=types)
                continue
            if earlier is not None:
                problems.add(where, f"describes {read.id} again (already at {earlier}); describe it once")
                continue
            seen[read.digital_link] = where
            if isinstance(read, LocationMasterData):
                locations[read.digital_link] = read
            else:
                result.parties.append(read)
    if problems.errors:
        return problems.errors
    result.locations = list(locations.values())
    return result


def _element(
    element: object, *, vtype: str, where: str, namespaces: dict[str, str], problems: _Problems
) -> LocationMasterData | PartyMasterData | None:
    if not isinstance(element, dict):
        problems.add(where, f"must be an object with 'id', 'attributes' and 'children', got {describe_value(element)}")
        return None
    before = len(problems.errors)
    for key in sorted(set(element) - {"id", "attributes", "children"}):
        problems.add(f"{where}.{key}", "is not a field of a vocabulary element (id, attributes, children)")
    raw_id = element.get("id")
    if not isinstance(raw_id, str) or not is_absolute_uri(raw_id):
        problems.add(f"{where}.id", f"must be the element's URI, got {describe_value(raw_id)}")
        return None
    kind = _kind(vtype, raw_id)
    attributes = _attributes(element.get("attributes", []), where=where, namespaces=namespaces, problems=problems)
    children_given = element.get("children", [])
    if not isinstance(children_given, list):
        problems.add(f"{where}.children", f"must be a list of URIs, got {describe_value(children_given)}")
        children_given = []
    elif len(children_given) > MAX_CHILDREN:
        problems.add(f"{where}.children", f"lists more than {MAX_CHILDREN:,} children")
        children_given = []
    if kind is None:  # a vocabulary the hub does not store: its structure is checked, nothing more
        return None
    try:
        key = parse_identifier(raw_id, field=f"{where}.id")
    except InvalidIdentifier as error:
        problems.add(f"{where}.id", error.message.removeprefix(f"{where}.id: "))
        return None
    expected = "sgln" if kind == "location" else "pgln"
    if key.scheme != expected or key.gln is None or key.digital_link is None:
        if kind == "location":
            message = (
                "a location's id must be an SGLN such as 'urn:epc:id:sgln:8801234.00001.0' or a GS1 Digital Link "
                f"such as 'https://id.gs1.org/414/8801234000019', got '{raw_id}'"
            )
        else:
            message = (
                "a party's id must be a PGLN such as 'urn:epc:id:pgln:8801234.00001' or a GS1 Digital Link "
                f"such as 'https://id.gs1.org/417/8801234000019', got '{raw_id}'"
            )
        problems.add(f"{where}.id", message)
        return None
    fields = _fields(attributes, kind=kind, where=where, problems=problems)
    children: list[str] = []
    links: list[str] = []
    if kind == "party" and children_given:
        problems.add(f"{where}.children", "a party has no children here; list sub-sites under their location")
    for c, child in enumerate(children_given if kind == "location" else []):
        at = f"{where}.children[{c}]"
        try:
            parsed = parse_identifier(child, field=at) if isinstance(child, str) else None
        except InvalidIdentifier as error:
            problems.add(at, error.message.removeprefix(f"{at}: "))
            continue
        if parsed is None or parsed.scheme != "sgln" or parsed.digital_link is None:
            problems.add(at, f"a child of a location must be an SGLN (a sub-site), got {describe_value(child)}")
            continue
        if parsed.digital_link == key.digital_link:
            problems.add(at, f"{raw_id} cannot be its own child")
            continue
        children.append(parsed.canonical)
        links.append(parsed.digital_link)
    if len(problems.errors) > before:
        return None
    if kind == "party":
        return PartyMasterData(
            id=key.canonical,
            digital_link=key.digital_link,
            gln=key.gln,
            path=where,
            fields=fields,
            attributes=tuple(attributes),
        )
    return LocationMasterData(
        id=key.canonical,
        digital_link=key.digital_link,
        gln=key.gln,
        extension=key.canonical.rsplit(".", 1)[1],
        path=where,
        vocabulary_types=(vtype,),
        fields=fields,
        attributes=tuple(attributes),
        children=tuple(children),
        children_links=tuple(links),
    )


def _kind(vtype: str, element_id: str) -> str | None:
    if vtype in LOCATION_VOCABULARIES:
        return "location"
    if vtype in PARTY_VOCABULARIES:
        return "party"
    if vtype == SOURCE_DEST:  # a source or destination is a location or a party: its id says which
        if element_id.startswith("urn:epc:id:sgln:") or "/414/" in element_id:
            return "location"
        if element_id.startswith("urn:epc:id:pgln:") or "/417/" in element_id:
            return "party"
    return None


def _attributes(given: object, *, where: str, namespaces: dict[str, str], problems: _Problems) -> list[Attribute]:
    if not isinstance(given, list):
        problems.add(f"{where}.attributes", f"must be a list of {{id, attribute}} objects, got {describe_value(given)}")
        return []
    if len(given) > MAX_ATTRIBUTES:
        problems.add(f"{where}.attributes", f"holds more than {MAX_ATTRIBUTES} attributes")
        return []
    read: list[Attribute] = []
    for a, attribute in enumerate(given):
        at = f"{where}.attributes[{a}]"
        if not isinstance(attribute, dict):
            problems.add(at, f"must be an object with 'id' and 'attribute', got {describe_value(attribute)}")
            continue
        for key in sorted(set(attribute) - {"id", "attribute"}):
            problems.add(f"{at}.{key}", "is not a field of an attribute (id, attribute)")
        raw_id = attribute.get("id")
        if not isinstance(raw_id, str):
            problems.add(f"{at}.id", f"must be the attribute's URI such as 'cbvmda:name', got {describe_value(raw_id)}")
            continue
        full = _full_uri(raw_id, namespaces)
        if full is None:
            problems.add(
                f"{at}.id",
                f"'{raw_id}' is neither a full URI nor a prefix the document declares in its @context "
                "(CBV master data attributes are 'cbvmda:name', 'cbvmda:city', ...)",
            )
            continue
        if "attribute" not in attribute:
            problems.add(f"{at}.attribute", "is required: the attribute's value")
            continue
        value = attribute["attribute"]
        if isinstance(value, bool) or not isinstance(value, int | float | str | dict):
            problems.add(f"{at}.attribute", f"must be a number, a text or an object, got {describe_value(value)}")
            continue
        read.append(Attribute(id=full, value=value))
    return read


def attribute_uri(name: str) -> str | None:
    """An attribute's name as a query gives it (``cbvmda:sst``, a URN or a URL) as the full URI it is stored by."""
    return _full_uri(name, {})


def _full_uri(value: str, namespaces: dict[str, str]) -> str | None:
    """The full URI of ``prefix:name`` (a declared or standard prefix) or of a URN or URL; None for anything else.

    The CBV master data namespace is also written ``urn:epcglobal:cbv:mda#name`` in the field: the same attribute.
    """
    full = expand_curie(value, namespaces)
    if full == value and not (value.startswith("urn:") or "://" in value):
        return None  # no declared prefix expanded it, and it is not a URI of its own
    if full.startswith("urn:epcglobal:cbv:mda#"):
        full = MDA + full.removeprefix("urn:epcglobal:cbv:mda#")
    return full if is_absolute_uri(full) else None


def _fields(attributes: list[Attribute], *, kind: str, where: str, problems: _Problems) -> dict[str, Any]:
    """The CBV attributes the hub reads, checked; each at most once."""
    known = (*ADDRESS_FIELDS, *(LOCATION_ONLY if kind == "location" else ()))
    fields: dict[str, Any] = {}
    for a, attribute in enumerate(attributes):
        if not attribute.id.startswith(MDA):
            continue
        name = attribute.id.removeprefix(MDA)
        if name not in known:
            continue  # another CBV attribute (of products, say): kept as given
        at = f"{where}.attributes[{a}].attribute"
        if name in fields:
            problems.add(at, f"cbvmda:{name} is given twice; give each attribute once")
            continue
        try:
            fields[name] = _field(name, attribute.value)
        except ValueError as error:
            problems.add(at, f"cbvmda:{name} {error}")
    return fields


def _field(name: str, value: Any) -> Any:
    if name in ("latitude", "longitude"):
        return _coordinate(name, value)
    if not isinstance(value, str):
        raise ValueError(f"must be a text, got {describe_value(value)}")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if _CONTROL.search(text):
        raise ValueError("must not hold control characters (line breaks, tabs, NUL)")
    if len(text) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters, it has {len(text)}")
    if name == "countryCode":
        if pycountry.countries.get(alpha_2=text.upper()) is None or len(text) != 2:
            raise ValueError(f"must be an ISO 3166-1 alpha-2 country code such as 'KR', got '{text}'")
        return text.upper()
    if name == "postalCode" and _POSTAL_CODE.fullmatch(text) is None:
        raise ValueError(f"must be a postal code of letters, digits, spaces and hyphens (16 at most), got '{text}'")
    if name == "site":
        try:
            return validate_gln(text, field="site")
        except InvalidIdentifier as error:
            raise ValueError(f"must be the 13-digit GLN of the site: {error.message}") from None
    if name == "sst" and _SST.fullmatch(text) is None:
        raise ValueError(f"must be a CBV sub-site type code (3 digits, 201 to 299, e.g. 201 backroom), got '{text}'")
    if name == "ssa" and _SSA.fullmatch(text) is None:
        raise ValueError(
            f"must be CBV sub-site attribute codes (3 digits from 401, comma-separated, e.g. '402,404'), got '{text}'"
        )
    return text


def _coordinate(name: str, value: Any) -> float:
    limit = 90.0 if name == "latitude" else 180.0
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueError(f"must be a number of degrees, got {describe_value(value)}")
    if not -limit <= number <= limit:
        raise ValueError(f"must be from {-limit:g} to {limit:g} degrees, got {number:g}")
    return number


def header_master_data(header: dict[str, Any], *, namespaces: dict[str, str]) -> MasterData | list[EventError] | None:
    """The master data of a document's ``epcisHeader`` (None when it has none), or what is wrong with it."""
    if "epcisHeader" not in header:
        return None
    epcis_header = header["epcisHeader"]
    problems = _Problems()
    if not isinstance(epcis_header, dict):
        problems.add("epcisHeader", f"must be an object, got {describe_value(epcis_header)}")
        return problems.errors
    for key in sorted(set(epcis_header) - {"epcisMasterData"}):
        if _full_uri(key, namespaces) is None:
            problems.add(
                f"epcisHeader.{key}",
                "is not a field of epcisHeader (epcisMasterData) nor an extension under a declared prefix",
            )
    master = epcis_header.get("epcisMasterData")
    if master is None:
        return problems.errors or None
    if not isinstance(master, dict):
        problems.add("epcisHeader.epcisMasterData", f"must be an object, got {describe_value(master)}")
        return problems.errors
    for key in sorted(set(master) - {"vocabularyList"}):
        problems.add(f"epcisHeader.epcisMasterData.{key}", "is not a field of epcisMasterData (vocabularyList)")
    if problems.errors:
        return problems.errors
    return read_vocabulary_list(master.get("vocabularyList", []), namespaces=namespaces)
