"""Bounds on what one EPCIS document may make the hub hold, enforced while the JSON is streamed.

ijson's ``parse`` keeps a prefix string for every open level (its C backend too), so a 40 KB document nested
20,000 deep costs memory in the square of its depth before any of our code sees a token. ``bounded_parse``
yields the same ``(prefix, event, value)`` triples from ijson's ``basic_parse`` (no prefixes), counting the
depth first and stopping at the limit, so a hostile document is refused after reading ``max_depth`` levels.

It also bounds each event (and the header): how many JSON values it holds, and how many bytes of keys and
strings. Each value costs the hub a Python object of 50 to 100 bytes however small it is in the file (``[]``
is 2 bytes), which is how a document amplifies; both counts cap what one event can cost once built.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

import ijson  # type: ignore[import-untyped]  # ijson ships no type information

LIMIT_EXCEEDED: Final = "LIMIT_EXCEEDED"

# EPCIS 2.0 puts events at depth 4 (document, epcisBody, eventList, event); the standard's deepest structure
# below an event (sensorElementList, an element, its sensorReport list, a report) adds 4 more. With user
# extensions (ilmd, a firm's own nested fields) the deepest of OpenEPCIS's "all possible fields" documents
# reach 12 to 14 levels; 32 is more than twice that and still stops a hostile document within 64 bytes.
DEFAULT_MAX_DEPTH: Final = 32
# The largest events the hub sees are shipments with long epcLists: 100,000 values is 50,000 EPCs with room
# to spare, and at most about 10 MB of Python objects once built.
DEFAULT_MAX_EVENT_VALUES: Final = 100_000
DEFAULT_MAX_EVENT_BYTES: Final = 1_048_576  # keys and strings of one event, as for POST /epcis/events


@dataclass(frozen=True)
class ReadingLimits:
    """How deep a document may nest and how much one event (or the header) may hold."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_event_values: int = DEFAULT_MAX_EVENT_VALUES
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES


class LimitExceeded(Exception):
    """A document passed one of its limits; ``index`` is the event's (None for the header), ``limit`` the name."""

    def __init__(self, message: str, *, index: int | None, limit: str) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.limit = limit


def bounded_parse(stream: IO[bytes], limits: ReadingLimits, *, unit_prefix: str) -> Iterator[tuple[str, str, Any]]:
    """ijson.parse's triples, with the depth and each unit's size checked as the tokens come (LimitExceeded).

    A unit is each container whose prefix is ``unit_prefix`` (an event of the list); every value outside the
    units counts toward the header, unit ``None``.
    """
    max_depth, max_values, max_bytes = limits.max_depth, limits.max_event_values, limits.max_event_bytes
    parents: list[str] = []  # the prefix of each open container
    current = ""  # the prefix of the next value
    unit: int | None = None
    units = 0
    values = size = 0  # of the current unit, or of the header outside the units
    header_values = header_size = 0
    unit_depth = -1  # how many containers are open once the current unit has closed; -1 outside any unit
    for event, value in ijson.basic_parse(stream, use_float=True):
        if event == "map_key":
            prefix = parents[-1]
            current = f"{prefix}.{value}" if prefix else value
            size += len(value)
        elif event == "string":
            prefix = current
            values += 1
            size += len(value)
        elif event == "start_map" or event == "start_array":
            prefix = current
            depth = len(parents)
            if depth >= max_depth:
                raise LimitExceeded(
                    f"nests deeper than {max_depth} levels (at {prefix or 'the top'}); EPCIS events are not"
                    " nearly as deep: flatten the extension that nests",
                    index=unit,
                    limit="max_depth",
                )
            if unit_depth < 0 and prefix == unit_prefix:
                header_values, header_size = values, size
                unit, units, values, size, unit_depth = units, units + 1, 0, 0, depth
            parents.append(prefix)
            if event == "start_array":
                current = f"{prefix}.item" if prefix else "item"
            values += 1
        elif event == "end_map" or event == "end_array":
            current = prefix = parents.pop()
            if len(parents) == unit_depth:
                unit, values, size, unit_depth = None, header_values, header_size, -1
        else:
            prefix = current
            values += 1
        if values > max_values:
            raise LimitExceeded(
                f"holds more than {max_values:,} JSON values; split it (or its lists) into smaller events",
                index=unit,
                limit="max_event_values",
            )
        if size > max_bytes:
            raise LimitExceeded(
                f"holds more than {max_bytes:,} characters of keys and text; split it into smaller events",
                index=unit,
                limit="max_event_bytes",
            )
        yield prefix, event, value
