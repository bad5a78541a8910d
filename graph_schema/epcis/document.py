"""Streaming reading of EPCIS 2.0 capture documents, in bounded memory, and of single events.

``DocumentReader`` parses the document with ijson (its C backend, yajl2_c) and yields the events of
``epcisBody.eventList`` one at a time, in order, holding one event in memory at a time. It also checks the header
(``@context``, ``type``, ``schemaVersion``, ``creationDate``) and collects the prefixes that the document's
``@context`` declares, which ``validate_event`` needs.

JSON does not order an object's keys, so the header may come after the event list. The reader handles both:

* seekable streams (files, spooled uploads): the header is read in a first pass over the top-level keys, so
  ``namespaces`` and ``header_errors`` are complete before the first event is yielded;
* non-seekable streams: one pass; ``namespaces`` and ``header_errors`` are complete once the events are
  exhausted. If the ``@context`` comes after ``epcisBody`` there, the events already yielded were read without
  the document's prefixes, so the reader reports that as a header error (send the header first, or a file).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

import ijson  # type: ignore[import-untyped]  # ijson ships no type information
import orjson
from ijson.common import ObjectBuilder  # type: ignore[import-untyped]
from pydantic import ValidationError

from graph_schema.epcis import standard as std
from graph_schema.epcis import vocabulary as voc
from graph_schema.epcis.limits import LIMIT_EXCEEDED, LimitExceeded, ReadingLimits, bounded_parse
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.validation import json_path, validate_event
from graph_schema.errors import BAD_USER_INPUT

# The GS1 EPCIS 2.0 JSON-LD context, at its published addresses (with or without the version in the path).
_EPCIS_CONTEXT: Final = re.compile(
    r"https?://(?:ref\.gs1\.org/standards/epcis(?:/2\.0\.0)?/epcis-context\.jsonld"
    r"|gs1\.github\.io/EPCIS/epcis-context\.jsonld|id\.gs1\.org/epcis-context\.jsonld)"
)
_EVENT_PREFIX: Final = "epcisBody.eventList.item"
_HEADER_KEYS: Final = ("@context", "type", "schemaVersion", "creationDate")


def _header_error(field: str, message: str) -> EventError:
    return EventError(index=None, field=field, code=BAD_USER_INPUT, message=f"{field}: {message}")


def context_errors(context: object, *, present: bool) -> list[EventError]:
    """Problems with a document's (or a single event's) ``@context``: missing, or not naming the EPCIS context."""
    if not present:
        return [
            _header_error(
                "@context",
                "is required: a JSON-LD @context naming the GS1 EPCIS 2.0 context, such as "
                '["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"]',
            )
        ]
    entries = context if isinstance(context, list) else [context]
    if not all(isinstance(entry, str | dict) for entry in entries):
        return [_header_error("@context", "must be a URL, an object, or a list of them")]
    if not any(isinstance(entry, str) and _EPCIS_CONTEXT.fullmatch(entry) for entry in entries):
        return [
            _header_error(
                "@context",
                "must name the GS1 EPCIS 2.0 context 'https://ref.gs1.org/standards/epcis/epcis-context.jsonld'",
            )
        ]
    return []


def _check_header(header: dict[str, Any], *, saw_body: bool, saw_event_list: bool) -> list[EventError]:
    errors = context_errors(header.get("@context"), present="@context" in header)
    try:
        std.DocumentHeader.model_validate(header)
    except ValidationError as invalid:
        for error in invalid.errors(include_url=False):
            field = json_path(error["loc"])
            if field == "@context":
                continue  # reported above, with a clearer message
            if error["type"] == "missing":
                errors.append(_header_error(field, "is required in an EPCISDocument"))
            elif field == "type":
                errors.append(
                    _header_error(field, f"must be 'EPCISDocument', got {std.describe_value(error['input'])}")
                )
            else:
                errors.append(_header_error(field, str(error["msg"])))
    if not saw_body:
        errors.append(_header_error("epcisBody", "is required in an EPCISDocument"))
    elif not saw_event_list:
        errors.append(_header_error("epcisBody.eventList", "is required: the list of events to capture"))
    return errors


def _limit_error(exceeded: LimitExceeded, *, single: bool = False) -> EventError:
    if exceeded.index is None or single:
        where = "the event" if single else "the document's header"
        return EventError(index=None, field="document", code=LIMIT_EXCEEDED, message=f"{where} {exceeded.message}")
    return EventError(
        index=exceeded.index,
        field="event",
        code=LIMIT_EXCEEDED,
        message=f"event {exceeded.index} {exceeded.message}; nothing of the document was captured",
    )


class DocumentReader:
    """Stream the events of an EPCIS capture document; see the module docstring for when the header is known."""

    def __init__(self, stream: IO[bytes], *, limits: ReadingLimits | None = None) -> None:
        self._stream = stream
        self._limits = limits or ReadingLimits()
        self._header: dict[str, Any] = {}
        self._errors: list[EventError] = []
        self._saw_body = False
        self._saw_event_list = False
        self._late_context = False  # @context seen only after epcisBody, in a one-pass read
        self.finished = False  # True once the whole document has been read
        self.event_count = 0

    @property
    def namespaces(self) -> dict[str, str]:
        """Prefix -> IRI declared by the document's @context (complete once the header has been read)."""
        return voc.context_namespaces(self._header.get("@context"))

    @property
    def header(self) -> dict[str, Any]:
        """The header keys read so far (everything but epcisBody)."""
        return dict(self._header)

    @property
    def header_errors(self) -> list[EventError]:
        """Problems of the document as a whole; complete after a pre-scan or once the events are exhausted."""
        return list(self._errors)

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return self.events()

    def events(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(index, event)`` for each entry of epcisBody.eventList, in document order."""
        if self._stream.seekable():
            yield from self._two_passes()
        else:
            yield from self._read(collect_header=True)
            self._check_header()
        self.finished = True

    def _two_passes(self) -> Iterator[tuple[int, dict[str, Any]]]:
        # First the header (ijson's parse events only, nothing built but the header's values), then the events,
        # built by the C backend: both passes hold one event at most.
        start = self._stream.tell()
        self._scan_header()
        if not self._check_header():
            return
        self._stream.seek(start)
        yield from enumerate(ijson.items(self._stream, _EVENT_PREFIX, use_float=True))

    def _scan_header(self) -> None:
        """Read the header's values and count the events, building nothing else (one tight loop over the tokens)."""
        header_key: str | None = None
        header_builder: ObjectBuilder | None = None
        count = 0
        try:
            for prefix, event, value in self._parse():
                if prefix.startswith(_EVENT_PREFIX):  # the bulk of the tokens: inside events
                    if prefix == _EVENT_PREFIX and event not in ("map_key", "end_map", "end_array"):
                        count += 1  # an event starts (or a scalar stands where an event should)
                    continue
                if not prefix:
                    if event == "map_key":
                        header_key = value if value != "epcisBody" else None
                        self._saw_body = self._saw_body or value == "epcisBody"
                    continue
                if prefix == "epcisBody.eventList":
                    self._saw_event_list = True
                    continue
                if header_key is not None:
                    if header_builder is None:
                        header_builder = ObjectBuilder()
                    header_builder.event(event, value)
                    if prefix == header_key and event not in ("start_map", "start_array", "map_key"):
                        self._header[header_key] = header_builder.value
                        header_builder = None
                        header_key = None
        except ijson.JSONError as broken:
            self._errors.append(_header_error("document", f"is not valid JSON: {broken}"))
        except LimitExceeded as exceeded:
            self._errors.append(_limit_error(exceeded))
        self.event_count = count

    def _parse(self) -> Iterator[tuple[str, str, Any]]:
        # ijson.parse's triples, cut off at the first limit passed (depth, an event's values or bytes)
        return bounded_parse(self._stream, self._limits, unit_prefix=_EVENT_PREFIX)

    def _check_header(self) -> bool:
        """Add the header's problems; False when the document is not even JSON (then nothing else is said)."""
        if any(error.field == "document" or error.code == LIMIT_EXCEEDED for error in self._errors):
            return False
        self._errors.extend(_check_header(self._header, saw_body=self._saw_body, saw_event_list=self._saw_event_list))
        return True

    def _read(self, *, collect_header: bool, build_events: bool = True) -> Iterator[tuple[int, dict[str, Any]]]:
        index = 0
        builder: ObjectBuilder | None = None
        header_key: str | None = None
        header_builder: ObjectBuilder | None = None
        try:
            for prefix, event, value in self._parse():
                if builder is not None:
                    builder.event(event, value)
                    if prefix == _EVENT_PREFIX and event in ("end_map", "end_array"):
                        yield index, builder.value
                        index += 1
                        builder = None
                    continue
                if prefix.startswith(_EVENT_PREFIX):
                    if prefix != _EVENT_PREFIX or event in ("end_map", "end_array"):
                        continue
                    if build_events and event in ("start_map", "start_array"):
                        builder = ObjectBuilder()
                        builder.event(event, value)
                        continue
                    if build_events and event not in ("start_map", "start_array"):
                        yield index, value  # a scalar where an event should be: validate_event reports it
                    index += 1
                    continue
                if prefix == "" and event == "map_key":
                    header_key = value if value != "epcisBody" else None
                    if value == "epcisBody":
                        self._saw_body = True
                        self._late_context = build_events and "@context" not in self._header
                    continue
                if prefix == "epcisBody" and event == "map_key" and value == "eventList":
                    self._saw_event_list = True
                    continue
                if header_key is not None and collect_header:
                    if header_builder is None:
                        header_builder = ObjectBuilder()
                    header_builder.event(event, value)
                    if prefix == header_key and event not in ("start_map", "start_array", "map_key"):
                        self._header[header_key] = header_builder.value
                        header_builder = None
                        header_key = None
        except ijson.JSONError as broken:
            self._errors.append(_header_error("document", f"is not valid JSON: {broken}"))
        except LimitExceeded as exceeded:
            self._errors.append(_limit_error(exceeded))
        self.event_count = index
        if self._late_context and "@context" in self._header:
            self._errors.append(
                _header_error(
                    "@context",
                    "comes after epcisBody in a document read as a stream; put the header before epcisBody "
                    "(or upload the document as a file) so that the events are read with its namespaces",
                )
            )


@dataclass(frozen=True)
class SingleEvent:
    """The result of reading ``POST /epcis/events``: the validated event, or what is wrong with it."""

    event: EpcisEvent | None
    errors: list[EventError]


def read_single_event(data: bytes, *, limits: ReadingLimits | None = None) -> SingleEvent:
    """Parse and validate one EPCIS event with its own @context (the body of ``POST /epcis/events``)."""
    try:  # the limits first, streamed, so that nothing too deep or too big is built
        for _ in bounded_parse(io.BytesIO(data), limits or ReadingLimits(), unit_prefix=""):
            pass
        raw = orjson.loads(data)
    except (ijson.JSONError, orjson.JSONDecodeError) as broken:
        return SingleEvent(None, [_header_error("document", f"is not valid JSON: {broken}")])
    except LimitExceeded as exceeded:
        return SingleEvent(None, [_limit_error(exceeded, single=True)])
    if not isinstance(raw, dict):
        return SingleEvent(None, [_header_error("document", "must be one EPCIS event, a JSON object")])
    if raw.get("type") == "EPCISDocument":
        return SingleEvent(
            None, [_header_error("type", "is an EPCISDocument: send documents to /epcis/capture, events here")]
        )
    errors = context_errors(raw.get("@context"), present="@context" in raw)
    result = validate_event(raw, index=0, namespaces={})
    if isinstance(result, list):
        return SingleEvent(None, errors + result)
    if errors:
        return SingleEvent(None, errors)
    return SingleEvent(result, [])
