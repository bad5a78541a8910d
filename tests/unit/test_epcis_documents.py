"""EPCIS capture documents that nobody on this project wrote (openepcis' test resources), read and validated."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import IO, Any

import pytest

from graph_schema.epcis.document import DocumentReader, read_single_event
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.validation import validate_event
from tests.epcis_data import OPENEPCIS

DATA = OPENEPCIS
CAPTURE = DATA / "Capture"
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"


def _files(folder: str) -> list[Path]:
    return sorted((CAPTURE / folder).glob("*.json")) if CAPTURE.is_dir() else []


def read_and_validate(stream: IO[bytes]) -> tuple[list[EpcisEvent], list[EventError]]:
    reader = DocumentReader(stream)
    events: list[EpcisEvent] = []
    errors: list[EventError] = []
    for index, raw in reader:
        result = validate_event(raw, index=index, namespaces=reader.namespaces)
        if isinstance(result, list):
            errors.extend(result)
        else:
            events.append(result)
    return events, reader.header_errors + errors


class _OneWay(io.RawIOBase):
    """A stream that cannot seek, like a request body read as it arrives."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _document(events: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T10:30:00Z",
    }
    document.update(header)
    document["epcisBody"] = {"eventList": events}
    return document


SHIPPING = {
    "type": "ObjectEvent",
    "eventTime": "2026-07-22T06:45:00+09:00",
    "eventTimeZoneOffset": "+09:00",
    "action": "OBSERVE",
    "epcList": ["urn:epc:id:sgtin:8801234.012345.1001"],
    "bizStep": "shipping",
}


@pytest.mark.parametrize("path", _files("Documents"), ids=lambda path: path.name)
def test_every_valid_openepcis_document_validates_without_error(path: Path) -> None:
    with path.open("rb") as stream:
        events, errors = read_and_validate(stream)
    assert errors == []
    expected = json.loads(path.read_text())["epcisBody"]["eventList"]
    assert [event.index for event in events] == list(range(len(expected)))
    assert [event.raw for event in events] == expected
    assert all(event.event_hash.startswith("ni:///sha-256;") for event in events)


@pytest.mark.parametrize("path", _files("Events"), ids=lambda path: path.name)
def test_every_openepcis_single_event_validates_without_error(path: Path) -> None:
    result = read_single_event(path.read_bytes())
    assert result.errors == []
    assert result.event is not None
    assert result.event.type == json.loads(path.read_text())["type"]
    assert result.event.index == 0


# What is wrong with each invalid document (read by hand), as (event index, field, words of the message).
INVALID: dict[str, list[tuple[int | None, str, str]]] = {
    # event 0 lacks action; event 1 lacks action and eventTimeZoneOffset
    "Combination_of_events_with_missing_mandatory_fields.json": [
        (0, "action", "is required"),
        (1, "eventTimeZoneOffset", "is required"),
        (1, "action", "is required"),
    ],
    # one fault per event: bare bizStep, bare disposition, unknown source type, un-namespaced ilmd field, then a
    # date without time or zone and an action that does not exist
    "Combination_of_multiple_invalid_fields.json": [
        (0, "bizStep", "'transforming' is not a CBV business step"),
        (1, "disposition", "'in_transport' is not a CBV disposition"),
        (2, "sourceList[0].type", "'place' is not a CBV source/destination type"),
        (3, "ilmd.materialType", "must be namespaced"),
        (4, "eventTime", "got '22-07-2026'"),
        (4, "action", "got the text 'CREATE'"),
    ],
    "Combination_of_non_standard_bizStep_and_disposition.json": [
        (0, "bizStep", "'transforming' is not a CBV business step"),
        (1, "disposition", "'in_transport' is not a CBV disposition"),
    ],
    # the document has no @context at all
    "EPCISDocument_without_context.json": [(None, "@context", "is required")],
    # ilmd holds 'materialType' with no namespace prefix
    "ObjectEvent_with_ilmd_field_without_namespace.json": [(0, "ilmd.materialType", "must be namespaced")],
    # action CREATE is not ADD, OBSERVE or DELETE
    "ObjectEvent_with_invalid_action.json": [(0, "action", "must be one of 'ADD', 'OBSERVE' or 'DELETE'")],
    # certificationInfo must be certificate URIs; here it is a list of objects (one with a bad date inside)
    "ObjectEvent_with_invalid_certificationInfo.json": [
        (0, "certificationInfo[0]", "must be the URI of a certificate"),
        (0, "certificationInfo[1]", "must be the URI of a certificate"),
    ],
    # eventTime '22-07-2026' is a day, not a date-time with a zone
    "ObjectEvent_with_invalid_eventTime_format.json": [(0, "eventTime", "must be a date-time with a time zone")],
    "ObjectEvent_with_non_standard_bizStep.json": [(0, "bizStep", "'transforming' is not a CBV business step")],
    # the first event is fine; the second has the bare bizStep
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": [
        (1, "bizStep", "'transforming' is not a CBV business step")
    ],
    "ObjectEvent_with_non_standard_disposition.json": [(0, "disposition", "'in_transport' is not a CBV disposition")],
    # quantity "twenty" is text, not a number
    "ObjectEvent_with_quantity_as_text.json": [
        (0, "quantityList[0].quantity", "must be a number, got the text 'twenty'")
    ],
    # a quantity element with 'weight', which the standard does not define and which has no namespace
    "ObjectEvent_with_unknown_field_in_quantityList.json": [
        (0, "quantityList[0].weight", "'weight' is not a field of quantityList")
    ],
    # neither eventTime (nor its offset) nor action
    "ObjectEvent_without_action_and_eventTime.json": [
        (0, "eventTime", "is required"),
        (0, "eventTimeZoneOffset", "is required"),
        (0, "action", "is required"),
    ],
    # an ObjectEvent naming no object: no epcList, no quantityList
    "ObjectEvent_without_identifier_list.json": [(0, "epcList", "an ObjectEvent must say what it is about")],
}


def test_the_table_covers_every_invalid_openepcis_document() -> None:
    assert sorted(path.name for path in _files("Invalid")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_every_invalid_openepcis_document_is_rejected_with_its_specific_errors(name: str) -> None:
    with (CAPTURE / "Invalid" / name).open("rb") as stream:
        _, errors = read_and_validate(stream)
    expected = INVALID[name]
    assert [(error.index, error.field) for error in errors] == [(index, field) for index, field, _ in expected]
    for error, (_, field, words) in zip(errors, expected, strict=True):
        assert error.code == "BAD_USER_INPUT"
        assert error.message.startswith(f"{field}: ")
        assert words in error.message


def test_quantity_given_as_text_names_the_entry_and_the_text() -> None:
    event = {
        **SHIPPING,
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:8801234.012345.L1", "quantity": 5, "uom": "KGM"},
            {"epcClass": "urn:epc:class:lgtin:8801234.012345.L2", "quantity": "10", "uom": "KGM"},
        ],
    }
    errors = validate_event(event, index=7, namespaces={})
    assert errors == [
        EventError(
            index=7,
            field="quantityList[1].quantity",
            code="BAD_USER_INPUT",
            message="quantityList[1].quantity: must be a number, got the text '10'",
        )
    ]


def test_every_problem_of_one_event_is_reported_at_once() -> None:
    event = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:6d3f6c1e-2c9a-4e0e-9d7b-5b2f0c1a9e11",
        "eventTime": "2026-07-22T06:45:00",  # no zone
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "epcList": ["https://id.gs1.org/01/08801234123451/21/7"],  # check digit of 0880123412345 is 7, not 1
        "bizStep": "packing_up",
        "readPoint": {"id": "urn:epc:id:sgln:8801234.00001.0", "floor": 2},
        "ilmd": {"example:grade": "A"},  # prefix not declared, and ilmd with OBSERVE
    }
    errors = validate_event(event, index=3, namespaces={})
    assert isinstance(errors, list)
    assert {error.field for error in errors} == {
        "eventTime",
        "epcList[0]",
        "bizStep",
        "readPoint.floor",
        "ilmd",
        "ilmd.example:grade",
    }
    by_field = {error.field: error.message for error in errors}
    assert "wrong check digit" in by_field["epcList[0]"]
    assert "expected 7" in by_field["epcList[0]"]
    assert "prefix 'example'" in by_field["ilmd.example:grade"]
    assert all(error.index == 3 and error.event_id == event["eventID"] for error in errors)


def test_a_custom_biz_step_must_be_a_full_uri() -> None:
    good = validate_event({**SHIPPING, "bizStep": "https://ns.example.com/voc/sorting"}, index=0, namespaces={})
    assert isinstance(good, EpcisEvent)
    assert good.biz_step == "https://ns.example.com/voc/sorting"
    bad = validate_event({**SHIPPING, "bizStep": "sorting"}, index=0, namespaces={})
    assert isinstance(bad, list)
    assert bad[0].field == "bizStep"
    assert "'sorting' is not a CBV business step" in bad[0].message
    assert "full URI" in bad[0].message


def test_header_after_the_event_list_is_read_before_the_events_from_a_file() -> None:
    document = _document([{**SHIPPING, "ext:batch": "B-7"}])
    reordered = {"epcisBody": document.pop("epcisBody"), **document}
    reordered["@context"] = [EPCIS_CONTEXT, {"ext": "https://ns.example.com/ext/"}]
    reader = DocumentReader(io.BytesIO(json.dumps(reordered).encode()))
    first = next(iter(reader))
    assert reader.namespaces == {"ext": "https://ns.example.com/ext/"}  # known before the first event
    result = validate_event(first[1], index=first[0], namespaces=reader.namespaces)
    assert isinstance(result, EpcisEvent)
    assert result.namespaces == {"ext": "https://ns.example.com/ext/"}


@pytest.mark.parametrize("seekable", [True, False])
def test_an_object_in_the_header_is_read_whole(seekable: bool) -> None:
    """epcisHeader (master data) is an object of objects: read whole, not cut at its first key."""
    header = {"epcisMasterData": {"vocabularyList": [{"type": "urn:epcglobal:epcis:vtype:ReadPoint"}]}, "x:y": 1}
    data = json.dumps(_document([SHIPPING], epcisHeader=header)).encode()
    reader = DocumentReader(io.BytesIO(data) if seekable else _OneWay(data))  # type: ignore[arg-type]
    assert [index for index, _ in reader] == [0]
    assert reader.header["epcisHeader"] == header


def test_header_after_the_event_list_of_a_stream_that_cannot_seek_is_reported() -> None:
    document = _document([SHIPPING])
    reordered = {"epcisBody": document.pop("epcisBody"), **document}
    reader = DocumentReader(_OneWay(json.dumps(reordered).encode()))  # type: ignore[arg-type]
    assert [index for index, _ in reader] == [0]
    assert reader.header["type"] == "EPCISDocument"
    assert [error.field for error in reader.header_errors] == ["@context"]
    assert "comes after epcisBody" in reader.header_errors[0].message


def test_header_first_in_a_stream_that_cannot_seek_is_fine() -> None:
    data = json.dumps(_document([SHIPPING, SHIPPING])).encode()
    reader = DocumentReader(_OneWay(data))  # type: ignore[arg-type]
    assert [index for index, _ in reader] == [0, 1]
    assert reader.header_errors == []
    assert reader.finished


@pytest.mark.parametrize(
    ("header", "field", "words"),
    [
        ({"@context": ["https://example.com/my-context.jsonld"]}, "@context", "must name the GS1 EPCIS 2.0 context"),
        ({"type": "EPCISQueryDocument"}, "type", "must be 'EPCISDocument'"),
        ({"schemaVersion": 2}, "schemaVersion", ""),
        ({"creationDate": "yesterday"}, "creationDate", "must be a date-time"),
    ],
)
def test_header_problems_are_reported_under_the_header_field(header: dict[str, Any], field: str, words: str) -> None:
    reader = DocumentReader(io.BytesIO(json.dumps(_document([SHIPPING], **header)).encode()))
    list(reader)
    assert [(error.index, error.field) for error in reader.header_errors] == [(None, field)]
    assert words in reader.header_errors[0].message


def test_a_document_without_event_list_or_valid_json_is_reported() -> None:
    no_list = _document([])
    no_list["epcisBody"] = {}
    reader = DocumentReader(io.BytesIO(json.dumps(no_list).encode()))
    assert list(reader) == []
    assert [error.field for error in reader.header_errors] == ["epcisBody.eventList"]
    broken = DocumentReader(io.BytesIO(b'{"@context": ["x"], "epcisBody": {"eventList": [{"type": '))
    assert list(broken) == []
    assert [error.field for error in broken.header_errors] == ["document"]
    assert "is not valid JSON" in broken.header_errors[0].message


def test_event_level_context_adds_its_prefixes_to_the_documents() -> None:
    path = CAPTURE / "Documents" / "Namespaces_at_different_level.json"
    with path.open("rb") as stream:
        events, errors = read_and_validate(stream)
    assert errors == []
    raw_events = json.loads(path.read_text())["epcisBody"]["eventList"]
    for event, raw in zip(events, raw_events, strict=True):
        own = raw.get("@context", [])
        for entry in own if isinstance(own, list) else [own]:
            if isinstance(entry, dict):
                assert entry.items() <= event.namespaces.items()


def test_single_event_needs_its_own_epcis_context() -> None:
    missing = read_single_event(json.dumps(SHIPPING).encode())
    assert missing.event is None
    assert [error.field for error in missing.errors] == ["@context"]
    fine = read_single_event(json.dumps({"@context": [EPCIS_CONTEXT], **SHIPPING}).encode())
    assert fine.errors == []
    assert fine.event is not None
    assert fine.event.epcs == ["urn:epc:id:sgtin:8801234.012345.1001"]
    document = read_single_event(json.dumps(_document([SHIPPING])).encode())
    assert [error.field for error in document.errors] == ["type"]


def test_ten_thousand_events_stream_and_validate(capsys: pytest.CaptureFixture[str]) -> None:
    events: list[dict[str, Any]] = []
    prefixes: dict[str, str] = {}
    for path in _files("Documents"):
        document = json.loads(path.read_text())
        for entry in document["@context"]:
            if isinstance(entry, dict):
                prefixes.update(entry)
        events.extend(document["epcisBody"]["eventList"])
    repeated = [events[position % len(events)] for position in range(10_000)]
    data = json.dumps(_document(repeated, **{"@context": [EPCIS_CONTEXT, prefixes]})).encode()
    started = time.perf_counter()
    valid, errors = read_and_validate(io.BytesIO(data))
    elapsed = time.perf_counter() - started
    assert errors == []
    assert [event.index for event in valid] == list(range(10_000))
    with capsys.disabled():
        print(f"\n10,000 openepcis events ({len(data) / 1e6:.1f} MB): {10_000 / elapsed:.0f} events/s")
