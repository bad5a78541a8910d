"""EPCIS master data captured with its document: only a site's own firm describes it, and nothing half-written."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.epcis import master_data_store as store
from graph_schema.epcis.capture import CaptureOutcome, capture
from graph_schema.epcis.reading import document_source
from tests.epcis_chain import document, sgln
from tests.epcis_schema import cross_check
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_documents = itertools.count()


def sub_site(gln: str, extension: str) -> str:
    return f"urn:epc:id:sgln:{gln[:7]}.{gln[7:12]}.{extension}"


def link(gln: str, extension: str = "0") -> str:
    return f"https://id.gs1.org/414/{gln}" + ("" if extension == "0" else f"/254/{extension}")


def observation(gln: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-11-28T09:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sscc:8801234.0000000001"],
        "bizLocation": {"id": sgln(gln)},
    }


def with_master_data(events: list[dict[str, Any]], vocabularies: list[dict[str, Any]]) -> dict[str, Any]:
    doc = document(events)
    doc["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    return doc


def locations(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": list(elements)}


def plant_description(gln: str, *, name: str = "Eumseong tofu plant") -> dict[str, Any]:
    return locations(
        {
            "id": sgln(gln),
            "attributes": [
                {"id": "cbvmda:name", "attribute": name},
                {"id": "cbvmda:streetAddressOne", "attribute": "12 Daeso-ro"},
                {"id": "cbvmda:city", "attribute": "Eumseong-gun"},
                {"id": "cbvmda:postalCode", "attribute": "27654"},
                {"id": "cbvmda:countryCode", "attribute": "KR"},
            ],
            "children": [sub_site(gln, "201")],
        },
        {
            "id": sub_site(gln, "201"),
            "attributes": [
                {"id": "cbvmda:site", "attribute": gln},
                {"id": "cbvmda:sst", "attribute": "202"},
                {"id": "cbvmda:ssd", "attribute": "Cold room 1"},
            ],
        },
    )


async def capture_document(graph: Graph, tmp_path: Path, firm: str, doc: dict[str, Any]) -> CaptureOutcome:
    path = tmp_path / f"{firm}-{next(_documents)}.jsonld"
    await anyio.Path(path).write_bytes(orjson.dumps(doc))
    outcome = await capture(
        graph,
        document_source(path),
        firm_id=firm,
        capture_id=f"test-{firm}",
        proceed=False,
        placeholders=False,
        record_time=NOW,
    )
    cross_check(doc, accepted_whole=outcome.committed and outcome.error_count == 0)
    return outcome


async def site_name(graph: Graph, gln: str) -> str:
    (site,) = await parties.sites_by_gln(graph, [gln])
    assert site is not None
    return str(site["name"])


async def stored(graph: Graph) -> dict[str, int]:
    rows = await graph.read(
        "RETURN COUNT { (:EpcisLocation) } AS locations, COUNT { (:EpcisParty) } AS parties,"
        " COUNT { (:EpcisEvent) } AS events"
    )
    return rows[0]


async def test_a_plant_describes_its_site_and_a_sub_site_with_its_events(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant = sites["plant"]
    doc = with_master_data([observation(plant)], [plant_description(plant)])
    outcome = await capture_document(graph, tmp_path, "plant", doc)
    assert (outcome.committed, outcome.errors, outcome.captured) == (True, [], 1)
    assert await site_name(graph, plant) == "Eumseong tofu plant"  # the site's own firm renames it

    site, cold_room = await store.locations_by_link(graph, [link(plant), link(plant, "201")])
    assert site is not None
    assert cold_room is not None
    assert (site["firmId"], site["city"], site["countryCode"], site["children"]) == (
        "plant",
        "Eumseong-gun",
        "KR",
        [sub_site(plant, "201")],
    )
    assert (cold_room["sst"], cold_room["ssd"], cold_room["siteGln"], cold_room["parents"]) == (
        "202",
        "Cold room 1",
        plant,
        [sgln(plant)],
    )
    # the standard's vocabulary element comes back with the attributes as captured (full URIs)
    assert store.vocabulary_element(cold_room) == {
        "id": sub_site(plant, "201"),
        "attributes": [
            {"id": "urn:epcglobal:cbv:mda:site", "attribute": plant},
            {"id": "urn:epcglobal:cbv:mda:sst", "attribute": "202"},
            {"id": "urn:epcglobal:cbv:mda:ssd", "attribute": "Cold room 1"},
        ],
    }
    (of_site,) = await store.locations_of_sites(graph, [plant])
    assert [row["id"] for row in of_site] == [sgln(plant), sub_site(plant, "201")]


async def test_another_firm_naming_your_gln_renames_nothing_and_writes_nothing(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant, rival = sites["plant"], sites["rival"]
    before = await site_name(graph, plant)
    # the rival's own valid event travels with master data about the plant's site: the whole document is refused
    doc = with_master_data([observation(rival)], [plant_description(plant, name='=HYPERLINK("evil")')])
    outcome = await capture_document(graph, tmp_path, "rival", doc)
    assert not outcome.committed
    assert [(e.code, e.field) for e in outcome.errors] == [
        ("FORBIDDEN", "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].id"),
        ("FORBIDDEN", "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[1].id"),
    ]
    assert "another firm's location; only the firm of a site may describe it" in outcome.errors[0].message
    assert await site_name(graph, plant) == before
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}

    # a sub-site of the rival's own that claims to be part of the plant's site (cbvmda:site) is refused too
    claim = locations(
        {"id": sub_site(rival, "7"), "attributes": [{"id": "cbvmda:site", "attribute": plant}]},
    )
    outcome = await capture_document(graph, tmp_path, "rival", with_master_data([observation(rival)], [claim]))
    assert [e.code for e in outcome.errors] == ["FORBIDDEN"]
    # and so is listing the plant's sub-site as a child of the rival's site
    adopt = locations({"id": sgln(rival), "children": [sub_site(plant, "201")]})
    outcome = await capture_document(graph, tmp_path, "rival", with_master_data([observation(rival)], [adopt]))
    assert [(e.code, e.field) for e in outcome.errors] == [
        ("FORBIDDEN", "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].children")
    ]
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}


async def test_an_unknown_gln_is_not_found_and_an_invalid_attribute_rejects_the_document(
    graph: Graph, tmp_path: Path
) -> None:
    sites = await register_firms(graph, ["plant"])
    plant = sites["plant"]
    unknown = "8809999000001"
    outcome = await capture_document(
        graph, tmp_path, "plant", with_master_data([observation(plant)], [locations({"id": sgln(unknown)})])
    )
    assert [e.code for e in outcome.errors] == ["NOT_FOUND"]
    assert "is not a registered site; register the site first" in outcome.errors[0].message

    bad = plant_description(plant)
    bad["vocabularyElementList"][0]["attributes"][4] = {"id": "cbvmda:countryCode", "attribute": "Korea"}
    outcome = await capture_document(graph, tmp_path, "plant", with_master_data([observation(plant)], [bad]))
    assert [(e.code, e.index, e.field) for e in outcome.errors] == [
        (
            "BAD_USER_INPUT",
            None,
            "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].attributes[4].attribute",
        )
    ]
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}


async def test_a_later_description_replaces_the_earlier_one(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant"])
    plant = sites["plant"]
    await capture_document(graph, tmp_path, "plant", with_master_data([], [plant_description(plant)]))
    again = locations({"id": sgln(plant), "attributes": [{"id": "cbvmda:name", "attribute": "Plant 2"}]})
    outcome = await capture_document(graph, tmp_path, "plant", with_master_data([], [again]))
    assert outcome.committed
    (site,) = await store.locations_by_link(graph, [link(plant)])
    assert site is not None
    assert (site["name"], site["city"], site["children"]) == ("Plant 2", None, [])
    assert await site_name(graph, plant) == "Plant 2"


async def test_a_firm_describes_its_own_party_only(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant", "farm"])
    plant, farm = sites["plant"], sites["farm"]

    def party(gln: str, name: str) -> dict[str, Any]:
        pgln = f"urn:epc:id:pgln:{gln[:7]}.{gln[7:12]}"
        return {
            "type": "urn:epcglobal:epcis:vtype:Party",
            "vocabularyElementList": [{"id": pgln, "attributes": [{"id": "cbvmda:name", "attribute": name}]}],
        }

    outcome = await capture_document(graph, tmp_path, "plant", with_master_data([], [party(plant, "Jeil Foods")]))
    assert outcome.committed
    (described,) = await store.parties_of_firms(graph, ["plant"])
    assert [(p["name"], p["gln"]) for p in described] == [("Jeil Foods", plant)]

    outcome = await capture_document(graph, tmp_path, "plant", with_master_data([], [party(farm, "Not the farm")]))
    assert [(e.code, e.field) for e in outcome.errors] == [
        ("FORBIDDEN", "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].id")
    ]
    assert await store.parties_of_firms(graph, ["farm"]) == [[]]
