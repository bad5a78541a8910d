"""A redacted lot stays redacted in the browser: a hidden farm upstream of the viewer is drawn as a grey node
that says only "redacted" and its role, its firm's name, site's name and lot number nowhere in the page (HTML
or the picture's node data), and the API answers the same with the viewer's own token; Korean labels render."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Request

from graph_schema import lots, parties
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.model import TraceDirection
from graph_schema.records import (
    FirmRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)
from graph_schema.trace import trace
from tests.browser.conftest import SignedIn
from tests.browser.harness import assert_accessible, screenshot
from tests.factories import T0, gln, gtin

pytestmark = pytest.mark.neo4j

HIDDEN_FIRM_NAME = "Quillwort Hollow Secret Farm"
HIDDEN_SITE_NAME = "Zephyrine Barn Nine"
HIDDEN_LOT_NUMBER = "HIDDENLOTXQ731"


async def farm_plant_retailer(graph: Graph, suffix: str) -> dict[str, str]:
    """A hidden farm's lot shipped to a plant, made into the plant's lot, shipped to the viewer, made into the
    viewer's lot; the viewer never receives the farm's lot and has no grant. Written by the write functions."""
    farm, plant, viewer = f"hfarm{suffix}", f"hplant{suffix}", f"hview{suffix}"
    await parties.upsert_firms(
        graph,
        [
            FirmRecord(id=farm, name=HIDDEN_FIRM_NAME, roles=["FARM"]),
            FirmRecord(id=plant, name=f"Open Plant {suffix}", roles=["PLANT"]),
            FirmRecord(id=viewer, name=f"Viewing Retailer {suffix}", roles=["RETAILER"]),
        ],
    )
    sites = {farm: gln(), plant: gln(), viewer: gln()}
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=sites[farm], firm_id=farm, name=HIDDEN_SITE_NAME, kind="FARM"),
            SiteRecord(gln=sites[plant], firm_id=plant, name=f"Plant site {suffix}", kind="PLANT"),
            SiteRecord(gln=sites[viewer], firm_id=viewer, name=f"Store {suffix}", kind="STORE"),
        ],
    )
    product = gtin()
    await parties.upsert_products(
        graph, [ProductRecord(gtin=product, owner_firm_id=plant, name="Soybeans", category="soy", uom="kg")]
    )
    ids = {
        "hidden": lgtin_for(product, HIDDEN_LOT_NUMBER),
        "plant": lgtin_for(product, f"PL{suffix}"),
        "viewer": lgtin_for(product, f"VL{suffix}"),
    }
    owners = {"hidden": farm, "plant": plant, "viewer": viewer}
    for n, (key, lot) in enumerate(ids.items()):
        owner = owners[key]
        await lots.record_lots(
            graph,
            [
                LotRecord(
                    id=lot,
                    owner_firm_id=owner,
                    site_gln=sites[owner],
                    quantity=10.0,
                    uom="kg",
                    produced_at=T0 + timedelta(hours=4 * n),
                )
            ],
        )
    for n, (source, shipper, receiver, output) in enumerate(
        [("hidden", farm, plant, "plant"), ("plant", plant, viewer, "viewer")]
    ):
        at = T0 + timedelta(hours=4 * n + 1)
        await lots.record_shipments(
            graph,
            [
                ShipmentRecord(
                    id=f"hs{suffix}-{n}",
                    from_gln=sites[shipper],
                    to_gln=sites[receiver],
                    shipped_at=at,
                    received_at=at + timedelta(hours=1),
                    items=[LotQuantity(lot_id=ids[source], quantity=5.0, uom="kg")],
                )
            ],
            shipper_firm_id=shipper,
        )
        await lots.record_transformations(
            graph,
            [
                TransformationRecord(
                    id=f"ht{suffix}-{n}",
                    firm_id=receiver,
                    site_gln=sites[receiver],
                    occurred_at=at + timedelta(hours=2),
                    inputs=[LotQuantity(lot_id=ids[source], quantity=5.0, uom="kg")],
                    outputs=[LotQuantity(lot_id=ids[output], quantity=5.0, uom="kg")],
                )
            ],
        )
    return {**ids, "viewer_firm": viewer, "farm_firm": farm}


def assert_hidden_absent(text: str, where: str, hidden_lot_id: str) -> None:
    for secret in (HIDDEN_FIRM_NAME, HIDDEN_SITE_NAME, HIDDEN_LOT_NUMBER, hidden_lot_id):
        assert secret not in text, f"{secret!r} leaked into {where}"


async def test_a_hidden_upstream_farm_stays_redacted_in_the_page_and_the_api(
    graph: Graph, signed_in: SignedIn, portal_hub: str
) -> None:
    cluster = await farm_plant_retailer(graph, "r1")
    hidden = cluster["hidden"]
    # the secrets are in the graph, and someone allowed to see them does: so their absence below means something
    everyone = Viewer(
        firm_id=cluster["farm_firm"], detail_firm_ids=frozenset({cluster["farm_firm"], cluster["viewer_firm"]})
    )
    full = await trace(graph, everyone, lot_id=cluster["viewer"], direction=TraceDirection.UPSTREAM, max_depth=25)
    full_text = json.dumps(full, default=str)
    assert hidden in full_text
    assert HIDDEN_LOT_NUMBER in hidden
    names = await graph.read_maps(
        "MATCH (f:Firm {id: $id})-[:OPERATES]->(s:Site) RETURN f.name AS firm, s.name AS site",
        {"id": cluster["farm_firm"]},
    )
    assert names == [{"firm": HIDDEN_FIRM_NAME, "site": HIDDEN_SITE_NAME}]

    page = await signed_in(
        cluster["viewer_firm"], "viewer", path=f"/lots/{quote(cluster['viewer'], safe='')}?direction=upstream"
    )
    trace_requests: list[Request] = []
    page.on("request", lambda r: trace_requests.append(r) if "PortalTrace" in (r.post_data or "") else None)
    await page.reload()  # the trace request again, now watched, with the token the page holds in memory
    await page.locator(".trace-graph[data-ready='true']").wait_for()

    nodes: list[dict[str, Any]] = await page.evaluate(
        "() => document.querySelector('.trace-graph')._cyreg.cy.nodes()"
        ".map(n => ({data: n.data(), classes: n.classes()}))"
    )
    lot_nodes = [n for n in nodes if "lot" in n["classes"]]
    assert {n["data"]["id"] for n in lot_nodes} >= {cluster["viewer"], cluster["plant"]}
    redacted = [n for n in lot_nodes if "redacted" in n["classes"]]
    assert len(redacted) == 1, lot_nodes
    assert redacted[0]["data"]["depth"] == 2
    assert redacted[0]["data"]["label"] == "Redacted · FARM"
    assert len(lot_nodes) == 3
    links = await page.evaluate(
        "() => document.querySelector('.trace-graph')._cyreg.cy.edges('.link')"
        ".map(e => [e.source().id(), e.target().id()])"
    )  # the steps drawn: the farm's (redacted) lot into the plant's, the plant's into the viewer's
    assert sorted(links) == sorted(
        [[redacted[0]["data"]["id"], cluster["plant"]], [cluster["plant"], cluster["viewer"]]]
    )
    assert_hidden_absent(json.dumps(nodes), "the Cytoscape nodes' data", hidden)
    content = await page.content()
    assert cluster["plant"] in content  # the page does show lots by id: the one it may see
    assert_hidden_absent(content, "the page's DOM", hidden)
    table_ids = await page.evaluate("() => [...document.querySelectorAll('tr[data-lot-id]')].map(r => r.dataset.lotId)")
    assert redacted[0]["data"]["id"] in table_ids

    # the API, asked the page's own query with the page's own token, says the same
    assert trace_requests, "the page sent no PortalTrace request"
    sent = trace_requests[-1]
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            sent.url,
            content=sent.post_data,
            headers={"Authorization": sent.headers["authorization"], "Content-Type": "application/json"},
        )
    assert answer.status_code == 200, answer.text
    assert "errors" not in answer.json(), answer.text
    api_lots = answer.json()["data"]["trace"]["lots"]
    api_redacted = [lot for lot in api_lots if lot["redacted"]]
    assert [(lot["id"], lot["lot"], lot["ownerRole"]) for lot in api_redacted] == [
        (redacted[0]["data"]["id"], None, "FARM")
    ]
    assert answer.json()["data"]["trace"]["summary"]["redactedCount"] == 1
    assert {(link["inputId"], link["outputId"]) for link in answer.json()["data"]["trace"]["links"]} == {
        (redacted[0]["data"]["id"], cluster["plant"]),
        (cluster["plant"], cluster["viewer"]),
    }
    assert_hidden_absent(answer.text, "the API's answer", hidden)
    await assert_accessible(page)

    await page.get_by_role("button", name="Switch to Korean").click()
    await page.get_by_role("heading", name="이력 추적", exact=True).wait_for()
    await page.locator(".trace-graph[data-ready='true']").wait_for()
    assert await page.evaluate("() => document.documentElement.lang") == "ko"
    assert "상류 (이 로트의 원료)" in await page.locator(".trace-controls").inner_text()
    labels: list[str] = await page.evaluate(
        "() => document.querySelector('.trace-graph')._cyreg.cy.nodes('.lot.redacted').map(n => n.data('label'))"
    )
    assert labels == ["비공개 · FARM"]
    assert_hidden_absent(await page.content(), "the Korean page's DOM", hidden)
    await screenshot(page, "trace-redaction-ko")
