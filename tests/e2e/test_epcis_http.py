"""The EPCIS REST binding over real HTTP: capture jobs, single events, the query, and the openepcis documents."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import EpcisChain, document, register_chain
from tests.epcis_data import OPENEPCIS
from tests.epcis_schema import cross_check

pytestmark = pytest.mark.neo4j

# a shared client with a patient timeout: capture jobs and exports run while the machine's cores are busy
http = httpx.Client(timeout=60)

DATA = OPENEPCIS


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


def post_document(base_url: str, headers: dict[str, str], doc: Any, **extra: str) -> dict[str, Any]:
    """POST /epcis/capture and wait for the job to finish; returns the finished job."""
    body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    response = http.post(
        f"{base_url}/epcis/capture",
        content=body,
        headers={**headers, "Content-Type": "application/ld+json", **extra},
    )
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    for _ in range(600):
        job = http.get(f"{base_url}{location}", headers=headers).json()
        if not job["running"]:
            cross_check(doc, accepted_whole=job["success"] is True and job["errorCount"] == 0)
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("the capture job did not finish")


def test_every_epcis_endpoint_needs_a_token(base_url: str) -> None:
    for method, path in [
        ("POST", "/epcis/capture"),
        ("GET", "/epcis/capture/x"),
        ("POST", "/epcis/events"),
        ("GET", "/epcis/events"),
    ]:
        response = http.request(method, f"{base_url}{path}")
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED"), path


async def captured_chain(graph: Graph, settings: Settings, base_url: str) -> EpcisChain:
    chain = await register_chain(graph)
    for firm, events in (
        ("farm", chain.farm_events()),
        ("plant", chain.plant_events()),
        ("dc", chain.dc_events()),
        ("store", chain.store_events()),
    ):
        job = post_document(base_url, bearer(settings, firm), document(events))
        assert (job["success"], job["capturedCount"], job["errors"]) == (True, len(events), []), firm
    return chain


async def test_the_chain_captured_over_http_traces_through_graphql_and_the_event_query(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await captured_chain(graph, settings, base_url)
    plant = bearer(settings, "plant")
    query = """query($lot: ID!) { trace(lotId: $lot, direction: DOWNSTREAM) {
        lots { id depth redacted } shipments { lotId redacted quantity fromSite { gln } toSite { gln } } } }"""
    trace = http.post(f"{base_url}/graphql", json={"query": query, "variables": {"lot": chain.soy}}, headers=plant)
    data = trace.json()["data"]["trace"]
    assert data["lots"] == [
        {"id": chain.soy, "depth": 0, "redacted": False},
        {"id": chain.tofu, "depth": 1, "redacted": False},
    ]
    visible = [s for s in data["shipments"] if not s["redacted"]]
    assert sorted((s["lotId"], s["quantity"], s["fromSite"]["gln"], s["toSite"]["gln"]) for s in visible) == sorted(
        [
            (chain.soy, 500.0, chain.sites["farm"], chain.sites["plant"]),
            (chain.tofu, 300.0, chain.sites["plant"], chain.sites["dc"]),
        ]
    )
    assert len(data["shipments"]) == 3  # the DC's shipment to the store is there, redacted for the plant

    # the FSMA 204 export of the same downstream trace, row by row, as the plant sees it
    export = http.get(
        f"{base_url}/exports/fsma204", params={"lot": chain.soy, "direction": "downstream"}, headers=plant
    )
    assert export.status_code == 200, export.text
    header, *lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"), newline="")))
    rows = [dict(zip(header, line, strict=True)) for line in lines]
    soy_tlc, tofu_tlc = f"(01){chain.soy_gtin}(10)SOY-0905", f"(01){chain.tofu_gtin}(10)TOFU-0906"
    farm_gln, plant_gln, dc_gln = chain.sites["farm"], chain.sites["plant"], chain.sites["dc"]
    desadv = "urn:epcglobal:cbv:bt:"
    # the transformation is referenced by the graph id derived from its EPCIS event (stable across retries)
    transformation_reference = next(
        r["Reference document number"] for r in rows if r["Critical tracking event"] == "Transformation"
    )
    assert transformation_reference.startswith("epcis-")
    assert [
        (
            r["Critical tracking event"],
            r["Traceability lot code"],
            r["Quantity"],
            r["Location GLN"],
            r["Reference document number"],
            r["Trace depth"],
        )
        for r in rows
    ] == [
        ("Initial packing", soy_tlc, "500", farm_gln, "", "0"),
        ("Shipping", soy_tlc, "500", farm_gln, f"{desadv}{farm_gln}:D-1", "0"),
        ("Receiving", soy_tlc, "500", plant_gln, f"{desadv}{farm_gln}:D-1", "0"),
        ("Transformation", tofu_tlc, "300", plant_gln, transformation_reference, "1"),
        ("Shipping", tofu_tlc, "300", plant_gln, f"{desadv}{plant_gln}:D-2", "1"),
        ("Receiving", tofu_tlc, "300", dc_gln, f"{desadv}{plant_gln}:D-2", "1"),
        ("Shipping", tofu_tlc, "", "", "", "1"),  # the DC's shipment to the store of the plant's lot: details hidden
    ]

    # the event query: the distributor sees the events about the tofu it received, in time order
    dc = bearer(settings, "dc")
    answer = http.get(f"{base_url}/epcis/events", params={"MATCH_anyEPCClass": chain.tofu}, headers=dc)
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "EPCISQueryDocument"
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [(e["type"], e.get("bizStep")) for e in events] == [
        ("TransformationEvent", "commissioning"),
        ("ObjectEvent", "inspecting"),
        ("ObjectEvent", "shipping"),
        ("ObjectEvent", "receiving"),
        ("ObjectEvent", "shipping"),
        ("ObjectEvent", "receiving"),
    ]
    # paging: two at a time, following the Link header
    seen: list[str] = []
    url: str | None = f"{base_url}/epcis/events?MATCH_anyEPCClass={chain.tofu}&perPage=2"
    while url:
        page = http.get(url, headers=dc)
        seen += [e["eventTime"] for e in page.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
        link = page.headers.get("Link")
        url = f"{base_url}{link.split(';')[0].strip('<>')}" if link else None
    assert seen == [e["eventTime"] for e in events]

    # filters: bizStep and location, the farm's own events
    farm = bearer(settings, "farm")
    shipping = http.get(
        f"{base_url}/epcis/events",
        params={"EQ_bizStep": "urn:epcglobal:cbv:bizstep:shipping", "eventType": "ObjectEvent"},
        headers=farm,
    ).json()
    assert [e["bizStep"] for e in shipping["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == ["shipping"]

    # another firm sees none of it
    rival = http.get(f"{base_url}/epcis/events", headers=bearer(settings, "rival")).json()
    assert rival["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []

    # the query document round-trips: its events, captured again by the distributor, are the same events
    mine = http.get(
        f"{base_url}/epcis/events",
        params={"EQ_bizLocation": f"urn:epc:id:sgln:{chain.sites['dc'][:7]}.{chain.sites['dc'][7:12]}.0"},
        headers=dc,
    ).json()
    again = mine["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(again) == 2
    job = post_document(base_url, dc, {**document(again), "@context": mine["@context"]})
    assert (job["success"], job["capturedCount"], job["duplicateCount"]) == (True, 0, 2)

    unsupported = http.get(f"{base_url}/epcis/events", params={"HASATTR_ex:grade": "x"}, headers=dc)
    assert (unsupported.status_code, unsupported.json()["field"]) == (400, "HASATTR_ex:grade")
    assert unsupported.json()["type"] == "epcisException:QueryParameterException"


async def test_single_events_201_then_409_for_other_content_under_the_same_id(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await register_chain(graph)
    farm = bearer(settings, "farm")
    event = {
        "@context": document([])["@context"],
        **chain.farm_events()[0],
        "eventID": "urn:uuid:3c1e5b8a-1d2f-4e0b-8f1a-0b7c9d2e4f60",
    }
    first = http.post(f"{base_url}/epcis/events", content=orjson.dumps(event), headers=farm)
    assert first.status_code == 201, first.text
    assert first.headers["Location"].startswith("/epcis/events/")
    again = http.post(f"{base_url}/epcis/events", content=orjson.dumps(event), headers=farm)
    assert (again.status_code, again.json()["duplicate"]) == (201, True)
    changed = http.post(
        f"{base_url}/epcis/events", content=orjson.dumps({**event, "disposition": "in_progress"}), headers=farm
    )
    assert (changed.status_code, changed.json()["code"]) == (409, "CONFLICT")
    viewer = http.post(
        f"{base_url}/epcis/events", content=orjson.dumps(event), headers=bearer(settings, "farm", Role.VIEWER)
    )
    assert viewer.status_code == 403


async def test_a_rejected_document_reports_every_error_by_event_and_field(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await register_chain(graph)
    events = chain.farm_events()
    events[0]["quantityList"][0]["quantity"] = "500"
    job = post_document(base_url, bearer(settings, "farm"), document(events))
    assert job["success"] is False
    # the document is validated before anything is written: the wrong quantity is the one error
    assert [(e["index"], e["field"], e["code"]) for e in job["errors"]] == [
        (0, "quantityList[0].quantity", "BAD_USER_INPUT"),
    ]
    proceed = post_document(
        base_url, bearer(settings, "farm"), document(events), **{"GS1-Capture-Error-Behaviour": "proceed"}
    )
    assert (proceed["success"], proceed["capturedCount"], proceed["errorCount"]) == (
        True,
        0,
        2,
    )  # the shipment needed the lot


async def agency(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id="agency", name="HACCP agency", roles=["AGENCY"])])


def files(folder: str) -> list[Path]:
    return sorted((DATA / "Capture" / folder).glob("*.json"))


@pytest.mark.parametrize("path", files("Documents"), ids=lambda p: p.stem)
async def test_every_valid_openepcis_document_is_captured_by_the_operator(
    graph: Graph, settings: Settings, base_url: str, path: Path
) -> None:
    await agency(graph)
    job = post_document(base_url, bearer(settings, "agency", Role.ADMIN), path.read_bytes())
    events = orjson.loads(path.read_bytes())["epcisBody"]["eventList"]
    assert (job["success"], job["errors"]) == (True, [])
    assert job["capturedCount"] + job["duplicateCount"] == len(events)
    stored = await graph.read("MATCH (e:EpcisEvent) RETURN count(e) AS n")
    assert stored[0]["n"] == job["capturedCount"]


@pytest.mark.parametrize("path", files("Events"), ids=lambda p: p.stem)
async def test_every_openepcis_single_event_is_captured(
    graph: Graph, settings: Settings, base_url: str, path: Path
) -> None:
    await agency(graph)
    response = http.post(
        f"{base_url}/epcis/events", content=path.read_bytes(), headers=bearer(settings, "agency", Role.ADMIN)
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("path", files("Invalid"), ids=lambda p: p.stem)
async def test_every_invalid_openepcis_document_is_rejected_and_writes_nothing(
    graph: Graph, settings: Settings, base_url: str, path: Path
) -> None:
    await agency(graph)
    job = post_document(base_url, bearer(settings, "agency", Role.ADMIN), path.read_bytes())
    assert job["success"] is False
    assert job["errors"]
    assert all(e["message"] for e in job["errors"])
    stored = await graph.read("MATCH (n) WHERE NOT n:Firm RETURN count(n) AS n")
    assert stored[0]["n"] == 0


async def test_without_the_setting_unknown_sites_are_errors_even_for_the_operator(
    neo4j_server: tuple[str, str, str], tmp_path: Path, graph: Graph
) -> None:
    strict = hub_settings(neo4j_server, tmp_path)
    await agency(graph)
    with serve_in_thread(create_app(strict), port=strict.port) as url:
        doc = (DATA / "Capture" / "Documents" / "ObjectEvent.json").read_bytes()
        job = post_document(url, bearer(strict, "agency", Role.ADMIN), doc)
    assert job["success"] is False
    assert {e["code"] for e in job["errors"]} == {"NOT_FOUND"}
    assert "is not a registered site" in job["errors"][0]["message"]
