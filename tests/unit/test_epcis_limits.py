"""A hostile EPCIS document (deep, wide, or long) is refused while it streams, naming the limit, in flat memory."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import ijson  # type: ignore[import-untyped]
import pytest

from graph_schema.epcis.document import DocumentReader, read_single_event
from graph_schema.epcis.limits import LIMIT_EXCEEDED, LimitExceeded, ReadingLimits, bounded_parse
from graph_schema.epcis.model import EventError
from tests.unit.test_epcis_documents import EPCIS_CONTEXT, SHIPPING, _document, _OneWay

DEPTH = 20_000  # the probe: 40 KB of brackets
FLAT = 8_000_000  # bytes traced while reading a hostile document: ijson's buffer of tokens and little else


def _header() -> str:
    return json.dumps(_document([]))[: -len("[]}}")]  # the document up to the opening of eventList


def deep_document() -> bytes:
    return (_header() + "[" + "[" * DEPTH + "]" * DEPTH + "]}}").encode()


def deep_event_document() -> bytes:
    deep = '{"type": "ObjectEvent", "x": ' + "[" * DEPTH + "]" * DEPTH + "}"
    return (_header() + "[" + json.dumps(SHIPPING) + ", " + deep + "]}}").encode()


def measured(read: Callable[[], list[EventError]]) -> tuple[list[EventError], int]:
    tracemalloc.start()
    try:
        errors = read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return errors, peak


def read_all(data: bytes, *, seekable: bool = True, limits: ReadingLimits | None = None) -> list[EventError]:
    reader = DocumentReader(io.BytesIO(data) if seekable else _OneWay(data), limits=limits)  # type: ignore[arg-type]
    for _ in reader:
        pass
    return reader.header_errors


@pytest.mark.parametrize("seekable", [True, False], ids=["file", "stream"])
def test_a_document_nested_20000_deep_is_refused_in_flat_memory(seekable: bool) -> None:
    data = deep_document()
    read_all(data[:100], seekable=seekable)  # the first use's imports and caches are not the document's
    errors, peak = measured(lambda: read_all(data, seekable=seekable))
    assert [(error.code, error.index, error.field) for error in errors] == [(LIMIT_EXCEEDED, 0, "event")]
    assert "nests deeper than 32 levels" in errors[0].message
    # what is left is ijson's read buffer: the tokens of 64 KB of input at most, whatever the document
    assert peak < FLAT, f"{peak:,} bytes traced"  # ijson.parse alone: 885 MB for this document


def test_ijson_parse_itself_grows_with_depth_squared() -> None:
    # the control: what the reader did before (a prefix per open level), on a fifth of the depth
    data = (_header() + "[" + "[" * 4000 + "]" * 4000 + "]}}").encode()

    def parse() -> list[EventError]:
        for _ in ijson.parse(io.BytesIO(data)):
            pass
        return []

    _, peak = measured(parse)
    assert peak > 4 * FLAT, f"{peak:,} bytes traced"  # 4,000 levels; 20,000 would cost 25 times more


def test_the_event_nested_too_deep_is_named_by_its_index() -> None:
    errors = read_all(deep_event_document())
    assert [(error.code, error.index) for error in errors] == [(LIMIT_EXCEEDED, 1)]
    assert errors[0].message.startswith("event 1 nests deeper than 32 levels (at epcisBody.eventList.item.x")


def test_an_event_with_too_many_values_is_refused_before_it_is_built() -> None:
    wide = {**SHIPPING, "epcList": ["urn:epc:id:sgtin:8801234.012345.1"] * 200}
    data = json.dumps(_document([SHIPPING, SHIPPING, wide])).encode()
    errors = read_all(data, limits=ReadingLimits(max_event_values=150))
    assert [(error.code, error.index) for error in errors] == [(LIMIT_EXCEEDED, 2)]
    assert "holds more than 150 JSON values" in errors[0].message
    assert read_all(data, limits=ReadingLimits(max_event_values=250)) == []


def test_empty_lists_cannot_amplify_past_the_value_limit() -> None:
    # 2 bytes of JSON, a 56-byte Python list each: 1 MB of "[]," would be 20 MB once built
    event = {**SHIPPING, "x": [[]] * 300_000}
    errors, peak = measured(lambda: read_all(json.dumps(_document([event])).encode()))
    assert [(error.code, error.index) for error in errors] == [(LIMIT_EXCEEDED, 0)]
    assert "holds more than 100,000 JSON values" in errors[0].message
    assert peak < FLAT, f"{peak:,} bytes traced"


def test_an_event_with_too_much_text_is_refused() -> None:
    long = {**SHIPPING, "note": "x" * 2000}
    errors = read_all(json.dumps(_document([long])).encode(), limits=ReadingLimits(max_event_bytes=1000))
    assert [(error.code, error.index) for error in errors] == [(LIMIT_EXCEEDED, 0)]
    assert "more than 1,000 characters of keys and text" in errors[0].message


def test_the_header_has_the_same_bounds() -> None:
    data = json.dumps(_document([SHIPPING], **{"@context": [EPCIS_CONTEXT] + [{"p": "x"}] * 200})).encode()
    errors = read_all(data, limits=ReadingLimits(max_event_values=150))
    assert [(error.code, error.index, error.field) for error in errors] == [(LIMIT_EXCEEDED, None, "document")]
    assert errors[0].message.startswith("the document's header holds more than 150 JSON values")


def test_many_events_each_within_bounds_pass() -> None:
    # the counts are per event: a long document of small events is not refused for its length
    data = json.dumps(_document([SHIPPING] * 500)).encode()
    reader = DocumentReader(io.BytesIO(data), limits=ReadingLimits(max_event_values=20))
    assert len(list(reader)) == 500
    assert reader.header_errors == []


def test_bounded_parse_yields_what_ijson_parse_yields() -> None:
    document: dict[str, Any] = _document([SHIPPING, {**SHIPPING, "ilmd": {"a": [{"b": [1, {"c": None}]}, []]}}])
    document["extra"] = {"": [{"k.j": True}]}
    data = json.dumps(document).encode()
    ours = list(bounded_parse(io.BytesIO(data), ReadingLimits(), unit_prefix="epcisBody.eventList.item"))
    assert ours == list(ijson.parse(io.BytesIO(data), use_float=True))


def test_bounded_parse_names_the_limit() -> None:
    with pytest.raises(LimitExceeded) as raised:
        list(bounded_parse(io.BytesIO(b"[[[[[[[[[[]]]]]]]]]]"), ReadingLimits(max_depth=8), unit_prefix="item"))
    assert (raised.value.limit, raised.value.index) == ("max_depth", 0)


def test_a_single_event_nested_too_deep_is_refused() -> None:
    deep = '{"@context": ["' + EPCIS_CONTEXT + '"], "type": "ObjectEvent", "x": ' + "[" * DEPTH + "]" * DEPTH + "}"
    result, peak = measured(lambda: read_single_event(deep.encode()).errors)
    assert [(error.code, error.field) for error in result] == [(LIMIT_EXCEEDED, "document")]
    assert result[0].message.startswith("the event nests deeper than 32 levels")
    assert peak < FLAT
