"""The GS1 EPCIS XML schemas (XSD 1.2 and 2.0), loaded from local files only, and where a document breaks them.

The schemas come from a folder holding GS1's XSD files as published (``1_2_0/`` and ``2_0_0/``, fetched by
``hub/epcis_xsd.py``). Each version is loaded once per process from its master-data schema, which imports the
capture document's schema, so one compiled schema checks both ``EPCISDocument`` and ``EPCISMasterDataDocument``.
The XSDs' ``xsd:import``/``xsd:include`` are resolved to files of that same folder and nothing else: any other
address (another folder, ``http:``, ``ftp:``) stops the load; no DTD is read and no entity expanded.

lxml validates while it streams (``iterparse(schema=...)``) but reports a schema violation without its line or
element (libxml2's streaming validator has no locator). ``locate_violation`` reads the document again, one line at
a time, to the first violation, and says where it is: the line and the XML element path, the way the reader names
elements (``/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[1]/action``). It only runs for a document that
is already known to be invalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from lxml import etree

XML_SCHEMA_INVALID: Final = "XML_SCHEMA_INVALID"

EPCIS_2_NS: Final = "urn:epcglobal:epcis:xsd:2"
EPCIS_1_NS: Final = "urn:epcglobal:epcis:xsd:1"
MASTER_DATA_2_NS: Final = "urn:epcglobal:epcis-masterdata:xsd:2"
MASTER_DATA_1_NS: Final = "urn:epcglobal:epcis-masterdata:xsd:1"
# the folders and entry files of the GS1 XSDs, as GS1 publishes them (and openepcis ships them)
SCHEMA_FILES: Final = {
    "2.0": "2_0_0/EPCglobal-epcis-masterdata-2_0.xsd",
    "1.2": "1_2_0/EPCglobal-epcis-masterdata-1_2.xsd",
}
_VERSION_OF: Final = {EPCIS_2_NS: "2.0", MASTER_DATA_2_NS: "2.0", EPCIS_1_NS: "1.2", MASTER_DATA_1_NS: "1.2"}

# entries of lists and repeated elements get their position in the path (ObjectEvent[3], epc[2])
_POSITIONED: Final = frozenset(
    {
        "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent",
        "QuantityEvent", "epc", "quantityElement", "bizTransaction", "source", "destination", "sensorElement",
        "sensorReport", "correctiveEventID", "certificationInfo", "Vocabulary", "VocabularyElement", "attribute",
        "id", "set", "unset",
    }
)  # fmt: skip
_ELEMENT: Final = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")
_CHUNK: Final = 4096  # the locating pass hands the parser at most a line, and at most this many bytes, at a time


class SchemaUnavailable(Exception):
    """The XSD files are missing, unreadable, or reach for something outside their folder."""


class _LocalOnly(etree.Resolver):
    """Resolves the XSDs' imports to files of their own folder; refuses every other address."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder.resolve()

    # lxml calls it with the parser's context, which lxml-stubs leaves out (and resolve_filename with it)
    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:  # type: ignore[override]
        url = system_url or ""
        path = Path(url.removeprefix("file://")) if "://" not in url or url.startswith("file://") else None
        if path is None or not path.resolve().is_relative_to(self.folder) or not path.is_file():
            raise SchemaUnavailable(f"the EPCIS XSDs in {self.folder} refer to {url!r}, outside their folder")
        return self.resolve_filename(str(path), context)  # type: ignore[attr-defined]


def _xsd_parser(folder: Path) -> etree.XMLParser:
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False)
    parser.resolvers.add(_LocalOnly(folder))
    return parser


@dataclass(frozen=True)
class EpcisXmlSchemas:
    """The compiled GS1 EPCIS XSDs of both versions (read-only once built: one per process serves every thread)."""

    folder: Path
    by_version: dict[str, etree.XMLSchema]

    @classmethod
    def load(cls, folder: Path) -> EpcisXmlSchemas:
        """Compile the 1.2 and 2.0 schemas found in ``folder``; SchemaUnavailable says what is wrong."""
        compiled: dict[str, etree.XMLSchema] = {}
        for version, name in SCHEMA_FILES.items():
            entry = folder / name
            if not entry.is_file():
                raise SchemaUnavailable(f"the EPCIS {version} XSD {entry} is missing")
            try:
                compiled[version] = etree.XMLSchema(etree.parse(str(entry), _xsd_parser(folder)))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as broken:
                raise SchemaUnavailable(f"the EPCIS {version} XSD {entry} cannot be loaded: {broken}") from None
        return cls(folder=folder, by_version=compiled)

    def for_namespace(self, namespace: str | None) -> etree.XMLSchema | None:
        """The schema of a document whose root element is in ``namespace`` (None: not an EPCIS namespace)."""
        version = _VERSION_OF.get(namespace or "")
        return self.by_version[version] if version else None


def schema_errors(log: Any) -> list[Any]:
    """The schema-validation entries of an lxml error log (what a parse with ``schema=`` adds to it)."""
    return [entry for entry in log if entry.domain == etree.ErrorDomains.SCHEMASV and entry.level >= 2]


@dataclass(frozen=True)
class Violation:
    """A document's first schema violation: the XSD's own message, the line and the element's path."""

    message: str
    line: int | None
    path: str

    def describe(self) -> str:
        """As the capture job reports it."""
        where = f"line {self.line}, {self.path}" if self.line else self.path
        return f"{where}: the document does not follow the GS1 EPCIS XML schema: {self.message}"


class _OneLineAtATime:
    """A file-like view handing the parser at most one line per read, so the first violation is caught on its line."""

    def __init__(self, stream: IO[bytes], found: Any) -> None:
        self._stream = stream
        self._found = found  # () -> bool: has the parser reported a violation so far
        self.line = 0  # the line the last chunk handed out starts on
        self._newlines = 0
        self.stopped = False

    def read(self, size: int = -1) -> bytes:
        if self.stopped or self._found():
            self.stopped = True
            return b""
        chunk: bytes = self._stream.readline(_CHUNK)
        self.line = self._newlines + 1
        self._newlines += chunk.count(b"\n")
        return chunk


def locate_violation(stream: IO[bytes], schema: etree.XMLSchema, *, fallback: str) -> Violation:
    """Where ``stream`` (read from its start) first breaks ``schema``: read again one line at a time to that line."""
    stream.seek(0)
    parser: Any = None
    reader = _OneLineAtATime(stream, lambda: parser is not None and bool(schema_errors(parser.error_log)))
    stack: list[tuple[str, dict[str, int]]] = []  # (path, counts of each positioned child name so far)
    last_seen: dict[str, tuple[str, int | None]] = {}  # tag -> (path, line) of the latest element so named
    first: Any = None
    try:
        parser = etree.iterparse(
            reader,
            events=("start", "end"),
            schema=schema,
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        for kind, element in parser:
            if kind == "start":
                path = _child_path(stack, element)
                stack.append((path, {}))
                last_seen[element.tag] = (path, element.sourceline)
                continue
            stack.pop()
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError:
        pass  # the end of the reading, or the document's own fault: the parser's log says which
    if parser is not None:
        found = schema_errors(parser.error_log)
        first = found[0] if found else None
    if first is None:  # the streaming pass saw a violation this pass cannot place: say what it said
        return Violation(fallback, None, stack[-1][0] if stack else "/")
    message = str(first.message)
    named = _ELEMENT.match(message)
    if named and named.group(1) in last_seen:
        path, line = last_seen[named.group(1)]
        if named.group(2):
            path += f"/@{named.group(2)}"
        return Violation(message, line or reader.line, path)
    return Violation(message, reader.line, stack[-1][0] if stack else "/")


def _child_path(stack: list[tuple[str, dict[str, int]]], element: Any) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    local = tag.rpartition("}")[2]
    name = f"{element.prefix}:{local}" if element.prefix else local
    if not stack:
        return "/" + name
    parent_path, counts = stack[-1]
    if local in _POSITIONED:
        counts[tag] = counts.get(tag, 0) + 1
        name += f"[{counts[tag]}]"
    return f"{parent_path}/{name}"
