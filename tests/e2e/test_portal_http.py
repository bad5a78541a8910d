"""The portal over HTTP: its page at / and at its routes (never in place of the API), its policy, its config."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.federation import TrustedIssuer
from hub.app import create_app
from hub.server import serve_in_thread
from tests.browser.harness import build_portal
from tests.e2e.hub_settings import hub_settings

pytestmark = pytest.mark.neo4j

IDP = "http://127.0.0.1:9/"  # never reached: only its origin goes into the policy


@pytest.fixture(scope="module")
def dist() -> Path:
    return build_portal()


@pytest.fixture(scope="module")
def hub(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Iterator[str]:
    trusted = [
        TrustedIssuer(issuer=IDP, audience="food-cluster-hub", firm_id="fed-a", portal_client_id="portal-a"),
        TrustedIssuer(issuer="https://idp.example/", audience="food-cluster-hub", firm_id="fed-b"),  # no portal client
    ]
    settings = hub_settings(
        neo4j_server, tmp_path_factory.mktemp("portal-http"), trusted_issuers=trusted, graphiql=True
    )
    with serve_in_thread(create_app(settings), port=settings.port) as base_url:
        yield base_url


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=30)


def test_the_portal_page_needs_no_token_and_forbids_other_hosts(hub: str) -> None:
    page = get(hub + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    # the hub (its built-in issuer too) and the IdP with a portal client, none other
    assert set(policy["connect-src"].split()) == {"'self'", "http://127.0.0.1:9", hub}
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module"' in page.text
    assert "<script>" not in page.text  # no inline script for the policy to refuse
    # its assets, too, come without a token, cached for good (their names change with their content)
    script = page.text.split('src="', 1)[1].split('"', 1)[0]
    asset = get(hub + script)
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]


def test_portal_routes_answer_the_page_and_api_routes_stay_the_apis(hub: str) -> None:
    index = get(hub + "/").text
    for path in ("/lots", "/lots/some-lot-id", "/recalls/r-1"):
        deep = get(hub + path, Accept="text/html")
        assert deep.status_code == 200, path
        assert deep.text == index
    for path in ("/epcis/nowhere", "/graphql/x", "/exports/none", "/oauth/nothing", "/haccp/x", "/portal/x"):
        refused = get(hub + path)
        assert refused.status_code == 404, path
        assert refused.json()["code"] == "NOT_FOUND"
    assert get(hub + "/healthz").json() == {"status": "ok"}
    assert "<!doctype html>" not in get(hub + "/graphql", Accept="application/json").text.lower()
    missing = get(hub + "/assets/no-such-file.js")
    assert missing.status_code == 404
    escape = get(hub + "/assets/..%2f..%2fpyproject.toml")
    assert escape.status_code == 404
    assert "[project]" not in escape.text  # never a file outside portal/dist
    posted = httpx.post(hub + "/lots", timeout=30)
    assert posted.status_code == 404
    api_client = get(hub + "/no/such/route")  # not a browser (no text/html): the API's 404 problem
    assert api_client.status_code == 404
    assert api_client.json()["code"] == "NOT_FOUND"


def test_the_config_lists_the_identity_providers_with_a_portal_client(hub: str) -> None:
    config = get(hub + "/portal/config")
    assert config.status_code == 200
    assert config.json() == {
        "signIn": [
            {  # the built-in issuer's people accounts (it has /oauth/authorize)
                "id": "builtin",
                "kind": "builtin",
                "issuer": hub,
                "clientId": "portal",
                "scope": "openid",
                "firmId": None,
                "label": None,
            },
            {
                "id": "idp-0",
                "kind": "firm",
                "issuer": IDP,
                "clientId": "portal-a",
                "scope": "openid",
                "firmId": "fed-a",
                "label": None,
            },
        ]
    }


def test_graphiql_is_the_hubs_own_build_with_no_cdn(hub: str) -> None:
    page = get(hub + "/graphql", Accept="text/html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = [part.split('"', 1)[0] for part in page.text.split('src="')[1:]]
    assert scripts, page.text
    assert all(src.startswith("/assets/") for src in scripts), scripts  # nothing from unpkg or jsDelivr
    for src in scripts:
        assert get(hub + src).status_code == 200
    # a query in the URL is still GraphQL over HTTP, not the page
    assert get(hub + "/graphql?query={__typename}", Accept="text/html").status_code == 401


def test_a_portal_built_elsewhere_is_served_from_the_portal_dir_setting(
    neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory, dist: Path
) -> None:
    """HUB_PORTAL_DIR: an installed hub (the container image) serves the portal from where it was built."""
    elsewhere = tmp_path_factory.mktemp("portal-elsewhere") / "dist"
    shutil.copytree(dist, elsewhere)
    index = elsewhere / "index.html"
    index.write_text(index.read_text().replace("</head>", "<!-- built elsewhere --></head>", 1))
    settings = hub_settings(neo4j_server, tmp_path_factory.mktemp("portal-dir"), portal_dir=elsewhere)
    with serve_in_thread(create_app(settings), port=settings.port) as base_url:
        page = get(base_url + "/lots", Accept="text/html")
        assert page.status_code == 200
        assert "<!-- built elsewhere -->" in page.text
    assert "<!-- built elsewhere -->" not in (dist / "index.html").read_text()
