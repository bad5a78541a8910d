"""Two hub processes on one real PostgreSQL (and one Neo4j), as several hosts behind a balancer would run.

What one process keeps must hold for both: a grant through one counts in the other at once, a firm's rate and a
client's sign-in lockout hold for both together, and a capture job is declared interrupted only once its own
process has stopped beating. The same rules are tested on one SQLite file beside each module they belong to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord
from hub import capture_jobs
from hub.app import create_app, open_issuer
from hub.server import free_port, serve_in_thread
from hub.settings import Settings
from hub.sql_store import create_sql_engine
from tests.e2e.hub_settings import hub_settings
from tests.e2e.test_builtin_issuer import FIRM, Client, create_client, request_token
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture, shared with the integration tests)
from tests.postgres import scratch_postgres

pytestmark = pytest.mark.neo4j

DOWN = "query($id: ID!) { trace(lotId: $id, direction: DOWNSTREAM) { summary { redactedCount } } }"
WINDOW = 30  # the shared rate's window: long enough that a busy machine's slow requests stay inside one
GRANT = 'mutation { grantSharing(input: {scope: TRACE, level: DETAIL, toFirmId: "farm"}) { id } }'


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with scratch_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def hubs(
    postgres: str, neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, str, str]]:
    state: Path = tmp_path_factory.mktemp("state")  # the issuer's keys, shared as a mounted folder would be
    issuer = f"http://127.0.0.1:{free_port()}"
    first, second = (
        hub_settings(
            neo4j_server,
            state,
            sql_url=postgres,
            issuer_url=issuer,
            decision_cache_seconds=60,
            shared_change_check_seconds=0,
            rate_limit_firm_per_second=0.01,
            rate_limit_firm_burst=5,
            rate_limit_window_seconds=WINDOW,
            oauth_lockout_failures=4,
        )
        for _ in range(2)
    )
    with (
        serve_in_thread(create_app(first), port=first.port) as a,
        serve_in_thread(create_app(second), port=second.port) as b,
    ):
        yield first, a, b


def post(base: str, token: str, query: str, variables: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_grant_through_one_hub_counts_in_the_other(
    hubs: tuple[Settings, str, str],
    graph: Graph,
    chain: Chain,  # noqa: F811
) -> None:
    settings, hub_a, hub_b = hubs
    farm = open_issuer(settings).mint(subject="farm-app", firm_id="farm", roles=[Role.VIEWER])
    plant = open_issuer(settings).mint(subject="plant-admin", firm_id="plant", roles=[Role.ADMIN])
    before = post(hub_b, farm, DOWN, {"id": chain.soy}).json()
    assert before == {"data": {"trace": {"summary": {"redactedCount": 1}}}}
    assert "errors" not in post(hub_a, plant, GRANT).json()
    after = post(hub_b, farm, DOWN, {"id": chain.soy}).json()
    assert after == {"data": {"trace": {"summary": {"redactedCount": 0}}}}


async def test_a_firms_rate_holds_for_both_hubs(hubs: tuple[Settings, str, str], graph: Graph) -> None:
    settings, hub_a, hub_b = hubs
    await parties.upsert_firms(graph, [FirmRecord(id="busy", name="Busy firm", roles=["PLANT"])])
    tokens = [open_issuer(settings).mint(subject=f"app-{n}", firm_id="busy", roles=[Role.VIEWER]) for n in range(10)]
    into_window = time.time() % WINDOW
    if into_window > WINDOW / 2:  # early in a window, so the counts do not start afresh halfway
        await asyncio.sleep(WINDOW - into_window)
    first = [post(hub_a, token, "{ me { firmId } }").status_code for token in tokens[:5]]
    await asyncio.sleep(0.8)
    second = [post(hub_b, token, "{ me { firmId } }").status_code for token in tokens[5:]]
    assert (first, second) == ([200] * 5, [429] * 5)  # 0.01 x 30 s + 5 = 5.3 for both together


@pytest.fixture
async def member_firm(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Tofu Maker", roles=["PLANT"])])


def test_wrong_secrets_on_both_hubs_add_up(
    hubs: tuple[Settings, str, str],
    member_firm: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, hub_a, hub_b = hubs
    monkeypatch.setenv("HUB_SQL_URL", str(settings.sql_url))  # the CLI writes the client where the hubs read it
    client = create_client(settings, monkeypatch, capsys, "--role", "viewer")
    wrong = Client(client_id=client.client_id, secret="guess", output="")
    assert [request_token(base, wrong).status_code for base in (hub_a, hub_b, hub_a, hub_b)] == [401] * 4
    assert [request_token(base, client).status_code for base in (hub_a, hub_b)] == [429, 429]


async def test_only_capture_jobs_of_a_silent_process_are_declared_interrupted(postgres: str) -> None:
    engine = create_sql_engine(postgres)
    try:
        for job_id, owner in (("pg-alive", "host-a:1"), ("pg-dead", "host-b:2")):
            await capture_jobs.start_job(
                engine, job_id=job_id, firm_id="plant", subject="s", error_behaviour="rollback", owner=owner
            )
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE epcis_capture_job SET heartbeat_at = :at WHERE id = 'pg-dead'"),
                {"at": datetime.now(UTC) - timedelta(minutes=2)},
            )
        assert await capture_jobs.heartbeat(engine, "host-a:1") == 1
        assert await capture_jobs.interrupt_stale_jobs(engine, stale_after=timedelta(seconds=60)) == 1
        alive = await capture_jobs.get_job(engine, "pg-alive", firm_id="plant")
        dead = await capture_jobs.get_job(engine, "pg-dead", firm_id="plant")
        assert alive is not None
        assert dead is not None
        assert (alive.running, dead.running, dead.success) == (True, False, False)
    finally:
        engine.dispose()
