"""The GS1 EPCIS 2.0 JSON schema against the documents the suite captures: an independent check of the hub's reading.

Every valid document (openepcis's, the farm-to-shelf chain's, the master data documents) validates against GS1's
schema, but for the allowances ``tests/epcis_schema.LENIENT`` names; every invalid one is caught by the schema and
by the hub with a specific error; and the schema is a real check (hand-broken documents are refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from graph_schema.epcis.reading import HEADER, document_source
from tests.epcis_chain import EpcisChain, document
from tests.epcis_data import OPENEPCIS
from tests.epcis_schema import LENIENT, lenient_kind, schema_errors, validator
from tests.factories import gln, gtin
from tests.integration.test_epcis_master_data import observation, plant_description, with_master_data

CAPTURE = OPENEPCIS / "Capture"


def _files(folder: str) -> list[Path]:
    return sorted((CAPTURE / folder).glob("*.json"))


def hub_errors(path: Path) -> list[tuple[int | None, str, str]]:
    """What the hub's reader and validator say of a document file: (event index, field, code), as a capture would."""
    found: list[tuple[int | None, str, str]] = []
    for index, item in document_source(path)():
        if isinstance(item, list):
            found += [(None if index == HEADER else error.index, error.field, error.code) for error in item]
    return found


@pytest.mark.parametrize("path", [*_files("Documents"), *_files("Events")], ids=lambda path: path.name)
def test_every_valid_openepcis_document_and_event_validates_against_the_gs1_schema(path: Path) -> None:
    assert schema_errors(orjson.loads(path.read_bytes())) == []


def test_the_hub_is_more_lenient_than_the_schema_only_where_it_says_so() -> None:
    """Each allowance is needed, and only by the documents it names; nothing else differs."""
    validator_ = validator()
    kinds: dict[str, set[str]] = {}
    for path in [*_files("Documents"), *_files("Events")]:
        for error in validator_.iter_errors(orjson.loads(path.read_bytes())):
            kind = lenient_kind([str(part) for part in error.absolute_path], error.message)
            assert kind is not None, (path.name, error.message)
            kinds.setdefault(kind, set()).add(path.name)
    assert kinds == {
        "sensorReport without type": {"SensorData_with_combined_events.json"},
        "measurement type outside the schema's list": {
            "SensorData_with_combined_events.json",
            "TransactionEvent_with_userExtensions.json",
        },
        "persistentDisposition on an AggregationEvent": {"AggregationEvent_with_persistentDisposition.json"},
    }
    assert sorted(kinds) == sorted(LENIENT)


INVALID = sorted(path.name for path in _files("Invalid"))


def test_there_are_invalid_documents_to_check() -> None:
    assert len(INVALID) == 15


@pytest.mark.parametrize("name", INVALID)
def test_every_invalid_document_is_caught_by_the_schema_and_by_the_hub_with_a_specific_error(name: str) -> None:
    """With its formats checked (uri, date-time) the schema catches each of openepcis's invalid documents, and so
    does the hub, with a field and a stable code for each problem (tests/unit/test_epcis_documents.py checks the
    messages one by one)."""
    path = CAPTURE / "Invalid" / name
    assert schema_errors(orjson.loads(path.read_bytes())) != []
    found = hub_errors(path)
    assert found != []
    assert all(field and code == "BAD_USER_INPUT" for _, field, code in found)


def chain_documents() -> list[dict[str, Any]]:
    sites = {firm: gln() for firm in ("farm", "plant", "dc", "store", "rival")}
    chain = EpcisChain(sites, gtin(), gtin())
    return [
        document(events)
        for events in (chain.farm_events(), chain.plant_events(), chain.dc_events(), chain.store_events())
    ]


@pytest.mark.parametrize("index", range(4), ids=["farm", "plant", "dc", "store"])
def test_the_farm_to_shelf_documents_the_suite_captures_validate(index: int) -> None:
    assert schema_errors(chain_documents()[index]) == []


def test_a_document_with_master_data_validates_and_the_schema_refuses_a_malformed_vocabulary() -> None:
    plant = gln()
    doc = with_master_data([observation(plant)], [plant_description(plant)])
    assert schema_errors(doc) == []
    broken = with_master_data([], [{"vocabularyElementList": [{"attributes": []}]}])  # no type, no element id
    assert sorted(schema_errors(broken)) == [
        "epcisHeader/epcisMasterData/vocabularyList/0/vocabularyElementList/0: 'id' is a required property",
        "epcisHeader/epcisMasterData/vocabularyList/0: 'type' is a required property",
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda doc: doc.pop("schemaVersion"), "'schemaVersion' is a required property"),
        (lambda doc: doc["epcisBody"]["eventList"][0].update(action="CREATE"), "'CREATE' is not one of"),
        (lambda doc: doc["epcisBody"]["eventList"][0].update(eventTime="tomorrow"), "'tomorrow' is not a 'date-time'"),
        (lambda doc: doc.update(colour="red"), "'colour' is not valid under any of the given schemas"),
    ],
)
def test_the_schema_is_a_real_check(change: Any, words: str) -> None:
    doc = chain_documents()[0]
    change(doc)
    assert any(words in error for error in schema_errors(doc)), schema_errors(doc)
