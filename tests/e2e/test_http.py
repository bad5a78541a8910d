"""The hub over real HTTP: uvicorn serving the app factory's app, tokens from the built-in issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph_schema.db import Graph
from hub.app import create_app
from hub.cli import main as hub_cli
from hub.server import serve_in_thread
from hub.settings import Environment, Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"), env=Environment.DEVELOPMENT)


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def cli_token(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> str:
    """A token printed by ``hub token``, as a user would get it."""
    monkeypatch.setenv("HUB_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("HUB_PORT", str(settings.port))
    assert hub_cli(["token", *args]) == 0
    return capsys.readouterr().out.strip()


def test_health_and_readiness(base_url: str) -> None:
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not.a.token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": "Bearer"},
    ],
)
def test_graphql_without_a_valid_token_is_401_with_no_data(base_url: str, headers: dict[str, str]) -> None:
    response = httpx.post(f"{base_url}/graphql", json={"query": "{ firms { totalCount } }"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "UNAUTHENTICATED"
    assert "data" not in body


def test_graphiql_page_is_served_to_a_browser(base_url: str) -> None:
    page = httpx.get(f"{base_url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_a_cli_token_reads_the_graph_as_its_firm(
    base_url: str,
    settings: Settings,
    graph: Graph,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await register_firms(graph, ["anchor", "oem1"], roles=["ANCHOR"])
    token = cli_token(settings, monkeypatch, capsys, "--firm", "anchor", "--role", "admin", "--scope", "trace:read")
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "{ me { firmId roles scopes firm { name } } "
                "firms(first: 1) { totalCount edges { node { id } } } }"
            },
        )
        assert response.status_code == 200
        assert response.json() == {
            "data": {
                "me": {
                    "firmId": "anchor",
                    "roles": ["admin"],
                    "scopes": ["trace:read"],
                    "firm": {"name": "Firm anchor"},
                },
                "firms": {"totalCount": 2, "edges": [{"node": {"id": "anchor"}}]},
            }
        }
        by_get = await client.get("/graphql", params={"query": "{ me { firmId } }"})
        assert by_get.json() == {"data": {"me": {"firmId": "anchor"}}}
        mutation_by_get = await client.get("/graphql", params={"query": "mutation { revoke: __typename }"})
        assert mutation_by_get.status_code >= 400


def test_a_token_from_another_issuer_key_is_refused(base_url: str, settings: Settings, tmp_path: Path) -> None:
    from hub.app import open_issuer

    stranger = open_issuer(settings.model_copy(update={"state_dir": tmp_path}))  # a fresh, unknown signing key
    token = stranger.mint(subject="x", firm_id="anchor", roles=[])
    response = httpx.post(
        f"{base_url}/graphql", json={"query": "{ me { firmId } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
