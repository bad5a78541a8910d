"""EPCIS master data read from a document's header: CBV location and party attributes, checked, every error placed."""

from __future__ import annotations

from typing import Any

import pytest

from graph_schema.epcis.master_data import (
    MAX_ELEMENTS,
    MasterData,
    header_master_data,
    read_vocabulary_list,
)
from graph_schema.epcis.model import EventError

SITE = "urn:epc:id:sgln:8801234.00001.0"  # GLN 8801234000017
COLD_ROOM = "urn:epc:id:sgln:8801234.00001.201"
DOCK = "urn:epc:id:sgln:8801234.00001.210"
PARTY = "urn:epc:id:pgln:8801234.00001"


def attribute(name: str, value: Any) -> dict[str, Any]:
    return {"id": name, "attribute": value}


def plant_vocabularies() -> list[dict[str, Any]]:
    return [
        {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [
                {
                    "id": SITE,
                    "attributes": [
                        attribute("cbvmda:name", "Eumseong tofu plant"),
                        attribute("cbvmda:streetAddressOne", "12 Daeso-ro"),
                        attribute("cbvmda:city", "Eumseong-gun"),
                        attribute("cbvmda:state", "Chungcheongbuk-do"),
                        attribute("cbvmda:postalCode", "27654"),
                        attribute("cbvmda:countryCode", "kr"),
                        attribute("urn:epcglobal:cbv:mda:latitude", "36.93"),
                        attribute("cbvmda:longitude", 127.69),
                        attribute("ext:haccpLine", {"ext:count": 3}),
                    ],
                    "children": [COLD_ROOM, "https://id.gs1.org/414/8801234000017/254/210"],
                },
                {
                    "id": COLD_ROOM,
                    "attributes": [
                        attribute("cbvmda:site", "8801234000017"),
                        attribute("cbvmda:sst", "202"),
                        attribute("cbvmda:ssa", "402,404"),
                        attribute("cbvmda:ssd", "Cold room 1"),
                    ],
                },
            ],
        },
        {  # the same cold room as a read point: the same description, so one location of both types
            "type": "urn:epcglobal:epcis:vtype:ReadPoint",
            "vocabularyElementList": [
                {
                    "id": COLD_ROOM,
                    "attributes": [
                        attribute("cbvmda:site", "8801234000017"),
                        attribute("cbvmda:sst", "202"),
                        attribute("cbvmda:ssa", "402,404"),
                        attribute("cbvmda:ssd", "Cold room 1"),
                    ],
                }
            ],
        },
        {
            "type": "urn:epcglobal:epcis:vtype:Party",
            "vocabularyElementList": [
                {"id": PARTY, "attributes": [attribute("cbvmda:name", "Jeil Foods"), attribute("cbvmda:city", "Seoul")]}
            ],
        },
        {
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [
                {"id": "urn:epc:idpat:sgtin:8801234.012345.*", "attributes": [attribute("cbvmda:lotNumber", "L1")]}
            ],
        },
    ]


NAMESPACES = {"ext": "https://plant.example.kr/voc/"}


def read(vocabularies: Any) -> MasterData:
    result = read_vocabulary_list(vocabularies, namespaces=NAMESPACES)
    assert isinstance(result, MasterData), result
    return result


def errors(vocabularies: Any) -> list[EventError]:
    result = read_vocabulary_list(vocabularies, namespaces=NAMESPACES)
    assert isinstance(result, list), result
    return result


def test_locations_and_parties_are_normalised_with_their_cbv_attributes() -> None:
    master = read(plant_vocabularies())
    site, cold_room = master.locations
    assert (site.id, site.gln, site.extension) == (SITE, "8801234000017", "0")
    assert site.fields == {
        "name": "Eumseong tofu plant",
        "streetAddressOne": "12 Daeso-ro",
        "city": "Eumseong-gun",
        "state": "Chungcheongbuk-do",
        "postalCode": "27654",
        "countryCode": "KR",
        "latitude": 36.93,
        "longitude": 127.69,
    }
    # a Digital Link child is the same sub-site as its URN
    assert site.children == (COLD_ROOM, DOCK)
    assert site.children_links == (
        "https://id.gs1.org/414/8801234000017/254/201",
        "https://id.gs1.org/414/8801234000017/254/210",
    )
    # extensions keep their full URI and value as given
    assert site.attributes[-1].id == "https://plant.example.kr/voc/haccpLine"
    assert site.attributes[-1].value == {"ext:count": 3}
    assert cold_room.extension == "201"
    assert cold_room.fields == {"site": "8801234000017", "sst": "202", "ssa": "402,404", "ssd": "Cold room 1"}
    assert cold_room.vocabulary_types == (
        "urn:epcglobal:epcis:vtype:BusinessLocation",
        "urn:epcglobal:epcis:vtype:ReadPoint",
    )
    (party,) = master.parties
    assert (party.id, party.gln, party.fields) == (PARTY, "8801234000017", {"name": "Jeil Foods", "city": "Seoul"})
    assert master.skipped_vocabularies == ["urn:epcglobal:epcis:vtype:EPCClass"]


def test_the_gs1_master_data_example_reads_as_a_site_with_three_sub_sites() -> None:
    """GS1's XML/Mimasu/Example-masterData.xml (gs1/EPCIS), in the JSON binding's shape."""
    vocabularies = [
        {
            "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
            "vocabularyElementList": [
                {
                    "id": "urn:epc:id:sgln:0037000.00729.0",
                    "attributes": [
                        attribute("http://epcis.example.com/mda/latitude", "+18.0000"),
                        attribute("http://epcis.example.com/mda/longitude", "-70.0000"),
                        attribute(
                            "http://epcis.example.com/mda/address",
                            {"Street": "100 Nowhere Street", "City": "Fancy", "State": "DC", "Zip": "99999"},
                        ),
                    ],
                    "children": [
                        "urn:epc:id:sgln:0037000.00729.8201",
                        "urn:epc:id:sgln:0037000.00729.8202",
                        "urn:epc:id:sgln:0037000.00729.8203",
                    ],
                },
                {
                    "id": "urn:epc:id:sgln:0037000.00729.8201",
                    "attributes": [attribute("urn:epcglobal:cbv:mda:sst", "201")],
                },
                {
                    "id": "urn:epc:id:sgln:0037000.00729.8202",
                    "attributes": [attribute("urn:epcglobal:cbv:mda:sst", "202")],
                    "children": ["urn:epc:id:sgln:0037000.00729.8203"],
                },
                {
                    "id": "urn:epc:id:sgln:0037000.00729.8203",
                    "attributes": [
                        attribute("urn:epcglobal:cbv:mda:sst", "202"),
                        attribute("urn:epcglobal:cbv:mda:ssa", "402"),
                    ],
                },
            ],
        },
        {
            "type": "urn:epcglobal:epcis:vtype:ReadPoint",
            "vocabularyElementList": [
                {
                    "id": "urn:epc:id:sgln:0037000.00729.8201",
                    "attributes": [
                        attribute("urn:epcglobal:cbv:mda:site", "0037000007296"),
                        attribute("urn:epcglobal:cbv:mda:sst", "201"),
                    ],
                }
            ],
        },
    ]
    # 8201 is described twice with other attributes (the example's read point adds cbvmda:site): refused, placed
    (problem,) = errors(vocabularies)
    assert problem.field == "epcisHeader.epcisMasterData.vocabularyList[1].vocabularyElementList[0]"
    assert "describes urn:epc:id:sgln:0037000.00729.8201 again with other attributes" in problem.message
    del vocabularies[1]
    master = read(vocabularies)
    assert [location.extension for location in master.locations] == ["0", "8201", "8202", "8203"]
    assert master.locations[0].gln == "0037000007296"
    assert master.locations[2].children == ("urn:epc:id:sgln:0037000.00729.8203",)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda v: v[0]["vocabularyElementList"][0]["attributes"].__setitem__(
                5, attribute("cbvmda:countryCode", "XK1")
            ),
            "vocabularyList[0].vocabularyElementList[0].attributes[5].attribute",
            "cbvmda:countryCode must be an ISO 3166-1 alpha-2 country code such as 'KR', got 'XK1'",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0]["attributes"].__setitem__(6, attribute("cbvmda:latitude", 91)),
            "vocabularyList[0].vocabularyElementList[0].attributes[6].attribute",
            "cbvmda:latitude must be from -90 to 90 degrees, got 91",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][1]["attributes"].__setitem__(
                0, attribute("cbvmda:site", "8801234000018")
            ),
            "vocabularyList[0].vocabularyElementList[1].attributes[0].attribute",
            "has check digit 8, expected 7",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0]["attributes"].append(attribute("acme:colour", "red")),
            "vocabularyList[0].vocabularyElementList[0].attributes[9].id",
            "'acme:colour' is neither a full URI nor a prefix the document declares",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0]["attributes"].append(attribute("cbvmda:name", "Another name")),
            "vocabularyList[0].vocabularyElementList[0].attributes[9].attribute",
            "cbvmda:name is given twice",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0].__setitem__("id", "urn:epc:id:sgtin:8801234.012345.1"),
            "vocabularyList[0].vocabularyElementList[0].id",
            "a location's id must be an SGLN",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0].__setitem__("id", "urn:epc:id:sgln:8801234.0002.0"),
            "vocabularyList[0].vocabularyElementList[0].id",
            "urn:epc:id:sgln:8801234.0002.0",
        ),
        (
            lambda v: v[2]["vocabularyElementList"][0].__setitem__("id", SITE),
            "vocabularyList[2].vocabularyElementList[0].id",
            "a party's id must be a PGLN",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0]["attributes"].__setitem__(0, attribute("cbvmda:name", "A\n2")),
            "vocabularyList[0].vocabularyElementList[0].attributes[0].attribute",
            "cbvmda:name must not hold control characters",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][1]["attributes"].__setitem__(1, attribute("cbvmda:sst", "fridge")),
            "vocabularyList[0].vocabularyElementList[1].attributes[1].attribute",
            "cbvmda:sst must be a CBV sub-site type code",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0]["children"].append(SITE),
            "vocabularyList[0].vocabularyElementList[0].children[2]",
            "cannot be its own child",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0].__setitem__("colour", "red"),
            "vocabularyList[0].vocabularyElementList[0].colour",
            "is not a field of a vocabulary element",
        ),
        (
            lambda v: v[1].__setitem__("type", "BusinessLocation"),
            "vocabularyList[1].type",
            "must be a vocabulary type URI",
        ),
        (
            lambda v: v[0]["vocabularyElementList"][0]["attributes"].__setitem__(0, attribute("cbvmda:name", True)),
            "vocabularyList[0].vocabularyElementList[0].attributes[0].attribute",
            "must be a number, a text or an object, got the boolean true",
        ),
    ],
)
def test_each_problem_is_reported_at_its_place(change: Any, field: str, message: str) -> None:
    vocabularies = plant_vocabularies()
    change(vocabularies)
    found = errors(vocabularies)
    assert [error.field for error in found] == [f"epcisHeader.epcisMasterData.{field}"]
    assert message in found[0].message
    assert found[0].code == "BAD_USER_INPUT"
    assert found[0].index is None  # the document's header, not an event


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    vocabularies = plant_vocabularies()
    vocabularies[0]["vocabularyElementList"][0]["attributes"][5] = attribute("cbvmda:countryCode", "ZZ")
    vocabularies[2]["vocabularyElementList"][0]["attributes"][1] = attribute("cbvmda:city", "")
    assert len(errors(vocabularies)) == 2


def test_master_data_is_bounded_in_elements() -> None:
    many = [{"id": f"urn:epc:id:sgln:8801234.00001.{i}"} for i in range(MAX_ELEMENTS + 1)]
    (problem,) = errors([{"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": many}])
    assert f"more than {MAX_ELEMENTS:,} vocabulary elements" in problem.message


def test_the_header_says_where_master_data_is_and_refuses_unknown_keys() -> None:
    header = {"epcisHeader": {"epcisMasterData": {"vocabularyList": plant_vocabularies()}}}
    master = header_master_data(header, namespaces=NAMESPACES)
    assert isinstance(master, MasterData)
    assert len(master.locations) == 2
    assert header_master_data({}, namespaces={}) is None
    assert header_master_data({"epcisHeader": {"ext:batch": "7"}}, namespaces=NAMESPACES) is None
    found = header_master_data({"epcisHeader": {"masterData": {}}}, namespaces=NAMESPACES)
    assert isinstance(found, list)
    assert [error.field for error in found] == ["epcisHeader.masterData"]
    found = header_master_data(
        {"epcisHeader": {"epcisMasterData": {"vocabularyList": "BusinessLocation"}}}, namespaces=NAMESPACES
    )
    assert isinstance(found, list)
    assert found[0].message == (
        "epcisHeader.epcisMasterData.vocabularyList: must be a list of vocabularies, got the text 'BusinessLocation'"
    )
