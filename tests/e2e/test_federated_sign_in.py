"""A member firm's own identity provider (a real node-oidc-provider) signs its apps in to the hub over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from auth.federation import TrustedIssuer
from graph_schema.db import Graph
from hub.app import create_app
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.e2e.oidc_idp import AUDIENCE, CLIENTS, OidcIdP, oidc_idp_fixture, signing_key  # noqa: F401 (a fixture)
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

PINNED_FIRM = CLIENTS[0].firm_id
ME = "{ me { firmId roles scopes } }"


def serving(settings: Settings) -> AbstractContextManager[str]:
    """The hub in uvicorn on a thread, as `hub serve` runs it; yields its base URL."""
    return serve_in_thread(create_app(settings), port=settings.port)


@pytest.fixture(scope="module")
def hub(
    neo4j_server: tuple[str, str, str], oidc_idp: OidcIdP, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The hub trusting the firm's provider, pinned to that firm."""
    trusted = [TrustedIssuer(issuer=oidc_idp.issuer, audience=AUDIENCE, firm_id=PINNED_FIRM)]
    with serving(hub_settings(neo4j_server, tmp_path_factory.mktemp("hub"), trusted_issuers=trusted)) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def hub_without_the_idp(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same hub, same graph, once the provider is taken off the trusted list."""
    with serving(hub_settings(neo4j_server, tmp_path_factory.mktemp("hub-without"), trusted_issuers=[])) as base_url:
        yield base_url


@pytest.fixture
async def members(graph: Graph) -> Graph:
    await register_firms(graph, [PINNED_FIRM, CLIENTS[1].firm_id])
    return graph


def ask(base_url: str, token: str, query: str = ME) -> httpx.Response:
    return httpx.post(f"{base_url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "UNAUTHENTICATED"
    assert "data" not in body


@pytest.mark.usefixtures("members")
def test_a_token_from_the_firms_own_idp_signs_its_app_in(hub: str, oidc_idp: OidcIdP) -> None:
    token = oidc_idp.token(scope="trace:read inventory:read")
    response = ask(hub, token)
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "me": {"firmId": PINNED_FIRM, "roles": ["auditor", "editor"], "scopes": ["inventory:read", "trace:read"]}
        }
    }


@pytest.mark.usefixtures("members")
def test_the_idp_cannot_sign_in_a_firm_other_than_its_own(hub: str, oidc_idp: OidcIdP) -> None:
    # the provider is pinned to one firm; a token of it naming another member firm must not act for that firm
    assert_refused(ask(hub, oidc_idp.token(CLIENTS[1].client_id)))


@pytest.mark.usefixtures("members")
def test_a_token_is_refused_once_its_issuer_is_no_longer_trusted(
    hub: str, hub_without_the_idp: str, oidc_idp: OidcIdP
) -> None:
    token = oidc_idp.token()
    assert ask(hub, token).json() == {
        "data": {"me": {"firmId": PINNED_FIRM, "roles": ["auditor", "editor"], "scopes": ["trace:read"]}}
    }
    assert_refused(ask(hub_without_the_idp, token))


@pytest.mark.usefixtures("members")
def test_the_hub_follows_a_key_rotation_of_the_idp(hub: str, oidc_idp: OidcIdP) -> None:
    old_token = oidc_idp.token()
    assert ask(hub, old_token).status_code == 200  # the hub now holds the provider's current keys
    oidc_idp.rotate([signing_key("idp-key-2")])
    new_token = oidc_idp.token()
    response = ask(hub, new_token)
    assert response.status_code == 200, "a token signed with the new key must be accepted after one key refetch"
    assert response.json()["data"]["me"]["firmId"] == PINNED_FIRM
    # the retired key is gone from the provider's key set, and so from the hub's
    assert_refused(ask(hub, old_token))
