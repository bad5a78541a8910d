"""Content negotiation of GET /epcis/events over real HTTP: JSON-LD by default, EPCIS 2.0 XML on request, 406 for
what the hub cannot give, the GS1-* headers honoured and answered; the XML answer reads back as the same events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from lxml import etree

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.epcis.reading import document_source
from graph_schema.epcis.rendering import EPCIS_QUERY_NS
from graph_schema.epcis.xml_reading import EPCIS_2_NS, xml_document_source
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import EpcisChain, document, register_chain
from tests.epcis_data import xml_schemas

pytestmark = pytest.mark.neo4j

http = httpx.Client(timeout=60)


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def bearer(settings: Settings, firm: str) -> dict[str, str]:
    token = open_issuer(settings).mint(subject=f"app@{firm}", firm_id=firm, roles=[Role.EDITOR])
    return {"Authorization": f"Bearer {token}"}


def capture(base_url: str, headers: dict[str, str], body: Any) -> None:
    response = http.post(
        f"{base_url}/epcis/capture", json=body, headers={**headers, "Content-Type": "application/ld+json"}
    )
    assert response.status_code == 202, response.text
    for _ in range(600):
        job = http.get(f"{base_url}{response.headers['Location']}", headers=headers).json()
        if not job["running"]:
            assert job["success"], job
            return
        time.sleep(0.05)
    raise AssertionError("the capture job did not finish")


async def farm_chain(graph: Graph, settings: Settings, base_url: str) -> EpcisChain:
    chain = await register_chain(graph)
    capture(base_url, bearer(settings, "farm"), document(chain.farm_events()))
    return chain


def query(base_url: str, headers: dict[str, str], **extra: str) -> httpx.Response:
    return http.get(f"{base_url}/epcis/events", params={"perPage": "50"}, headers={**headers, **extra})


async def test_json_ld_by_default_and_xml_on_request_with_the_same_events(
    graph: Graph, settings: Settings, base_url: str, tmp_path: Path
) -> None:
    await farm_chain(graph, settings, base_url)
    farm = bearer(settings, "farm")
    as_json = query(base_url, farm)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/ld+json")
    assert (as_json.headers["GS1-EPCIS-Version"], as_json.headers["GS1-CBV-Version"]) == ("2.0.0", "2.0.0")
    json_events = as_json.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(json_events) == 2

    as_xml = query(base_url, farm, Accept="application/xml")
    assert as_xml.status_code == 200, as_xml.text
    assert as_xml.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(as_xml.content)
    assert root.tag == f"{{{EPCIS_QUERY_NS}}}EPCISQueryDocument"
    event_list = root.find(f"EPCISBody/{{{EPCIS_QUERY_NS}}}QueryResults/resultsBody/EventList")
    assert event_list is not None
    assert [element.tag for element in event_list] == ["ObjectEvent", "ObjectEvent"]
    assert event_list[0].findtext("bizStep") == "urn:epcglobal:cbv:bizstep:commissioning"

    # the XML answer, put in a capture document, reads back as the very events the JSON answer has
    capture_doc = etree.Element(
        f"{{{EPCIS_2_NS}}}EPCISDocument", attrib={"schemaVersion": "2.0", "creationDate": "2026-09-05T10:00:00Z"}
    )
    etree.SubElement(etree.SubElement(capture_doc, "EPCISBody"), "EventList").extend(list(event_list))
    (tmp_path / "back.xml").write_bytes(etree.tostring(capture_doc))
    (tmp_path / "back.json").write_bytes(orjson.dumps(document(json_events)))
    from_xml = [event for _, event in xml_document_source(tmp_path / "back.xml", schemas=xml_schemas())()]
    from_json = [event for _, event in document_source(tmp_path / "back.json")()]
    hashes = [getattr(event, "event_hash", event) for event in from_xml]
    assert hashes == [getattr(event, "event_hash", event) for event in from_json]
    assert all(isinstance(each, str) and each.startswith("ni:///sha-256;") for each in hashes)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/xml", "application/xml"),
        ("application/json;q=0.5, application/xml", "application/xml"),
        ("application/xml;q=0.2, application/ld+json;q=0.9", "application/ld+json"),
        ("*/*", "application/ld+json"),
        ("text/html, */*;q=0.1", "application/ld+json"),
    ],
)
async def test_accept_ranks_are_honoured(
    graph: Graph, settings: Settings, base_url: str, accept: str, media_type: str
) -> None:
    response = query(base_url, bearer(settings, "farm"), Accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "text/html"},
        {"Accept": "application/xml;q=0, application/json;q=0"},
        {"GS1-EPCIS-Version": "1.2.0"},
        {"GS1-EPCIS-Max": "1.2"},
        {"GS1-EPCIS-Min": "2.1.0"},
        {"GS1-CBV-Version": "1.2.2"},
    ],
)
async def test_what_the_hub_cannot_give_is_406(
    graph: Graph, settings: Settings, base_url: str, headers: dict[str, str]
) -> None:
    response = query(base_url, bearer(settings, "farm"), **headers)
    assert (response.status_code, response.json()["code"]) == (406, "NOT_ACCEPTABLE"), response.text
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"


async def test_versions_in_range_are_answered(graph: Graph, settings: Settings, base_url: str) -> None:
    extra = {"GS1-EPCIS-Version": "2.0.0", "GS1-EPCIS-Min": "1.2.0", "GS1-EPCIS-Max": "2.0", "GS1-CBV-Version": "2.0"}
    response = query(base_url, bearer(settings, "farm"), **extra)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("headers", "field"),
    [({"GS1-EPC-Format": "Always_QR_Codes"}, "GS1-EPC-Format"), ({"GS1-EPCIS-Version": "two"}, "GS1-EPCIS-Version")],
)
async def test_unreadable_headers_are_400_naming_them(
    graph: Graph, settings: Settings, base_url: str, headers: dict[str, str], field: str
) -> None:
    response = query(base_url, bearer(settings, "farm"), **headers)
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "BAD_USER_INPUT", field)


async def test_epc_format_gives_digital_links_or_urns(graph: Graph, settings: Settings, base_url: str) -> None:
    chain = await farm_chain(graph, settings, base_url)
    farm = bearer(settings, "farm")

    def first_event(fmt: str, accept: str = "application/ld+json") -> Any:
        response = query(base_url, farm, **{"GS1-EPC-Format": fmt, "Accept": accept})
        assert response.status_code == 200, response.text
        assert response.headers["GS1-EPC-Format"] == fmt
        return response

    links = first_event("Always_GS1_Digital_Link").json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    soy = links[0]["quantityList"][0]["epcClass"]
    assert soy == f"https://id.gs1.org/01/{chain.soy_gtin}/10/SOY-0905"
    assert links[0]["bizLocation"]["id"] == f"https://id.gs1.org/414/{chain.sites['farm']}"
    urns = first_event("Always_EPC_URN").json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert urns[0]["quantityList"][0]["epcClass"] == chain.soy
    assert urns[0]["bizLocation"]["id"].startswith("urn:epc:id:sgln:")
    xml = etree.fromstring(first_event("Always_GS1_Digital_Link", "application/xml").content)
    assert xml.findtext(".//ObjectEvent/quantityList/quantityElement/epcClass") == soy


async def test_another_firm_sees_no_events_in_either_binding(graph: Graph, settings: Settings, base_url: str) -> None:
    await farm_chain(graph, settings, base_url)
    rival = bearer(settings, "rival")
    as_json = query(base_url, rival)
    assert as_json.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    as_xml = etree.fromstring(query(base_url, rival, Accept="application/xml").content)
    event_list = as_xml.find(f"EPCISBody/{{{EPCIS_QUERY_NS}}}QueryResults/resultsBody/EventList")
    assert event_list is not None
    assert len(event_list) == 0
