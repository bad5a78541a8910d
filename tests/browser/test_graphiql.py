"""GraphiQL at GET /graphql in a browser: served by the hub from the portal's build, it draws and runs a query
with no other host reachable (its scripts, styles, fonts and Monaco's workers are all the hub's)."""

from __future__ import annotations

import pytest

from graph_schema.db import Graph
from tests.browser.conftest import SignedIn
from tests.browser.harness import PageWatch, screenshot
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

FIRM = "graphiql-firm"


@pytest.fixture
async def members(graph: Graph) -> Graph:
    await register_firms(graph, [FIRM])
    return graph


@pytest.mark.usefixtures("members")
async def test_graphiql_renders_and_runs_a_query_with_no_other_host(
    signed_in: SignedIn, portal_hub: str, watches: list[PageWatch]
) -> None:
    page = await signed_in(FIRM, "viewer")
    hub_requests: list[str] = []
    page.on("request", lambda request: hub_requests.append(request.url) if request.url.startswith(portal_hub) else None)
    response = await page.goto(portal_hub + "/graphql")
    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await page.locator(".graphiql-container").wait_for()
    await page.locator(".graphiql-query-editor .monaco-editor").wait_for()
    # the default query asks who the caller is; signed in to the portal, GraphiQL carries the same person's token
    await page.get_by_role("button", name="Execute query").click()
    result = page.locator(".graphiql-response")
    await result.get_by_text(f'"firmId": "{FIRM}"').wait_for()
    await screenshot(page, "graphiql")
    # Monaco's workers came from the hub (the harness fails the test on any other host or CSP violation)
    assert any("worker" in url for url in hub_requests), hub_requests
    assert watches[0].csp_violations == []
