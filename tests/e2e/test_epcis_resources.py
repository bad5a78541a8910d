"""The EPCIS 2.0 REST resources over real HTTP: one event by its id (where POST /events points), the event types,
EPCs, business steps, locations, read points and dispositions with their events, the capture interface's
discovery, named queries, and the query's order and limits; every answer as the caller may see it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import httpx
import orjson
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import EpcisChain, document, register_chain, sgln

pytestmark = pytest.mark.neo4j

http = httpx.Client(timeout=60)


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"), epcis_max_document_events=50)


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def bearer(settings: Settings, firm: str, *roles: Role) -> dict[str, str]:
    token = open_issuer(settings).mint(subject=f"app@{firm}", firm_id=firm, roles=roles or (Role.EDITOR,))
    return {"Authorization": f"Bearer {token}"}


def post_document(base_url: str, headers: dict[str, str], doc: Any) -> dict[str, Any]:
    response = http.post(
        f"{base_url}/epcis/capture",
        content=orjson.dumps(doc),
        headers={**headers, "Content-Type": "application/ld+json"},
    )
    assert response.status_code == 202, response.text
    for _ in range(600):
        job = http.get(f"{base_url}{response.headers['Location']}", headers=headers).json()
        if not job["running"]:
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("the capture job did not finish")


async def captured_chain(graph: Graph, settings: Settings, base_url: str) -> EpcisChain:
    chain = await register_chain(graph)
    for firm, events in (
        ("farm", chain.farm_events()),
        ("plant", chain.plant_events()),
        ("dc", chain.dc_events()),
        ("store", chain.store_events()),
    ):
        job = post_document(base_url, bearer(settings, firm), document(events))
        assert (job["success"], job["capturedCount"]) == (True, len(events)), job
    return chain


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])


def steps(response: httpx.Response) -> list[tuple[str, str | None]]:
    return [(e["type"], e.get("bizStep")) for e in events_of(response)]


def test_every_new_resource_needs_a_token(base_url: str) -> None:
    for method, path in [
        ("GET", "/epcis/events/urn:uuid:1"),
        ("GET", "/epcis/eventTypes"),
        ("GET", "/epcis/eventTypes/ObjectEvent/events"),
        ("GET", "/epcis/epcs/urn:epc:id:sgtin:8800000.012345.1/events"),
        ("GET", "/epcis/bizSteps"),
        ("GET", "/epcis/bizLocations"),
        ("GET", "/epcis/readPoints"),
        ("GET", "/epcis/dispositions"),
        ("OPTIONS", "/epcis/capture"),
        ("GET", "/epcis/capture"),
        ("GET", "/epcis/queries"),
        ("POST", "/epcis/queries"),
        ("GET", "/epcis/queries/x"),
        ("DELETE", "/epcis/queries/x"),
        ("GET", "/epcis/queries/x/events"),
    ]:
        response = http.request(method, f"{base_url}{path}")
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED"), path


async def test_the_location_of_a_captured_event_resolves_for_its_firm_only(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await register_chain(graph)
    farm = bearer(settings, "farm")
    context = document([])["@context"]
    named = {"@context": context, **chain.farm_events()[0], "eventID": "urn:uuid:3c1e5b8a-1d2f-4e0b-8f1a-0b7c9d2e4f61"}
    hashed = {"@context": context, **chain.farm_events()[0], "eventTime": "2026-09-05T07:00:00+09:00"}
    for event in (named, hashed):  # the second has no eventID: its id is its event hash, ni:///sha-256;...
        created = http.post(f"{base_url}/epcis/events", content=orjson.dumps(event), headers=farm)
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        [found] = events_of(http.get(f"{base_url}{location}", headers=farm))
        assert found["eventTime"] == event["eventTime"]
        assert unquote(location.removeprefix("/epcis/events/")) == created.json()["eventID"]
        hidden = http.get(f"{base_url}{location}", headers=bearer(settings, "rival"))
        assert (hidden.status_code, hidden.json()["code"]) == (404, "NOT_FOUND")
    unknown = http.get(
        f"{base_url}/epcis/events/{quote('urn:uuid:00000000-0000-4000-8000-000000000000', safe='')}", headers=farm
    )
    assert unknown.status_code == 404
    # the rival's answer for the farm's event is the same as for an event that does not exist
    assert hidden.json()["detail"].startswith("no event")
    assert unknown.json()["detail"].startswith("no event")


async def test_the_top_level_resources_answer_what_the_caller_may_see(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await captured_chain(graph, settings, base_url)
    dc, farm, rival = bearer(settings, "dc"), bearer(settings, "farm"), bearer(settings, "rival")

    types = http.get(f"{base_url}/epcis/eventTypes", headers=rival).json()
    assert types["member"] == [
        "AggregationEvent",
        "AssociationEvent",
        "ObjectEvent",
        "TransactionEvent",
        "TransformationEvent",
    ]
    assert http.get(f"{base_url}/epcis/eventTypes/ObjectEvent", headers=dc).json()["member"] == ["events"]
    assert http.get(f"{base_url}/epcis/eventTypes/Nothing", headers=dc).status_code == 404
    transformations = http.get(f"{base_url}/epcis/eventTypes/TransformationEvent/events", headers=dc)
    assert steps(transformations) == [("TransformationEvent", "commissioning")]
    assert events_of(http.get(f"{base_url}/epcis/eventTypes/TransformationEvent/events", headers=rival)) == []
    twice = http.get(f"{base_url}/epcis/eventTypes/ObjectEvent/events", params={"eventType": "ObjectEvent"}, headers=dc)
    assert (twice.status_code, twice.json()["field"]) == (400, "eventType")

    # an EPC class's events (the tofu the DC received), as a URN in the path
    tofu = http.get(f"{base_url}/epcis/epcs/{quote(chain.tofu, safe='')}/events", headers=dc)
    assert [s for _, s in steps(tofu)] == [
        "commissioning",
        "inspecting",
        "shipping",
        "receiving",
        "shipping",
        "receiving",
    ]
    assert events_of(http.get(f"{base_url}/epcis/epcs/{quote(chain.tofu, safe='')}/events", headers=rival)) == []

    # business steps and dispositions: the CBV's own terms, paged with Link
    first = http.get(f"{base_url}/epcis/bizSteps", params={"perPage": 10}, headers=rival)
    assert first.json()["member"][:3] == ["accepting", "arriving", "assembling"]
    assert len(first.json()["member"]) == 10
    assert 'rel="next"' in first.headers["Link"]
    nxt = http.get(f"{base_url}{first.headers['Link'].split(';')[0].strip('<>')}", headers=rival).json()["member"]
    assert nxt[0] > first.json()["member"][-1]
    assert (
        "in_transit"
        in http.get(f"{base_url}/epcis/dispositions", params={"perPage": 100}, headers=rival).json()["member"]
    )
    shipping = http.get(f"{base_url}/epcis/bizSteps/shipping/events", headers=farm)
    assert steps(shipping) == [("ObjectEvent", "shipping")]
    in_transit = http.get(f"{base_url}/epcis/dispositions/in_transit/events", headers=dc)
    assert [s for _, s in steps(in_transit)] == ["shipping", "shipping"]  # the plant's to it, its own to the store

    # places: those of the events the caller may see; none for a firm that may see none
    locations = http.get(f"{base_url}/epcis/bizLocations", headers=farm).json()["member"]
    assert locations == sorted({sgln(chain.sites["farm"]), sgln(chain.sites["plant"])})  # its soy went to the plant
    assert http.get(f"{base_url}/epcis/bizLocations", headers=rival).json()["member"] == []
    assert http.get(f"{base_url}/epcis/readPoints", headers=rival).json()["member"] == []
    at_dc = http.get(f"{base_url}/epcis/bizLocations/{quote(sgln(chain.sites['dc']), safe='')}/events", headers=dc)
    assert [s for _, s in steps(at_dc)] == ["receiving", "shipping"]
    read_at_dc = http.get(f"{base_url}/epcis/readPoints/{quote(sgln(chain.sites['dc']), safe='')}/events", headers=farm)
    assert events_of(read_at_dc) == []  # the DC's events are about the plant's tofu, not the farm's soy


async def test_capture_discovery_and_the_firms_jobs(graph: Graph, settings: Settings, base_url: str) -> None:
    await captured_chain(graph, settings, base_url)
    farm = bearer(settings, "farm")
    options = http.options(f"{base_url}/epcis/capture", headers=farm)
    assert options.status_code == 204
    assert options.headers["GS1-EPCIS-Capture-Limit"] == "50"
    assert options.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(settings.epcis_max_document_mb * 1_048_576)
    assert set(options.headers["Allow"].split(", ")) == {"OPTIONS", "POST", "GET"}
    assert options.headers["GS1-EPCIS-Version"] == "2.0.0"
    # the announced limit holds: a document of more events is refused whole
    chain_events = (await register_chain(graph)).farm_events()
    too_many = post_document(base_url, farm, document([chain_events[0]] * 51))
    assert too_many["success"] is False
    assert too_many["errors"][0]["code"] == "LIMIT_EXCEEDED"
    jobs = http.get(f"{base_url}/epcis/capture", headers=farm).json()
    # newest first, its own documents only (the module's hub keeps the earlier tests' jobs too)
    assert [job["success"] for job in jobs[:2]] == [False, True]
    paged = http.get(f"{base_url}/epcis/capture", params={"perPage": 1}, headers=farm)
    assert len(paged.json()) == 1
    assert 'rel="next"' in paged.headers["Link"]
    rest = http.get(f"{base_url}{paged.headers['Link'].split(';')[0].strip('<>')}", headers=farm).json()
    assert [job["captureID"] for job in rest] == [jobs[1]["captureID"]]
    assert len(jobs) == 1 + sum(1 for job in jobs if job["success"])
    assert http.get(f"{base_url}/epcis/capture", headers=bearer(settings, "rival")).json() == []


async def test_named_queries_belong_to_their_firm_and_answer_with_the_callers_view(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await captured_chain(graph, settings, base_url)
    dc, dc_viewer, rival = bearer(settings, "dc"), bearer(settings, "dc", Role.VIEWER), bearer(settings, "rival")
    definition = {
        "name": "tofu-moves",
        "query": {"MATCH_anyEPCClass": [chain.tofu], "EQ_bizStep": ["shipping", "receiving"]},
    }
    created = http.post(f"{base_url}/epcis/queries", json=definition, headers=dc)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/epcis/queries/tofu-moves"
    assert http.get(f"{base_url}/epcis/queries/tofu-moves", headers=dc_viewer).json() == definition
    assert http.get(f"{base_url}/epcis/queries", headers=dc_viewer).json() == [definition]
    again = http.post(f"{base_url}/epcis/queries", json=definition, headers=dc)
    assert (again.status_code, again.json()["type"]) == (409, "epcisException:ResourceAlreadyExistsException")
    assert http.post(f"{base_url}/epcis/queries", json=definition, headers=dc_viewer).status_code == 403

    answer = http.get(f"{base_url}/epcis/queries/tofu-moves/events", headers=dc)
    assert [s for _, s in steps(answer)] == ["shipping", "receiving", "shipping", "receiving"]
    paged = http.get(f"{base_url}/epcis/queries/tofu-moves/events", params={"perPage": 3}, headers=dc)
    assert len(events_of(paged)) == 3
    assert 'rel="next"' in paged.headers["Link"]
    rest = http.get(f"{base_url}{paged.headers['Link'].split(';')[0].strip('<>')}", headers=dc)
    assert len(events_of(rest)) == 1
    narrowed = http.get(f"{base_url}/epcis/queries/tofu-moves/events", params={"EQ_action": "ADD"}, headers=dc)
    assert (narrowed.status_code, narrowed.json()["field"]) == (400, "EQ_action")

    # another firm neither sees nor runs the DC's query, and may keep one of the same name, with its own view
    assert http.get(f"{base_url}/epcis/queries/tofu-moves", headers=rival).status_code == 404
    assert http.get(f"{base_url}/epcis/queries/tofu-moves/events", headers=rival).status_code == 404
    assert http.get(f"{base_url}/epcis/queries", headers=rival).json() == []
    assert http.post(f"{base_url}/epcis/queries", json=definition, headers=rival).status_code == 201
    assert events_of(http.get(f"{base_url}/epcis/queries/tofu-moves/events", headers=rival)) == []

    # parameters are checked when the query is created, and named in the refusal
    bad = http.post(f"{base_url}/epcis/queries", json={"name": "bad", "query": {"EQ_bogus": ["x"]}}, headers=dc)
    assert (bad.status_code, bad.json()["field"], bad.json()["type"]) == (
        400,
        "query.EQ_bogus",
        "epcisException:QueryParameterException",
    )
    bad_time = http.post(
        f"{base_url}/epcis/queries", json={"name": "bad", "query": {"GE_eventTime": "yesterday"}}, headers=dc
    )
    assert (bad_time.status_code, bad_time.json()["field"]) == (400, "query.GE_eventTime")
    for name in ("", "a/b", "x" * 101, "=HYPERLINK(1)"):
        refused = http.post(f"{base_url}/epcis/queries", json={"name": name, "query": {}}, headers=dc)
        assert (refused.status_code, refused.json()["field"]) == (400, "name"), name
    assert http.get(f"{base_url}/epcis/queries", headers=dc).json() == [definition]  # nothing half-written

    assert http.delete(f"{base_url}/epcis/queries/tofu-moves", headers=dc_viewer).status_code == 403
    assert http.delete(f"{base_url}/epcis/queries/tofu-moves", headers=dc).status_code == 204
    assert http.get(f"{base_url}/epcis/queries/tofu-moves", headers=dc).status_code == 404
    assert http.get(f"{base_url}/epcis/queries/tofu-moves", headers=rival).status_code == 200  # the rival's own


async def test_order_limits_and_the_most_events_over_http(graph: Graph, settings: Settings, base_url: str) -> None:
    chain = await captured_chain(graph, settings, base_url)
    dc = bearer(settings, "dc")
    base = {"MATCH_anyEPCClass": chain.tofu}
    latest = http.get(
        f"{base_url}/epcis/events", params={**base, "orderBy": "eventTime", "eventCountLimit": 1}, headers=dc
    )
    assert [s for _, s in steps(latest)] == ["receiving"]
    assert "Link" not in latest.headers
    # eventCountLimit holds across pages: 3 events in pages of 2
    url: str | None = (
        f"{base_url}/epcis/events?MATCH_anyEPCClass={quote(chain.tofu)}&orderBy=eventTime&orderDirection=ASC&eventCountLimit=3&perPage=2"
    )
    seen: list[str] = []
    while url:
        page = http.get(url, headers=dc)
        seen += [e["bizStep"] for e in events_of(page)]
        link = page.headers.get("Link")
        url = f"{base_url}{link.split(';')[0].strip('<>')}" if link else None
    assert seen == ["commissioning", "inspecting", "shipping"]
    too_large = http.get(f"{base_url}/epcis/events", params={**base, "maxEventCount": 5}, headers=dc)
    assert (too_large.status_code, too_large.json()["type"]) == (413, "epcisException:QueryTooLargeException")
    assert len(events_of(http.get(f"{base_url}/epcis/events", params={**base, "maxEventCount": 6}, headers=dc))) == 6
    both = http.get(
        f"{base_url}/epcis/events",
        params={"eventCountLimit": 1, "maxEventCount": 1, "orderBy": "eventTime"},
        headers=dc,
    )
    assert (both.status_code, both.json()["type"]) == (400, "epcisException:QueryParameterException")
    # maxEventCount counts only what the caller may see: the rival's query of the same is not too large
    assert (
        events_of(
            http.get(f"{base_url}/epcis/events", params={**base, "maxEventCount": 0}, headers=bearer(settings, "rival"))
        )
        == []
    )


async def test_the_most_events_hold_on_every_page_and_an_extension_field_orders_them(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await captured_chain(graph, settings, base_url)
    dc, rival = bearer(settings, "dc"), bearer(settings, "rival")
    query = f"{base_url}/epcis/events?MATCH_anyEPCClass={quote(chain.tofu)}&maxEventCount=7&perPage=2"
    first = http.get(query, headers=dc)
    assert len(events_of(first)) == 2
    second_url = f"{base_url}{first.headers['Link'].split(';')[0].strip('<>')}"
    assert len(events_of(http.get(second_url, headers=dc))) == 2  # 6 events match: within 7
    # two more of the DC's events about the tofu: the whole result is 8 now, so the next page is too large
    received = chain.dc_events()[0]
    ranked = [
        {**received, "eventTime": f"2026-09-07T1{n}:00:00+09:00", "hub:rank": rank, "hub:shelf": shelf}
        for n, rank, shelf in ((1, 20, "B"), (2, 10, "A"))
    ]
    job = post_document(base_url, dc, document(ranked))
    assert (job["success"], job["capturedCount"]) == (True, 2), job
    too_large = http.get(second_url, headers=dc)
    assert (too_large.status_code, too_large.json()["type"]) == (413, "epcisException:QueryTooLargeException")
    assert too_large.json()["field"] == "maxEventCount"

    # ordered by an extension field over HTTP, page by page through the Link: numbers, then those without it
    url: str | None = (
        f"{base_url}/epcis/events?MATCH_anyEPCClass={quote(chain.tofu)}&orderBy=hub:rank&orderDirection=ASC&perPage=1"
    )
    ranks: list[int | None] = []
    while url and len(ranks) < 20:
        page = http.get(url, headers=dc)
        ranks += [e.get("hub:rank") for e in events_of(page)]
        link = page.headers.get("Link")
        url = f"{base_url}{link.split(';')[0].strip('<>')}" if link else None
    assert ranks == [10, 20, None, None, None, None, None, None]
    by_shelf = http.get(f"{base_url}/epcis/events", params={"orderBy": "hub:shelf", "eventCountLimit": 1}, headers=dc)
    assert [e["hub:shelf"] for e in events_of(by_shelf)] == ["B"]  # DESC by default
    assert events_of(http.get(f"{base_url}/epcis/events", params={"orderBy": "hub:rank"}, headers=rival)) == []
    bad = http.get(f"{base_url}/epcis/events", params={"orderBy": "=cmd|' /C calc'!A0"}, headers=dc)
    assert (bad.status_code, bad.json()["field"]) == (400, "orderBy")


def _walk(base_url: str, path: str, headers: dict[str, str], per_page: int) -> list[str]:
    """Every member of a paged collection, following its Link."""
    members: list[str] = []
    url: str | None = f"{base_url}{path}?perPage={per_page}"
    while url and len(members) < 1_000:
        page = http.get(url, headers=headers)
        assert page.status_code == 200, page.text
        members += page.json()["member"]
        link = page.headers.get("Link")
        url = f"{base_url}{link.split(';')[0].strip('<>')}" if link else None
    return members


def _identifiers(events: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for e in events:
        found.update(
            e.get("epcList", []), e.get("childEPCs", []), e.get("inputEPCList", []), e.get("outputEPCList", [])
        )
        found.update([e["parentID"]] if "parentID" in e else [])
        for key in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
            found.update(q["epcClass"] for q in e.get(key, []))
    return found


async def test_the_epcs_the_custom_steps_and_options_on_every_resource(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    chain = await captured_chain(graph, settings, base_url)
    dc, farm, rival = bearer(settings, "dc"), bearer(settings, "farm"), bearer(settings, "rival")
    custom = {
        **chain.dc_events()[0],
        "eventTime": "2026-09-07T12:00:00+09:00",
        "bizStep": "https://dc.example.org/steps/blast-chilling",
        "disposition": "https://dc.example.org/dispositions/chilled",
    }
    job = post_document(base_url, dc, document([custom]))
    assert (job["success"], job["capturedCount"]) == (True, 1), job

    # /epcs: every EPC and class of the events the caller may see, and nothing else, page by page
    for firm in (dc, farm):
        visible = events_of(http.get(f"{base_url}/epcis/events", params={"perPage": 1000}, headers=firm))
        assert visible
        members = _walk(base_url, "/epcis/epcs", firm, per_page=2)
        assert members == sorted(_identifiers(visible))
    assert _walk(base_url, "/epcis/epcs", rival, per_page=50) == []
    # the rival's own pallet is its own: listed for it, never for the DC
    pallet = f"urn:epc:id:sscc:{chain.sites['rival'][:7]}.0000000099"
    own = {
        "type": "ObjectEvent",
        "eventTime": "2026-09-07T12:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "epcList": [pallet],
        "bizLocation": {"id": sgln(chain.sites["rival"])},
    }
    job = post_document(base_url, rival, document([own]))
    assert (job["success"], job["capturedCount"]) == (True, 1), job
    assert _walk(base_url, "/epcis/epcs", rival, per_page=50) == [pallet]
    assert pallet not in _walk(base_url, "/epcis/epcs", dc, per_page=50)
    forged = http.get(f"{base_url}/epcis/epcs", params={"nextPageToken": "WyJicml6U3RlcCIsIiJd"}, headers=dc)
    assert (forged.status_code, forged.json()["field"]) == (400, "nextPageToken")

    # custom steps and dispositions after the CBV's own, once each across pages; none of the DC's for the rival
    steps_dc = _walk(base_url, "/epcis/bizSteps", dc, per_page=7)
    assert steps_dc[-1] == "https://dc.example.org/steps/blast-chilling"
    assert len(steps_dc) == len(set(steps_dc))
    assert steps_dc[:-1] == sorted(steps_dc[:-1])
    assert "https://dc.example.org/steps/blast-chilling" not in _walk(base_url, "/epcis/bizSteps", rival, per_page=7)
    assert _walk(base_url, "/epcis/dispositions", dc, per_page=100)[-1] == "https://dc.example.org/dispositions/chilled"
    assert [
        e["bizStep"]
        for e in events_of(
            http.get(
                f"{base_url}/epcis/bizSteps/{quote('https://dc.example.org/steps/blast-chilling', safe='')}/events",
                headers=dc,
            )
        )
    ] == ["https://dc.example.org/steps/blast-chilling"]

    # OPTIONS on every resource: its methods and the standard's discovery headers
    for path, allow in [
        ("/epcis/events", {"OPTIONS", "GET", "POST"}),
        ("/epcis/events/urn:uuid:1", {"OPTIONS", "GET"}),
        ("/epcis/epcs", {"OPTIONS", "GET"}),
        ("/epcis/epcs/urn:epc:id:sgtin:8800000.012345.1/events", {"OPTIONS", "GET"}),
        ("/epcis/eventTypes", {"OPTIONS", "GET"}),
        ("/epcis/bizSteps/shipping", {"OPTIONS", "GET"}),
        ("/epcis/bizLocations/urn:epc:id:sgln:8800000.00001.0/masterData", {"OPTIONS", "GET"}),
        ("/epcis/capture/some-job", {"OPTIONS", "GET"}),
        ("/epcis/queries", {"OPTIONS", "GET", "POST"}),
        ("/epcis/queries/mine", {"OPTIONS", "GET", "DELETE"}),
        ("/epcis/queries/mine/subscriptions", {"OPTIONS", "GET", "POST"}),
        ("/epcis/queries/mine/subscriptions/1", {"OPTIONS", "GET", "DELETE"}),
    ]:
        options = http.options(f"{base_url}{path}", headers=rival)
        assert options.status_code == 204, path
        assert set(options.headers["Allow"].split(", ")) == allow, path
        for header, value in (("GS1-EPCIS-Version", "2.0.0"), ("GS1-EPCIS-Min", "2.0.0"), ("GS1-EPCIS-Max", "2.0.0")):
            assert options.headers[header] == value, path
        for header in ("GS1-CBV-Version", "GS1-CBV-Min", "GS1-CBV-Max", "GS1-EPC-Format"):
            assert options.headers.get(header), (path, header)
        assert http.options(f"{base_url}{path}").status_code == 401, path
    assert "GS1-EPCIS-Capture-Limit" in http.options(f"{base_url}/epcis/capture", headers=rival).headers
