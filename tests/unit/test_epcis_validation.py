"""What the validator hands the capture pipeline: events in one canonical form, as a user would check them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from graph_schema.epcis.hashing import event_hash
from graph_schema.epcis.model import BizTransaction, ClassQuantity, EpcisEvent, PartyOrLocation
from graph_schema.epcis.validation import validate_event
from graph_schema.epcis.vocabulary import context_namespaces
from graph_schema.identifiers import lgtin_for
from tests.epcis_data import OPENEPCIS

DOCUMENTS = OPENEPCIS / "Capture" / "Documents"


def _valid(raw: dict[str, Any], namespaces: dict[str, str] | None = None) -> EpcisEvent:
    result = validate_event(raw, index=0, namespaces=namespaces or {})
    assert isinstance(result, EpcisEvent), result
    return result


def test_object_event_with_every_field_is_normalised() -> None:
    document = json.loads((DOCUMENTS / "ObjectEvent_all_possible_fields.json").read_text())
    raw = document["epcisBody"]["eventList"][0]
    namespaces = context_namespaces(document["@context"])
    event = _valid(raw, namespaces)
    assert event.type == "ObjectEvent"
    assert event.event_id == "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"  # given: kept
    assert event.event_hash == event_hash(raw, namespaces)
    assert event.event_time == datetime(2005, 4, 5, 2, 33, 31, 116000, tzinfo=UTC)
    assert event.event_time_zone_offset == "-06:00"
    assert (event.action, event.biz_step, event.disposition) == ("ADD", "receiving", "in_progress")
    assert event.epcs == ["urn:epc:id:sgtin:0614141.107346.2018"]
    assert event.quantities == [
        ClassQuantity(
            epc_class="urn:epc:class:lgtin:4012345.012345.998877",
            given="urn:epc:class:lgtin:4012345.012345.998877",
            gtin="04012345123456",
            lot="998877",
            quantity=200.0,
            uom="KGM",
        )
    ]
    assert (event.read_point, event.read_point_gln) == ("urn:epc:id:sgln:0012345.11111.400", "0012345111112")
    assert (event.biz_location, event.biz_location_gln) == ("urn:epc:id:sgln:0012345.11111.0", "0012345111112")
    assert event.sources == [
        PartyOrLocation(type="location", id="urn:epc:id:sgln:4012345.00225.0", gln="4012345002256"),
        PartyOrLocation(type="possessing_party", id="urn:epc:id:pgln:4012345.00225", gln="4012345002256"),
        PartyOrLocation(type="owning_party", id="urn:epc:id:pgln:4012345.00225", gln="4012345002256"),
    ]
    assert [destination.gln for destination in event.destinations] == ["0614141007776"] * 3
    assert event.biz_transactions == [
        BizTransaction(type="po", id="urn:epc:id:gdti:0614141.00001.1618034"),
        BizTransaction(type="pedigree", id="urn:epc:id:gsrn:0614141.0000010253"),
    ]
    assert event.ilmd is not None
    assert event.ilmd["cbvmda:lotNumber"] == "ABC123"
    assert event.sensor_elements == raw["sensorElementList"]
    assert event.error_declaration == raw["errorDeclaration"]
    assert event.raw == raw
    assert event.namespaces == {
        "ext1": "http://example.com/ext1/",
        "ext2": "http://example.com/ext2/",
        "ext3": "http://example.com/ext3/",
    }


def test_digital_link_event_without_event_id_takes_its_hash_as_id() -> None:
    raw = {
        "type": "TransformationEvent",
        "eventTime": "2026-03-02T09:00:00.250+09:00",
        "eventTimeZoneOffset": "+09:00",
        "inputQuantityList": [
            {"epcClass": "https://id.gs1.org/01/08801234123457/10/SOY-0301", "quantity": 120.5, "uom": "KGM"},
        ],
        "outputQuantityList": [{"epcClass": "https://tofu.example.kr/01/08801234000017/10/TOFU-0302", "quantity": 400}],
        "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
        "bizLocation": {"id": "https://id.gs1.org/414/8801234000000/254/line-2"},
    }
    event = _valid(raw)
    assert event.event_id == event.event_hash == event_hash(raw, {})
    assert event.action is None
    assert event.biz_step == "commissioning"
    assert event.event_time == datetime(2026, 3, 2, 0, 0, 0, 250000, tzinfo=UTC)
    assert event.input_quantities == [
        ClassQuantity(
            epc_class=lgtin_for("08801234123457", "SOY-0301"),
            given="https://id.gs1.org/01/08801234123457/10/SOY-0301",
            gtin="08801234123457",
            lot="SOY-0301",
            quantity=120.5,
            uom="KGM",
        )
    ]
    assert [(q.gtin, q.lot, q.quantity, q.uom) for q in event.output_quantities] == [
        ("08801234000017", "TOFU-0302", 400.0, None)
    ]
    assert event.biz_location_gln == "8801234000000"
    assert event.biz_location == "urn:epc:id:sgln:8801234.00000.line-2"
    assert event.classes == [*event.input_quantities, *event.output_quantities]


def test_class_without_lot_is_a_product_class() -> None:
    raw = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-02T09:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "quantityList": [{"epcClass": "https://id.gs1.org/01/08801234123457", "quantity": 3}],
    }
    (quantity,) = _valid(raw).quantities
    assert (quantity.epc_class, quantity.gtin, quantity.lot) == (
        "urn:epc:idpat:sgtin:8801234.012345.*",
        "08801234123457",
        None,
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"epcList": ["urn:epc:class:lgtin:8801234.012345.L1"]}, "epcList[0]", "names a class of objects"),
        ({"readPoint": {"id": "urn:epc:id:sgtin:8801234.012345.1"}}, "readPoint.id", "is not a location"),
        ({"eventTimeZoneOffset": "+15:00"}, "eventTimeZoneOffset", "must be an offset from -14:00 to +14:00"),
        ({"type": "ShippingEvent"}, "type", "must be one of ObjectEvent"),
        ({"quantityList": [{"epcClass": "urn:epc:class:lgtin:8801234.012345.L1", "uom": "kg"}]},
         "quantityList[0].uom", "UN/CEFACT unit code"),
        ({"quantityList": [{"epcClass": "urn:epc:id:sgtin:8801234.012345.1"}]}, "quantityList[0].epcClass",
         "names one object, not a class"),
        ({"sourceList": [{"type": "owning_party"}]}, "sourceList[0].source", "is required"),
        ({"action": "ADD", "ilmd": {"https://ns.example.com/voc/grade": "A"}, "unknownThing": 1}, "unknownThing",
         "is not a field of an ObjectEvent"),
    ],
)  # fmt: skip
def test_single_faults_are_named(changes: dict[str, Any], field: str, words: str) -> None:
    raw = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-02T09:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:8801234.012345.1"],
        **changes,
    }
    errors = validate_event(raw, index=4, namespaces={})
    assert isinstance(errors, list)
    assert [error.field for error in errors] == [field]
    assert errors[0].message.startswith(f"{field}: ")
    assert words in errors[0].message
    assert errors[0].index == 4


def test_declared_and_full_iri_extensions_are_accepted() -> None:
    raw = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-02T09:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "epcList": [],
        "haccp:ccp": {"code": "CCP-1B", "limit": 85},
        "https://ns.example.com/voc/batchNote": "night shift",
        "ilmd": {"cbvmda:bestBeforeDate": "2026-03-20", "haccp:heatingMinutes": 30},
        "readPoint": {"id": "urn:epc:id:sgln:8801234.00000.0", "haccp:line": "2"},
    }
    event = _valid(raw, {"haccp": "https://haccp.example.kr/voc/"})
    assert event.namespaces == {"haccp": "https://haccp.example.kr/voc/"}
    assert event.ilmd == raw["ilmd"]
    assert event.epcs == []
