"""Capture input as the capture engine takes it: a document file (streamed) or one event, validated."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from graph_schema.epcis.capture import EventSource, SourceItem
from graph_schema.epcis.document import DocumentReader, read_single_event
from graph_schema.epcis.limits import LIMIT_EXCEEDED, ReadingLimits
from graph_schema.epcis.master_data import header_master_data
from graph_schema.epcis.master_data_document import MASTER_DATA_DOCUMENT, document_type, read_master_data_document
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.validation import validate_event

HEADER = -1  # the index under which a document's own problems are reported


def document_source(path: Path, *, limits: ReadingLimits | None = None) -> EventSource:
    """The events of the document at ``path``, validated one by one as they are read (bounded memory)."""

    def events() -> Iterator[tuple[int, SourceItem]]:
        with path.open("rb") as stream:
            if document_type(stream, limits or ReadingLimits()) == MASTER_DATA_DOCUMENT:
                stream.seek(0)  # master data alone: no events
                yield HEADER, read_master_data_document(stream, limits or ReadingLimits())
                return
            stream.seek(0)
            reader = DocumentReader(stream, limits=limits)
            read = reader.events()
            first = next(read, None)  # a file is seekable: its header has been read by now, wherever it stands
            if reader.header_errors:
                yield HEADER, reader.header_errors
                return
            namespaces = reader.namespaces
            master_data = header_master_data(reader.header, namespaces=namespaces)
            if isinstance(master_data, list):
                yield HEADER, master_data
                return
            if master_data:  # written in the capture's first transaction, before the events
                yield HEADER, master_data
            for index, raw in chain([first] if first else [], read):
                yield index, validate_event(raw, index=index, namespaces=namespaces)
            late = reader.header_errors
            if late:
                yield HEADER, late

    return events


def capped(source: EventSource, most: int) -> EventSource:
    """``source`` refusing a document of more than ``most`` events whole (GS1-EPCIS-Capture-Limit): past the limit
    the document's own error is reported and no further event is read."""

    def events() -> Iterator[tuple[int, SourceItem]]:
        for index, event in source():
            if index >= most:
                yield (
                    HEADER,
                    [
                        EventError(
                            index=None,
                            field="epcisBody.eventList",
                            code=LIMIT_EXCEEDED,
                            message=f"the document holds more than {most:,} events, the most one capture takes"
                            " (GS1-EPCIS-Capture-Limit); split it into several documents",
                        )
                    ],
                )
                return
            yield index, event

    return events


def single_event(body: bytes, *, limits: ReadingLimits | None = None) -> EpcisEvent | list[EventError]:
    """One event with its own @context (``POST /epcis/events``), or what is wrong with it."""
    result = read_single_event(body, limits=limits)
    return result.event if result.event is not None else result.errors
