"""EPCIS master data over real HTTP: captured in a document's header, read back by REST and GraphQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.e2e.test_epcis_http import bearer, post_document
from tests.epcis_chain import sgln
from tests.epcis_schema import schema_errors
from tests.factories import register_firms
from tests.integration.test_epcis_master_data import observation, plant_description, sub_site, with_master_data

pytestmark = pytest.mark.neo4j

http = httpx.Client(timeout=60)


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


SITE_QUERY = """query($gln: String!) { site(gln: $gln) { name epcisLocations { id extension name described
  address { city postalCode countryCode } subSiteType subSiteDetail children parents } } }"""


async def test_master_data_captured_over_http_is_served_by_rest_and_graphql(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant, rival = sites["plant"], sites["rival"]
    job = post_document(
        base_url, bearer(settings, "plant"), with_master_data([observation(plant)], [plant_description(plant)])
    )
    assert (job["success"], job["capturedCount"], job["errors"]) == (True, 1, [])

    # the hub's query answer is an EPCISQueryDocument that GS1's JSON schema accepts
    query = http.get(f"{base_url}/epcis/events", headers=bearer(settings, "plant"))
    assert query.status_code == 200, query.text
    assert len(query.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 1
    assert schema_errors(query.json()) == []

    # another firm's document naming the plant's GLN: refused with the place and the reason, nothing renamed
    job = post_document(
        base_url,
        bearer(settings, "rival"),
        with_master_data([observation(rival)], [plant_description(plant, name="X")]),
    )
    assert (job["success"], job["capturedCount"]) == (False, 0)
    assert job["errors"][0]["code"] == "FORBIDDEN"
    assert job["errors"][0]["field"] == "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].id"

    # any member reads it (profile data), here the rival, by URN and by Digital Link
    rival_reader = bearer(settings, "rival", Role.VIEWER)
    cold_room = sub_site(plant, "201")
    for location in (cold_room, f"https://id.gs1.org/414/{plant}/254/201"):
        answer = http.get(f"{base_url}/epcis/readPoints/{quote(location, safe='')}/masterData", headers=rival_reader)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["id"], body["site"], body["parents"]) == (cold_room, plant, [sgln(plant)])
        assert body["cbvAttributes"] == {"site": plant, "sst": "202", "ssd": "Cold room 1"}
        assert body["attributes"][1] == {"id": "urn:epcglobal:cbv:mda:sst", "attribute": "202"}
    site = http.get(f"{base_url}/epcis/bizLocations/{quote(sgln(plant), safe='')}/masterData", headers=rival_reader)
    assert site.json()["children"] == [cold_room]
    assert site.json()["cbvAttributes"]["name"] == "Eumseong tofu plant"

    unknown = http.get(f"{base_url}/epcis/bizLocations/{quote(sgln(rival), safe='')}/masterData", headers=rival_reader)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    not_a_place = http.get(
        f"{base_url}/epcis/bizLocations/{quote('urn:epc:id:sscc:8801234.0000000001', safe='')}/masterData",
        headers=rival_reader,
    )
    assert (not_a_place.status_code, not_a_place.json()["field"]) == (400, "id")
    assert http.get(f"{base_url}/epcis/bizLocations/x/masterData").status_code == 401

    answer = http.post(
        f"{base_url}/graphql", json={"query": SITE_QUERY, "variables": {"gln": plant}}, headers=rival_reader
    ).json()
    assert answer["data"]["site"] == {
        "name": "Eumseong tofu plant",
        "epcisLocations": [
            {
                "id": sgln(plant),
                "extension": "0",
                "name": "Eumseong tofu plant",
                "described": True,
                "address": {"city": "Eumseong-gun", "postalCode": "27654", "countryCode": "KR"},
                "subSiteType": None,
                "subSiteDetail": None,
                "children": [cold_room],
                "parents": [],
            },
            {
                "id": cold_room,
                "extension": "201",
                "name": None,
                "described": True,
                "address": {"city": None, "postalCode": None, "countryCode": None},
                "subSiteType": "202",
                "subSiteDetail": "Cold room 1",
                "children": [],
                "parents": [sgln(plant)],
            },
        ],
    }


async def test_master_data_in_an_xml_header_is_served_like_json_lds(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    from tests.e2e.test_epcis_xml_http import captured
    from tests.integration.test_epcis_xml_master_data import HEADER_LIST, observation_xml, xml_with_master_data

    sites = await register_firms(graph, ["plant", "rival"])
    plant, rival = sites["plant"], sites["rival"]
    for version in ("1.2", "2.0"):
        job = captured(
            base_url,
            bearer(settings, "plant"),
            xml_with_master_data([observation_xml(plant)], [plant_description(plant)], version=version),
        )
        assert (job["success"], job["errors"]) == (True, []), job
    rival_reader = bearer(settings, "rival", Role.VIEWER)
    site = http.get(f"{base_url}/epcis/bizLocations/{quote(sgln(plant), safe='')}/masterData", headers=rival_reader)
    assert site.status_code == 200, site.text
    assert site.json()["cbvAttributes"] == {
        "name": "Eumseong tofu plant",
        "streetAddressOne": "12 Daeso-ro",
        "city": "Eumseong-gun",
        "postalCode": "27654",
        "countryCode": "KR",
    }
    assert site.json()["children"] == [sub_site(plant, "201")]

    # the rival's XML document naming the plant's site: refused at the element's path, nothing renamed
    job = captured(
        base_url,
        bearer(settings, "rival"),
        xml_with_master_data([observation_xml(rival)], [plant_description(plant, name='=HYPERLINK("x")')]),
    )
    assert (job["success"], job["capturedCount"]) == (False, 0)
    assert (job["errors"][0]["code"], job["errors"][0]["field"]) == (
        "FORBIDDEN",
        f"{HEADER_LIST}/Vocabulary[1]/VocabularyElementList/VocabularyElement[1]/@id",
    )
    again = http.get(f"{base_url}/epcis/bizLocations/{quote(sgln(plant), safe='')}/masterData", headers=rival_reader)
    assert again.json()["cbvAttributes"]["name"] == "Eumseong tofu plant"


async def test_master_data_documents_over_http_store_master_data_only(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    from tests.e2e.test_epcis_xml_http import captured, post
    from tests.integration.test_epcis_master_data import locations, stored
    from tests.integration.test_epcis_xml_master_data import (
        BODY_LIST,
        json_master_data_document,
        xml_master_data_document,
    )

    sites = await register_firms(graph, ["plant", "rival"])
    plant = sites["plant"]
    rival_reader = bearer(settings, "rival", Role.VIEWER)
    site_url = f"{base_url}/epcis/bizLocations/{quote(sgln(plant), safe='')}/masterData"

    # XML: valid, stored as master data only (no event)
    job = captured(base_url, bearer(settings, "plant"), xml_master_data_document([plant_description(plant)]))
    assert (job["success"], job["errors"], job["eventCount"], job["capturedCount"]) == (True, [], 0, 0)
    assert http.get(site_url, headers=rival_reader).json()["cbvAttributes"]["name"] == "Eumseong tofu plant"
    assert await stored(graph) == {"locations": 2, "parties": 0, "events": 0}

    # JSON-LD form: a later description replaces it
    renamed = locations({"id": sgln(plant), "attributes": [{"id": "cbvmda:name", "attribute": "Plant 2"}]})
    job = post_document(base_url, bearer(settings, "plant"), json_master_data_document([renamed]))
    assert (job["success"], job["errors"], job["eventCount"]) == (True, [], 0)
    assert http.get(site_url, headers=rival_reader).json()["cbvAttributes"] == {"name": "Plant 2"}

    # invalid: a specific error at its element, nothing written
    bad = plant_description(plant, name="Plant 3")
    bad["vocabularyElementList"][0]["attributes"][3] = {"id": "cbvmda:postalCode", "attribute": "=1+1; DROP"}
    job = captured(base_url, bearer(settings, "plant"), xml_master_data_document([bad]))
    where = f"{BODY_LIST}/Vocabulary[1]/VocabularyElementList/VocabularyElement[1]/attribute[4]"
    assert [(error["code"], error["field"]) for error in job["errors"]] == [("BAD_USER_INPUT", where)]
    assert http.get(site_url, headers=rival_reader).json()["cbvAttributes"] == {"name": "Plant 2"}

    # another firm's GLN, in either binding: FORBIDDEN, nothing renamed
    job = captured(base_url, bearer(settings, "rival"), xml_master_data_document([plant_description(plant, name="X")]))
    assert {error["code"] for error in job["errors"]} == {"FORBIDDEN"}
    job = post_document(base_url, bearer(settings, "rival"), json_master_data_document([renamed]))
    assert [(error["code"], error["field"]) for error in job["errors"]] == [
        ("FORBIDDEN", "epcisBody.vocabularyList[0].vocabularyElementList[0].id")
    ]
    assert http.get(site_url, headers=rival_reader).json()["cbvAttributes"] == {"name": "Plant 2"}

    # XXE in a master-data document: refused before any job, nothing read
    evil = xml_master_data_document([plant_description(plant, name="&xxe;")]).replace(b"&amp;xxe;", b"&xxe;")
    evil = b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + evil
    response = post(base_url, bearer(settings, "plant"), evil, "application/xml")
    assert (response.status_code, response.json()["code"]) == (400, "XML_DTD_FORBIDDEN")
    assert "root:" not in response.text
    assert await stored(graph) == {"locations": 2, "parties": 0, "events": 0}
