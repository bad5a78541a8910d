"""EPCIS master data in XML documents' headers (1.2 and 2.0): the same store and the same rules as JSON-LD's."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import anyio
import pytest

from graph_schema.db import Graph
from graph_schema.epcis import master_data_store as store
from graph_schema.epcis.capture import CaptureOutcome, capture
from graph_schema.epcis.master_data import MDA
from graph_schema.epcis.xml_reading import xml_document_source
from tests.epcis_chain import sgln
from tests.epcis_data import xml_schemas
from tests.factories import register_firms
from tests.integration.test_epcis_master_data import (
    NOW,
    link,
    locations,
    plant_description,
    site_name,
    stored,
    sub_site,
)

pytestmark = pytest.mark.neo4j

_documents = itertools.count()
HEADER_LIST = "/epcis:EPCISDocument/EPCISHeader/extension/EPCISMasterData/VocabularyList"
NAMESPACES = {"2.0": "urn:epcglobal:epcis:xsd:2", "1.2": "urn:epcglobal:epcis:xsd:1"}


def vocabulary_list_xml(vocabularies: list[dict[str, Any]]) -> str:
    """The JSON-LD binding's vocabularyList written as the XML binding's VocabularyList (attribute ids in full)."""
    out = ["<VocabularyList>"]
    for vocabulary in vocabularies:
        out.append(f"<Vocabulary type={quoteattr(vocabulary['type'])}><VocabularyElementList>")
        for element in vocabulary["vocabularyElementList"]:
            out.append(f"<VocabularyElement id={quoteattr(element['id'])}>")
            for attribute in element.get("attributes", []):
                name = attribute["id"].replace("cbvmda:", MDA)
                out.append(f"<attribute id={quoteattr(name)}>{escape(str(attribute['attribute']))}</attribute>")
            if element.get("children"):
                out.append("<children>" + "".join(f"<id>{child}</id>" for child in element["children"]) + "</children>")
            out.append("</VocabularyElement>")
        out.append("</VocabularyElementList></Vocabulary>")
    out.append("</VocabularyList>")
    return "".join(out)


def observation_xml(gln: str) -> str:
    return (
        "<ObjectEvent><eventTime>2026-11-28T09:00:00+09:00</eventTime><eventTimeZoneOffset>+09:00"
        "</eventTimeZoneOffset><epcList><epc>urn:epc:id:sscc:8801234.0000000001</epc></epcList>"
        f"<action>OBSERVE</action><bizLocation><id>{sgln(gln)}</id></bizLocation></ObjectEvent>"
    )


# the 1.2 XSD requires a Standard Business Document Header in EPCISHeader (2.0 makes it optional)
SBDH = (
    '<sbdh:StandardBusinessDocumentHeader xmlns:sbdh="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader">'
    "<sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>"
    '<sbdh:Sender><sbdh:Identifier Authority="GS1">8801234000019</sbdh:Identifier></sbdh:Sender>'
    '<sbdh:Receiver><sbdh:Identifier Authority="GS1">8809999000001</sbdh:Identifier></sbdh:Receiver>'
    "<sbdh:DocumentIdentification><sbdh:Standard>EPCglobal</sbdh:Standard><sbdh:TypeVersion>1.0</sbdh:TypeVersion>"
    "<sbdh:InstanceIdentifier>1</sbdh:InstanceIdentifier><sbdh:Type>Events</sbdh:Type>"
    "<sbdh:CreationDateAndTime>2026-11-28T10:00:00Z</sbdh:CreationDateAndTime></sbdh:DocumentIdentification>"
    "</sbdh:StandardBusinessDocumentHeader>"
)


def xml_with_master_data(events: list[str], vocabularies: list[dict[str, Any]], *, version: str = "2.0") -> bytes:
    """An EPCIS XML capture document whose header carries master data (EPCISHeader/extension/EPCISMasterData: where
    both the 1.2 and the 2.0 XSD put it)."""
    return (
        f'<epcis:EPCISDocument xmlns:epcis="{NAMESPACES[version]}" schemaVersion="{version}"'
        f' creationDate="2026-11-28T10:00:00Z"><EPCISHeader>{SBDH if version == "1.2" else ""}'
        "<extension><EPCISMasterData>"
        f"{vocabulary_list_xml(vocabularies)}</EPCISMasterData></extension></EPCISHeader>"
        f"<EPCISBody><EventList>{''.join(events)}</EventList></EPCISBody></epcis:EPCISDocument>"
    ).encode()


MASTER_DATA_NAMESPACES = {"2.0": "urn:epcglobal:epcis-masterdata:xsd:2", "1.2": "urn:epcglobal:epcis-masterdata:xsd:1"}
BODY_LIST = "/epcismd:EPCISMasterDataDocument/EPCISBody/VocabularyList"


def xml_master_data_document(vocabularies: list[dict[str, Any]], *, version: str = "2.0") -> bytes:
    """An EPCISMasterDataDocument: master data alone, in EPCISBody/VocabularyList."""
    return (
        f'<epcismd:EPCISMasterDataDocument xmlns:epcismd="{MASTER_DATA_NAMESPACES[version]}" schemaVersion="{version}"'
        f' creationDate="2026-11-28T10:00:00Z">{"<EPCISHeader>" + SBDH + "</EPCISHeader>" if version == "1.2" else ""}'
        f"<EPCISBody>{vocabulary_list_xml(vocabularies)}</EPCISBody></epcismd:EPCISMasterDataDocument>"
    ).encode()


def json_master_data_document(vocabularies: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON-LD form of an EPCISMasterDataDocument (as converters write it: GS1's JSON schema has none)."""
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"cbvmda": MDA}],
        "type": "EPCISMasterDataDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-28T10:00:00Z",
        "epcisBody": {"vocabularyList": vocabularies},
    }


async def capture_xml(graph: Graph, tmp_path: Path, firm: str, body: bytes) -> CaptureOutcome:
    path = tmp_path / f"{firm}-{next(_documents)}.xml"
    await anyio.Path(path).write_bytes(body)
    return await capture(
        graph,
        xml_document_source(path, schemas=xml_schemas()),
        firm_id=firm,
        capture_id=f"test-{firm}",
        proceed=False,
        placeholders=False,
        record_time=NOW,
    )


@pytest.mark.parametrize("version", ["2.0", "1.2"])
async def test_a_plant_describes_its_site_in_an_xml_header(graph: Graph, tmp_path: Path, version: str) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant = sites["plant"]
    body = xml_with_master_data([observation_xml(plant)], [plant_description(plant)], version=version)
    outcome = await capture_xml(graph, tmp_path, "plant", body)
    assert (outcome.committed, outcome.errors, outcome.captured) == (True, [], 1)
    assert await site_name(graph, plant) == "Eumseong tofu plant"
    site, cold_room = await store.locations_by_link(graph, [link(plant), link(plant, "201")])
    assert site is not None
    assert cold_room is not None
    assert (site["name"], site["streetAddressOne"], site["city"], site["postalCode"], site["countryCode"]) == (
        "Eumseong tofu plant",
        "12 Daeso-ro",
        "Eumseong-gun",
        "27654",
        "KR",
    )
    assert (site["children"], cold_room["sst"], cold_room["ssd"], cold_room["parents"]) == (
        [sub_site(plant, "201")],
        "202",
        "Cold room 1",
        [sgln(plant)],
    )
    assert store.vocabulary_element(cold_room)["attributes"][0] == {"id": f"{MDA}site", "attribute": plant}


async def test_another_firm_naming_your_gln_in_xml_renames_nothing(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant, rival = sites["plant"], sites["rival"]
    before = await site_name(graph, plant)
    body = xml_with_master_data([observation_xml(rival)], [plant_description(plant, name='=HYPERLINK("evil")')])
    outcome = await capture_xml(graph, tmp_path, "rival", body)
    assert not outcome.committed
    element = f"{HEADER_LIST}/Vocabulary[1]/VocabularyElementList/VocabularyElement"
    assert [(e.code, e.field) for e in outcome.errors] == [
        ("FORBIDDEN", f"{element}[1]/@id"),
        ("FORBIDDEN", f"{element}[2]/@id"),
    ]
    assert outcome.errors[0].message.startswith(f"{element}[1]: {sgln(plant)} is another firm's location")
    assert await site_name(graph, plant) == before
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}
    # the plant's sub-site listed as a child of the rival's site
    adopt = locations({"id": sgln(rival), "children": [sub_site(plant, "201")]})
    outcome = await capture_xml(graph, tmp_path, "rival", xml_with_master_data([observation_xml(rival)], [adopt]))
    assert [(e.code, e.field) for e in outcome.errors] == [("FORBIDDEN", f"{element}[1]/children")]
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}


async def test_an_invalid_attribute_in_xml_is_named_by_its_element(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant"])
    plant = sites["plant"]
    bad = plant_description(plant)
    bad["vocabularyElementList"][0]["attributes"][4] = {"id": "cbvmda:countryCode", "attribute": "Korea"}
    outcome = await capture_xml(graph, tmp_path, "plant", xml_with_master_data([observation_xml(plant)], [bad]))
    where = f"{HEADER_LIST}/Vocabulary[1]/VocabularyElementList/VocabularyElement[1]/attribute[5]"
    assert [(e.code, e.index, e.field) for e in outcome.errors] == [("BAD_USER_INPUT", None, where)]
    assert outcome.errors[0].message == (
        f"{where}: cbvmda:countryCode must be an ISO 3166-1 alpha-2 country code such as 'KR', got 'Korea'"
    )
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}


async def test_a_formula_in_a_name_is_kept_as_inert_text_of_ones_own_site(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant"])
    plant = sites["plant"]
    formula = "=cmd|' /C calc'!A0"
    body = xml_with_master_data([], [plant_description(plant, name=formula)])
    outcome = await capture_xml(graph, tmp_path, "plant", body)
    assert outcome.committed
    (site,) = await store.locations_by_link(graph, [link(plant)])
    assert site is not None
    assert site["name"] == formula  # data, as given: the spreadsheet exports neutralise formulas when they write


@pytest.mark.parametrize("version", ["2.0", "1.2"])
async def test_a_master_data_document_stores_master_data_only(graph: Graph, tmp_path: Path, version: str) -> None:
    sites = await register_firms(graph, ["plant"])
    plant = sites["plant"]
    outcome = await capture_xml(
        graph, tmp_path, "plant", xml_master_data_document([plant_description(plant)], version=version)
    )
    assert (outcome.committed, outcome.errors, outcome.event_count, outcome.captured) == (True, [], 0, 0)
    assert await stored(graph) == {"locations": 2, "parties": 0, "events": 0}
    assert await site_name(graph, plant) == "Eumseong tofu plant"


async def test_a_master_data_document_naming_another_firms_gln_writes_nothing(graph: Graph, tmp_path: Path) -> None:
    sites = await register_firms(graph, ["plant", "rival"])
    plant, rival = sites["plant"], sites["rival"]
    before = await site_name(graph, plant)
    # the rival's own site described correctly, and the plant's site: the whole document is refused
    mine = locations({"id": sgln(rival), "attributes": [{"id": "cbvmda:name", "attribute": "Rival depot"}]})
    body = xml_master_data_document([mine, plant_description(plant, name="Taken over")])
    outcome = await capture_xml(graph, tmp_path, "rival", body)
    assert [(e.code, e.field) for e in outcome.errors] == [
        ("FORBIDDEN", f"{BODY_LIST}/Vocabulary[2]/VocabularyElementList/VocabularyElement[1]/@id"),
        ("FORBIDDEN", f"{BODY_LIST}/Vocabulary[2]/VocabularyElementList/VocabularyElement[2]/@id"),
    ]
    assert await site_name(graph, plant) == before
    assert await stored(graph) == {"locations": 0, "parties": 0, "events": 0}
