"""Stored events written in the EPCIS 2.0 XML binding read back as the same events (the same CBV 2.0 hash), and
identifiers translated as GS1-EPC-Format asks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from lxml import etree

from graph_schema.epcis.document import DocumentReader
from graph_schema.epcis.model import EpcisEvent
from graph_schema.epcis.rendering import EPCIS_QUERY_NS, EpcFormat, query_document_xml, translate_identifiers
from graph_schema.epcis.store import event_row
from graph_schema.epcis.validation import validate_event
from graph_schema.epcis.xml_reading import EPCIS_2_NS, xml_document_source
from tests.epcis_data import OPENEPCIS, xml_schemas

DOCUMENTS = sorted((OPENEPCIS / "Capture" / "Documents").glob("*.json"))


def stored_events(path: Path) -> tuple[list[EpcisEvent], list[dict[str, object]]]:
    """The document's events as validated, and their JSON as the event store keeps it."""
    with path.open("rb") as stream:
        reader = DocumentReader(stream)
        events = [validate_event(raw, index=i, namespaces=reader.namespaces) for i, raw in reader.events()]
    valid = [event for event in events if isinstance(event, EpcisEvent)]
    assert len(valid) == len(events)
    now = datetime.now(UTC)
    return valid, [orjson.loads(str(event_row(event, record_time=now)["json"])) for event in valid]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.stem)
def test_events_written_in_xml_read_back_with_the_same_hash(path: Path, tmp_path: Path) -> None:
    events, stored = stored_events(path)
    answer = etree.fromstring(query_document_xml(stored, creation_date="2026-09-05T10:00:00Z"))
    assert answer.tag == f"{{{EPCIS_QUERY_NS}}}EPCISQueryDocument"
    event_list = answer.find(f"EPCISBody/{{{EPCIS_QUERY_NS}}}QueryResults/resultsBody/EventList")
    assert event_list is not None
    # the same elements as a capture document: what a partner receiving the answer would send on
    capture = etree.Element(
        f"{{{EPCIS_2_NS}}}EPCISDocument", attrib={"schemaVersion": "2.0", "creationDate": "2026-09-05T10:00:00Z"}
    )
    etree.SubElement(etree.SubElement(capture, "EPCISBody"), "EventList").extend(list(event_list))
    (tmp_path / "back.xml").write_bytes(etree.tostring(capture))
    back = [event for _, event in xml_document_source(tmp_path / "back.xml", schemas=xml_schemas())()]
    assert [getattr(event, "event_hash", event) for event in back] == [event.event_hash for event in events]


def test_identifiers_as_digital_links_or_urns() -> None:
    event = {
        "type": "ObjectEvent",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "https://example.com/not-a-key"],
        "quantityList": [{"epcClass": "https://id.gs1.org/01/10614141073464/10/LOT-1", "quantity": 5.0}],
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
    }
    links = translate_identifiers(event, EpcFormat.DIGITAL_LINK)
    assert links["epcList"] == ["https://id.gs1.org/01/10614141073464/21/2017", "https://example.com/not-a-key"]
    assert links["bizLocation"] == {"id": "https://id.gs1.org/414/0614141007776"}
    assert links["sourceList"][0]["source"] == "https://id.gs1.org/417/0614141000012"
    urns = translate_identifiers(links, EpcFormat.URN)
    assert urns["epcList"][0] == "urn:epc:id:sgtin:0614141.107346.2017"
    assert urns["quantityList"][0]["epcClass"] == "urn:epc:class:lgtin:0614141.107346.LOT-1"
    assert translate_identifiers(event, EpcFormat.NEVER_TRANSLATES) is event
