"""A lot's page in Chromium: the lots drawn are the trace the API returns, its redacted lots drawn as redacted."""

from __future__ import annotations

import random
from urllib.parse import quote

import pytest

from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.model import TraceDirection
from graph_schema.trace import trace
from tests.browser.conftest import SignedIn
from tests.browser.harness import assert_accessible, screenshot
from tests.factories import random_cluster

pytestmark = pytest.mark.neo4j


async def test_the_trace_drawn_is_the_apis_with_its_redacted_lots(
    graph: Graph, signed_in: SignedIn, portal_hub: str
) -> None:
    cluster = await random_cluster(graph, random.Random(11), firm_count=4, lot_count=24)
    viewer_firm = cluster.owner_of[cluster.lots[0]]
    origin = cluster.lots[0]
    viewer = Viewer(firm_id=viewer_firm, detail_firm_ids=frozenset({viewer_firm}))
    rows = await trace(graph, viewer, lot_id=origin, direction=TraceDirection.DOWNSTREAM, max_depth=25)
    page = await signed_in(viewer_firm, "viewer", path=f"/lots/{quote(origin, safe='')}")
    await page.locator(".trace-graph[data-ready='true']").wait_for()
    drawn = await page.evaluate("() => document.querySelector('.trace-graph')._cyreg.cy.nodes('.lot').map(n => n.id())")
    tabled = await page.evaluate("() => [...document.querySelectorAll('tr[data-lot-id]')].map(r => r.dataset.lotId)")
    assert sorted(drawn) == sorted(tabled)
    assert len(drawn) == len(rows)
    assert {row["lot"]["id"] for row in rows if row["lot"]} == {i for i in drawn if i.startswith("urn:")}
    redacted = await page.evaluate(
        "() => document.querySelector('.trace-graph')._cyreg.cy.nodes('.lot.redacted').map(n => n.id())"
    )
    assert sorted(redacted) == sorted(i for i in drawn if not i.startswith("urn:"))
    assert len(redacted) == sum(1 for row in rows if row["lot"] is None)
    await assert_accessible(page)
    await screenshot(page, "trace-page")
