"""Two hub processes sharing one SQL store: a grant made through one counts in the other at its next request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import free_port, serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture, shared with the integration tests)

pytestmark = pytest.mark.neo4j

DOWN = "query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) { summary { redactedCount } } }"
GRANT = 'mutation { grantSharing(input: {scope: TRACE, level: DETAIL, toFirmId: "farm"}) { id } }'


def two_hubs(neo4j_server: tuple[str, str, str], state: Path, *, check_seconds: float) -> list[Settings]:
    """Two hubs on one state folder (one SQLite file, one issuer), each keeping decisions for a minute."""
    issuer = f"http://127.0.0.1:{free_port()}"
    return [
        hub_settings(
            neo4j_server,
            state,
            issuer_url=issuer,
            decision_cache_seconds=60,
            shared_change_check_seconds=check_seconds,
        )
        for _ in range(2)
    ]


@pytest.fixture(scope="module", params=[0.0, 60.0], ids=["watching", "not-watching"])
def hubs(
    request: pytest.FixtureRequest, neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[float, Settings, str, str]]:
    first, second = two_hubs(neo4j_server, tmp_path_factory.mktemp("state"), check_seconds=request.param)
    with (
        serve_in_thread(create_app(first), port=first.port) as a,
        serve_in_thread(create_app(second), port=second.port) as b,
    ):
        yield request.param, first, a, b


def graphql(base: str, token: str, query: str, variables: dict[str, str] | None = None) -> dict[str, object]:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert "errors" not in body, body
    return body


async def test_a_grant_through_one_hub_counts_in_the_other_at_once(
    hubs: tuple[float, Settings, str, str],
    graph: Graph,
    chain: Chain,  # noqa: F811
) -> None:
    check_seconds, settings, hub_a, hub_b = hubs
    issuer = open_issuer(settings)
    farm = issuer.mint(subject="farm-app", firm_id="farm", roles=[Role.VIEWER])
    plant = issuer.mint(subject="plant-admin", firm_id="plant", roles=[Role.ADMIN])
    before = graphql(hub_b, farm, DOWN, {"id": chain.soy})  # hub B now keeps the farm's decision for a minute
    assert before == {"data": {"trace": {"summary": {"redactedCount": 1}}}}
    graphql(hub_a, plant, GRANT)
    after = graphql(hub_b, farm, DOWN, {"id": chain.soy})
    if check_seconds == 0:
        assert after == {"data": {"trace": {"summary": {"redactedCount": 0}}}}
    else:  # the control: without looking at the shared counter, hub B answers from its kept decision
        assert after == before
