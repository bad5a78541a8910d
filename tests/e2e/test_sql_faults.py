"""The SQL store locked by another process: a 503 that names it, in seconds, and service again once it is free."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import document
from tests.factories import gln, register_firms

pytestmark = pytest.mark.neo4j

REGISTER_SITE = "mutation($in: SiteInput!) { registerSite(input: $in) { gln } }"


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


async def test_a_locked_sql_store_answers_503_naming_it_then_recovers(
    graph: Graph, settings: Settings, base_url: str
) -> None:
    await register_firms(graph, ["farm"])
    token = open_issuer(settings).mint(subject="app@farm", firm_id="farm", roles=(Role.EDITOR,))
    headers = {"Authorization": f"Bearer {token}"}

    def new_site() -> httpx.Response:
        site = {"gln": gln(), "firmId": "farm", "name": "Second plant", "kind": "PLANT"}
        return httpx.post(
            f"{base_url}/graphql", json={"query": REGISTER_SITE, "variables": {"in": site}}, headers=headers, timeout=30
        )

    assert new_site().json().get("errors") is None
    assert httpx.get(f"{base_url}/readyz").status_code == 200
    # another process takes the write lock and keeps it (a stuck migration, a backup tool)
    holder = sqlite3.connect(settings.state_dir / "hub.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        ready = httpx.get(f"{base_url}/readyz", timeout=30)
        ready_seconds = time.monotonic() - started
        started = time.monotonic()
        captured = httpx.post(
            f"{base_url}/epcis/capture",
            json=document([]),
            headers={**headers, "Content-Type": "application/ld+json"},
            timeout=30,
        )
        write_seconds = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    print(f"SQL store locked: /readyz 503 in {ready_seconds:.2f} s, a capture 503 in {write_seconds:.2f} s")
    assert ready.status_code == 503
    assert "locked" in ready.json()["down"]["sql"]
    assert "neo4j" not in ready.json()["down"]
    assert captured.status_code == 503, captured.text
    assert captured.headers["Retry-After"] == "2"
    assert (captured.json()["code"], captured.json()["store"]) == ("UNAVAILABLE", "sql")
    assert "SQL store" in captured.json()["detail"]
    assert list((settings.state_dir / "epcis-spool").iterdir()) == [], "nothing half-written"

    assert httpx.get(f"{base_url}/readyz").status_code == 200
    assert new_site().json().get("errors") is None
