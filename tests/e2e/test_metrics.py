"""GET /metrics over real HTTP: Prometheus text for the cluster operator's admin, nobody else."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub.app import create_app, open_issuer
from hub.metrics import route_of
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings

pytestmark = pytest.mark.neo4j

http = httpx.Client(timeout=60)


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def bearer(settings: Settings, firm: str, *roles: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {open_issuer(settings).mint(subject=f'ops@{firm}', firm_id=firm, roles=roles)}"}


def test_routes_are_counted_by_template_so_ids_make_no_new_series() -> None:
    assert route_of("/epcis/capture/3f2a") == "/epcis/capture/{id}"
    assert route_of("/epcis/capture") == "/epcis/capture"
    assert route_of("/graphql") == "/graphql"
    assert route_of("/wp-admin/setup.php") == "other"


async def test_metrics_are_for_the_operators_admin_only(graph: Graph, settings: Settings, base_url: str) -> None:
    await parties.upsert_firms(
        graph,
        [
            FirmRecord(id="agency", name="HACCP agency", roles=["AGENCY"]),
            FirmRecord(id="plant", name="A plant", roles=["PLANT"]),
        ],
    )
    http.get(f"{base_url}/healthz")
    http.get(f"{base_url}/epcis/capture/no-such-job")  # 401: counted under its template

    assert http.get(f"{base_url}/metrics").status_code == 401
    assert http.get(f"{base_url}/metrics", headers=bearer(settings, "plant", Role.ADMIN)).status_code == 403
    assert http.get(f"{base_url}/metrics", headers=bearer(settings, "agency", Role.VIEWER)).status_code == 403

    answer = http.get(f"{base_url}/metrics", headers=bearer(settings, "agency", Role.ADMIN))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'hub_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'hub_http_requests_total{method="GET",route="/epcis/capture/{id}",status="401"}' in text
    assert 'hub_http_requests_total{method="GET",route="/metrics",status="403"} 2.0' in text
    assert "no-such-job" not in text
