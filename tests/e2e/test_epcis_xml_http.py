"""EPCIS XML capture over real HTTP: the openepcis XML documents captured, their JSON twins duplicates of them,
invalid and hostile documents refused with their reasons, nothing written for another firm's site."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import register_chain
from tests.epcis_data import OPENEPCIS
from tests.unit.test_epcis_xml import HOSTILE, INVALID, NOT_SCHEMA_VALID

pytestmark = pytest.mark.neo4j

http = httpx.Client(timeout=60)
XML = OPENEPCIS / "XML" / "Capture"


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"), epcis_register_unknown=True)


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def bearer(settings: Settings, firm: str, *roles: Role) -> dict[str, str]:
    token = open_issuer(settings).mint(subject=f"app@{firm}", firm_id=firm, roles=roles or (Role.EDITOR,))
    return {"Authorization": f"Bearer {token}"}


def post(base_url: str, headers: dict[str, str], body: bytes, content_type: str) -> httpx.Response:
    return http.post(f"{base_url}/epcis/capture", content=body, headers={**headers, "Content-Type": content_type})


def captured(base_url: str, headers: dict[str, str], body: bytes, content_type: str = "application/xml") -> Any:
    """POST /epcis/capture and wait for the job to finish; returns the finished job."""
    response = post(base_url, headers, body, content_type)
    assert response.status_code == 202, response.text
    for _ in range(600):
        job = http.get(f"{base_url}{response.headers['Location']}", headers=headers).json()
        if not job["running"]:
            return job
        time.sleep(0.05)
    raise AssertionError("the capture job did not finish")


async def agency(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id="agency", name="HACCP agency", roles=["AGENCY"])])


def valid_documents() -> list[Path]:
    return [path for path in sorted((XML / "Documents").glob("*.xml")) if path.stem not in NOT_SCHEMA_VALID]


async def stored_events(graph: Graph) -> int:
    return int((await graph.read("MATCH (e:EpcisEvent) RETURN count(e) AS n"))[0]["n"])


@pytest.mark.parametrize("path", valid_documents(), ids=lambda p: p.stem)
async def test_every_valid_xml_document_is_captured_and_its_json_twin_is_a_duplicate(
    graph: Graph, settings: Settings, base_url: str, path: Path
) -> None:
    await agency(graph)
    headers = bearer(settings, "agency", Role.ADMIN)
    job = captured(base_url, headers, path.read_bytes(), "application/xml" if len(path.stem) % 2 else "text/xml")
    assert (job["success"], job["errors"]) == (True, []), job
    assert job["capturedCount"] + job["duplicateCount"] == job["eventCount"] > 0
    assert await stored_events(graph) == job["capturedCount"]
    twin = OPENEPCIS / "Capture" / "Documents" / f"{path.stem}.json"
    if twin.exists():  # the same events in JSON-LD: nothing new
        again = captured(base_url, headers, twin.read_bytes(), "application/ld+json")
        assert (again["success"], again["capturedCount"]) == (True, 0), again
        assert again["duplicateCount"] == job["eventCount"]
        assert await stored_events(graph) == job["capturedCount"]


def invalid_documents() -> list[Path]:
    """The invalid folder, and the two documents of the valid folder that the GS1 XSD refuses."""
    return sorted((XML / "Invalid").glob("*.xml")) + [XML / "Documents" / f"{name}.xml" for name in NOT_SCHEMA_VALID]


@pytest.mark.parametrize("path", invalid_documents(), ids=lambda p: p.stem)
async def test_every_invalid_xml_document_is_rejected_naming_the_element_and_writes_nothing(
    graph: Graph, settings: Settings, base_url: str, path: Path
) -> None:
    await agency(graph)
    headers = bearer(settings, "agency", Role.ADMIN)
    if path.stem.startswith("ObjectEvent_bare_event"):  # not an EPCISDocument at all: refused before any job
        response = post(base_url, headers, path.read_bytes(), "application/xml")
        assert (response.status_code, response.json()["code"]) == (400, "BAD_USER_INPUT")
        assert "root element is ObjectEvent" in response.json()["detail"]
    else:
        job = captured(base_url, headers, path.read_bytes())
        where, line, says = {**INVALID, **NOT_SCHEMA_VALID}[path.stem]
        assert job["success"] is False
        assert [(error["code"], error["field"]) for error in job["errors"]] == [("XML_SCHEMA_INVALID", where)]
        assert job["errors"][0]["message"].startswith(f"line {line}, {where}: ")
        assert says in job["errors"][0]["message"]
    assert (await graph.read("MATCH (n) WHERE NOT n:Firm RETURN count(n) AS n"))[0]["n"] == 0


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_documents_are_refused_at_once_with_their_code(
    graph: Graph, settings: Settings, base_url: str, name: str
) -> None:
    await agency(graph)
    started = time.perf_counter()
    response = post(base_url, bearer(settings, "agency", Role.ADMIN), HOSTILE[name], "application/xml")
    assert (response.status_code, response.json()["code"]) == (400, "XML_DTD_FORBIDDEN"), response.text
    assert "DOCTYPE" in response.json()["detail"]
    assert time.perf_counter() - started < 10  # no entity expanded, no network waited for
    assert (await graph.read("MATCH (n) WHERE NOT n:Firm RETURN count(n) AS n"))[0]["n"] == 0


async def test_an_event_at_another_firms_site_is_refused(graph: Graph, settings: Settings, base_url: str) -> None:
    chain = await register_chain(graph)
    plant = chain.sites["plant"]
    body = f"""<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0"
        creationDate="2026-09-05T10:00:00Z"><EPCISBody><EventList><ObjectEvent>
        <eventTime>2026-09-05T06:00:00+09:00</eventTime><eventTimeZoneOffset>+09:00</eventTimeZoneOffset>
        <epcList/><action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:inspecting</bizStep>
        <readPoint><id>urn:epc:id:sgln:{plant[:7]}.{plant[7:12]}.0</id></readPoint>
        <bizLocation><id>urn:epc:id:sgln:{plant[:7]}.{plant[7:12]}.0</id></bizLocation>
        <quantityList><quantityElement><epcClass>{chain.soy}</epcClass><quantity>1</quantity><uom>KGM</uom>
        </quantityElement></quantityList></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>"""
    job = captured(base_url, bearer(settings, "farm"), body.encode())
    assert job["success"] is False
    assert {error["code"] for error in job["errors"]} == {"FORBIDDEN"}
    assert await stored_events(graph) == 0


async def test_other_media_types_are_still_refused(graph: Graph, settings: Settings, base_url: str) -> None:
    await agency(graph)
    response = post(base_url, bearer(settings, "agency", Role.ADMIN), b"a,b\n", "text/csv")
    assert (response.status_code, response.json()["code"]) == (415, "BAD_USER_INPUT")
    assert "application/xml" in response.json()["detail"]


async def test_with_proceed_a_document_the_xsd_refuses_writes_nothing(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    await agency(graph)
    headers = {**bearer(settings, "agency", Role.ADMIN), "GS1-Capture-Error-Behaviour": "proceed"}
    valid = (XML / "Documents" / "ObjectEvent.xml").read_text()
    # the first events are fine; the last breaks the XSD: proceed sets aside events, but a document is one XSD
    # verdict, given before anything is written
    broken = valid.replace("</EventList>", "<ObjectEvent><action>ADD</action></ObjectEvent></EventList>", 1)
    job = captured(base_url, headers, broken.encode())
    assert job["success"] is False
    assert [error["code"] for error in job["errors"]] == ["XML_SCHEMA_INVALID"]
    assert "Expected is ( eventTime )" in job["errors"][0]["message"]
    assert await stored_events(graph) == 0
    assert captured(base_url, headers, valid.encode())["success"] is True
    assert await stored_events(graph) > 0


def post_event(base_url: str, headers: dict[str, str], body: bytes, content_type: str) -> httpx.Response:
    return http.post(f"{base_url}/epcis/events", content=body, headers={**headers, "Content-Type": content_type})


async def test_one_xml_event_is_captured_like_its_json_twin(graph: Graph, settings: Settings, base_url: str) -> None:
    await agency(graph)
    headers = bearer(settings, "agency", Role.ADMIN)
    for path in sorted((XML / "Events").glob("*.xml")):
        if path.stem == "Namespace_event":  # qualified event elements: refused below
            continue
        body = path.read_bytes().replace(b"<rail:vehicleMasterGIAI/>", b"")  # what its JSON twin leaves out
        first = post_event(base_url, headers, body, "application/xml")
        assert first.status_code == 201, first.text
        assert first.json()["duplicate"] is False
        assert http.get(f"{base_url}{first.headers['Location']}", headers=headers).status_code == 200
        again = post_event(base_url, headers, body, "text/xml")
        assert (again.status_code, again.json()["duplicate"]) == (201, True)
        twin = (OPENEPCIS / "Capture" / "Events" / f"{path.stem}.json").read_bytes()
        json_twin = post_event(base_url, headers, twin, "application/ld+json")
        assert (json_twin.status_code, json_twin.json()["duplicate"]) == (201, True), path.stem
    assert await stored_events(graph) == 5


async def test_one_xml_event_with_its_id_taken_by_other_content_is_a_conflict(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    await agency(graph)
    headers = bearer(settings, "agency", Role.ADMIN)
    body = (XML / "Events" / "TransformationEvent.xml").read_bytes()
    assert b"<eventID>" in body
    assert post_event(base_url, headers, body, "application/xml").status_code == 201
    other = body.replace(b"<bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>", b"")
    assert other != body
    conflict = post_event(base_url, headers, other, "application/xml")
    assert (conflict.status_code, conflict.json()["code"]) == (409, "CONFLICT"), conflict.text
    assert await stored_events(graph) == 1


async def test_what_one_xml_event_must_not_be_is_refused_and_writes_nothing(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    await agency(graph)
    headers = bearer(settings, "agency", Role.ADMIN)
    invalid = (XML / "Events" / "ObjectEvent.xml").read_bytes().replace(b">OBSERVE<", b">=1+1<")
    answer = post_event(base_url, headers, invalid, "application/xml")
    assert (answer.status_code, answer.json()["code"]) == (400, "XML_SCHEMA_INVALID")
    assert answer.json()["errors"][0]["field"] == "/ObjectEvent/action"
    two = post_event(base_url, headers, (XML / "Documents" / "ObjectEvent.xml").read_bytes(), "application/xml")
    assert (two.status_code, two.json()["code"]) == (400, "BAD_USER_INPUT")
    assert "more than one event" in two.json()["detail"]
    started = time.perf_counter()
    for name in sorted(HOSTILE):
        hostile = post_event(base_url, headers, HOSTILE[name], "application/xml")
        assert (hostile.status_code, hostile.json()["code"]) == (400, "XML_DTD_FORBIDDEN"), name
        assert "root:" not in hostile.text
    assert time.perf_counter() - started < 10 * len(HOSTILE)  # no entity expanded, no network waited for
    viewer = post_event(base_url, bearer(settings, "agency", Role.VIEWER), invalid, "application/xml")
    assert viewer.status_code == 403
    assert await stored_events(graph) == 0


async def test_one_xml_event_at_another_firms_site_is_forbidden(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await register_chain(graph)
    plant = chain.sites["plant"]
    body = f"""<ObjectEvent><eventTime>2026-09-05T06:00:00+09:00</eventTime>
        <eventTimeZoneOffset>+09:00</eventTimeZoneOffset><epcList/><action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:inspecting</bizStep>
        <readPoint><id>urn:epc:id:sgln:{plant[:7]}.{plant[7:12]}.0</id></readPoint>
        <bizLocation><id>urn:epc:id:sgln:{plant[:7]}.{plant[7:12]}.0</id></bizLocation>
        <quantityList><quantityElement><epcClass>{chain.soy}</epcClass><quantity>1</quantity><uom>KGM</uom>
        </quantityElement></quantityList></ObjectEvent>""".encode()
    answer = post_event(base_url, bearer(settings, "farm"), body, "application/xml")
    assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN"), answer.text
    assert await stored_events(graph) == 0
    assert post_event(base_url, bearer(settings, "plant"), body, "application/xml").status_code == 201
    assert await stored_events(graph) == 1
