"""Neo4j frozen, killed and restarted under a hub serving real HTTP: clear 503s in seconds, no write lost or doubled.

These tests start a Neo4j of their own on a free port (never the session's, which other tests use) and freeze it
with SIGSTOP, kill it with SIGKILL and start it again on the same store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from neo4j import AsyncGraphDatabase

from auth.principal import Role
from graph_schema import parties
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import ProductRecord
from hub.app import create_app, open_issuer
from hub.neo4j_local import NEO4J_VERSION, LocalNeo4j, LocalNeo4jConfig
from hub.server import free_port, serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import CONTEXT, sgln
from tests.factories import gtin, register_firms

pytestmark = pytest.mark.neo4j

ROOT = Path(__file__).resolve().parents[2]
LOTS = "query { lots(first: 5) { totalCount } }"
RECORD_LOTS = "mutation($in: [LotInput!]!) { recordLots(input: $in) { id quantity } }"


@pytest.fixture(scope="module")
def own_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNeo4j]:
    server = LocalNeo4j(
        LocalNeo4jConfig(
            home=tmp_path_factory.mktemp("faults") / "neo4j",
            bolt_port=free_port(),
            heap="512m",
            pagecache="128m",
            jar_cache=ROOT / ".local" / f"neo4j-lib-{NEO4J_VERSION}",
        )
    )
    server.start()
    try:
        yield server
    finally:
        os.kill(_pid(server), signal.SIGCONT)  # a failed test must not leave it frozen for stop()
        server.stop()


def _pid(server: LocalNeo4j) -> int:
    pid = server.status().pid
    assert pid is not None
    return pid


@pytest.fixture(scope="module")
async def own_graph(own_neo4j: LocalNeo4j) -> AsyncIterator[Graph]:
    auth = (own_neo4j.user, own_neo4j.password)
    async with AsyncGraphDatabase.driver(own_neo4j.uri, auth=auth, notifications_min_severity="OFF") as driver:
        graph = Graph(driver)
        await apply_schema(graph)
        yield graph


@pytest.fixture(scope="module")
async def farm(own_graph: Graph) -> dict[str, str]:
    sites = await register_firms(own_graph, ["farm"])
    product = gtin()
    await parties.upsert_products(
        own_graph,
        [ProductRecord(gtin=product, owner_firm_id="farm", name="Soybean", category="raw", uom="kg")],
    )
    return {"site": sites["farm"], "gtin": product}


@pytest.fixture(scope="module")
def settings(own_neo4j: LocalNeo4j, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(
        (own_neo4j.uri, own_neo4j.user, own_neo4j.password),
        tmp_path_factory.mktemp("state"),
        decision_cache_seconds=0,
        # the writers retry as fast as a careful client would: the load is the point here, not the rate limit
        rate_limit_client_per_second=1000,
        rate_limit_client_burst=10_000,
    )


@pytest.fixture(scope="module")
def base_url(settings: Settings, farm: dict[str, str]) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def bearer(settings: Settings) -> dict[str, str]:
    token = open_issuer(settings).mint(subject="app@farm", firm_id="farm", roles=(Role.EDITOR,))
    return {"Authorization": f"Bearer {token}"}


def wait_ready(base_url: str, *, seconds: float) -> float:
    """Seconds until /readyz says ready (fails after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/readyz did not say ready within {seconds} s")


def commissioning(farm: dict[str, str], lot: str) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "eventTime": "2026-09-05T06:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": sgln(farm["site"])},
        "bizLocation": {"id": sgln(farm["site"])},
        "quantityList": [{"epcClass": lgtin_for(farm["gtin"], lot), "quantity": 500, "uom": "KGM"}],
    }


def test_the_local_neo4j_store_is_for_its_user_only(own_neo4j: LocalNeo4j) -> None:
    home = own_neo4j.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    made = [path for path in (home / "data").rglob("*") if path.is_file()]
    assert len(made) > 10  # the system and neo4j databases and their transaction logs
    assert {oct(stat.S_IMODE(path.stat().st_mode) & 0o077) for path in made} == {"0o0"}
    assert stat.S_IMODE((home / "password").stat().st_mode) == 0o600


def test_a_frozen_neo4j_gets_503_unavailable_within_seconds_on_every_route_then_recovers(
    own_neo4j: LocalNeo4j, settings: Settings, base_url: str, farm: dict[str, str]
) -> None:
    headers = bearer(settings)
    wait_ready(base_url, seconds=60)
    assert httpx.post(f"{base_url}/graphql", json={"query": LOTS}, headers=headers, timeout=30).status_code == 200
    probes: dict[str, Any] = {
        "readyz": lambda c: c.get(f"{base_url}/readyz"),
        "graphql": lambda c: c.post(f"{base_url}/graphql", json={"query": LOTS}, headers=headers),
        "epcis query": lambda c: c.get(f"{base_url}/epcis/events", headers=headers),
        "epcis capture": lambda c: c.post(
            f"{base_url}/epcis/events", content=orjson.dumps(commissioning(farm, "FROZEN-1")), headers=headers
        ),
    }
    os.kill(_pid(own_neo4j), signal.SIGSTOP)
    try:
        frozen_at = time.monotonic()
        answers: dict[str, tuple[float, httpx.Response]] = {}
        with httpx.Client(timeout=20) as client:
            # every route at once, as callers would come: none may wait for Neo4j to thaw
            def ask(name: str) -> None:
                response = probes[name](client)
                answers[name] = (time.monotonic(), response)

            threads = [threading.Thread(target=ask, args=(name,)) for name in probes]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            # a second round, once the watchdog has tripped: answered at once
            again_at = time.monotonic()
            again = {name: probe(client) for name, probe in probes.items()}
            again_seconds = time.monotonic() - again_at
    finally:
        os.kill(_pid(own_neo4j), signal.SIGCONT)
    thawed_at = time.monotonic()
    for name, (answered_at, response) in answers.items():
        assert response.status_code == 503, (name, response.text)
        print(f"frozen Neo4j: {name} answered 503 after {answered_at - frozen_at:.2f} s")
    graphql = answers["graphql"][1].json()
    assert graphql["errors"][0]["extensions"] == {"code": "UNAVAILABLE", "store": "neo4j"}
    assert answers["readyz"][1].json()["down"]["neo4j"]
    assert answers["epcis query"][1].json()["code"] == "UNAVAILABLE"
    assert answers["epcis capture"][1].json()["store"] == "neo4j"
    assert {name: r.status_code for name, r in again.items()} == dict.fromkeys(probes, 503)
    print(f"frozen Neo4j: the second round of 4 requests took {again_seconds:.2f} s")

    recovered = wait_ready(base_url, seconds=60)
    print(f"thawed Neo4j: ready again after {time.monotonic() - thawed_at:.2f} s ({recovered:.2f} s of polling)")
    after = httpx.post(f"{base_url}/graphql", json={"query": LOTS}, headers=headers, timeout=30)
    assert after.status_code == 200, after.text
    assert "errors" not in after.json()


async def test_writes_acknowledged_while_neo4j_is_killed_and_restarted_are_all_there_once(
    own_neo4j: LocalNeo4j, own_graph: Graph, settings: Settings, base_url: str, farm: dict[str, str]
) -> None:
    headers = bearer(settings)
    wait_ready(base_url, seconds=60)
    per_writer, run = 40, uuid.uuid4().hex[:6]
    acknowledged: dict[str, list[str]] = {"events": [], "lots": []}
    attempts = {"events": 0, "lots": 0}
    lock = threading.Lock()
    give_up = time.monotonic() + 240
    twenty_written = threading.Event()

    def until_acknowledged(kind: str, key: str, send: Any) -> None:
        # what a careful client does: the same request (same ids) again until the hub says it is written
        while time.monotonic() < give_up:
            with lock:
                attempts[kind] += 1
            try:
                if send():
                    with lock:
                        acknowledged[kind].append(key)
                        if len(acknowledged["events"]) + len(acknowledged["lots"]) >= 20:
                            twenty_written.set()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    def capture_events() -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(per_writer):
                event = commissioning(farm, f"K{run}-E{i}")

                def send(event: dict[str, Any] = event) -> bool:
                    answer = client.post(f"{base_url}/epcis/events", content=orjson.dumps(event), headers=headers)
                    assert answer.status_code in (201, 503), answer.text
                    return answer.status_code == 201

                until_acknowledged("events", event["eventID"], send)

    def record_lots() -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(per_writer):
                lot: dict[str, Any] = {
                    "id": lgtin_for(farm["gtin"], f"K{run}-L{i}"),
                    "siteGln": farm["site"],
                    "quantity": 20.0,
                    "uom": "kg",
                    "producedAt": "2026-09-02T06:00:00+09:00",
                }

                def send(lot: dict[str, Any] = lot) -> bool:
                    answer = client.post(
                        f"{base_url}/graphql", json={"query": RECORD_LOTS, "variables": {"in": [lot]}}, headers=headers
                    )
                    body = answer.json()
                    if body.get("errors"):
                        assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE", body
                        return False
                    return bool(body["data"]["recordLots"][0]["id"] == lot["id"])

                until_acknowledged("lots", lot["id"], send)

    writers = [threading.Thread(target=capture_events), threading.Thread(target=record_lots)]
    for writer in writers:
        writer.start()
    assert await asyncio.to_thread(twenty_written.wait, 120)
    os.kill(_pid(own_neo4j), signal.SIGKILL)
    killed_with = dict(acknowledged.items()) | {"counts": [len(acknowledged["events"]), len(acknowledged["lots"])]}
    await asyncio.sleep(1.0)
    restart_started = time.monotonic()
    await asyncio.to_thread(own_neo4j.start)
    restart_seconds = time.monotonic() - restart_started
    for writer in writers:
        await asyncio.to_thread(writer.join)

    events, lots = acknowledged["events"], acknowledged["lots"]
    found_events = await own_graph.read(
        "UNWIND $ids AS id OPTIONAL MATCH (e:EpcisEvent {eventId: id}) RETURN id, count(e) AS n", {"ids": events}
    )
    found_lots = await own_graph.read(
        "UNWIND $ids AS id OPTIONAL MATCH (l:Lot {id: id}) RETURN id, count(l) AS n, sum(l.quantity) AS quantity",
        {"ids": lots},
    )
    all_run_lots = await own_graph.read(
        "MATCH (l:Lot) WHERE l.id CONTAINS $run RETURN count(l) AS n, count(DISTINCT l.id) AS ids", {"run": run}
    )
    print(
        f"SIGKILL under writes: {killed_with['counts']} (events, lots) acknowledged before the kill; Neo4j back in"
        f" {restart_seconds:.1f} s; attempts {attempts}; acknowledged {len(events)} events and {len(lots)} lots;"
        f" found {sum(r['n'] > 0 for r in found_events)} events and {sum(r['n'] > 0 for r in found_lots)} lots;"
        f" duplicated {sum(r['n'] > 1 for r in found_events) + sum(r['n'] > 1 for r in found_lots)}"
    )
    assert len(events) == len(lots) == per_writer, "every write is acknowledged in the end"
    assert attempts["events"] + attempts["lots"] > 2 * per_writer, "the kill made some writes fail and be retried"
    assert all(row["n"] == 1 for row in found_events), [r for r in found_events if r["n"] != 1]
    assert all(row["n"] == 1 and row["quantity"] == 20.0 for row in found_lots), [r for r in found_lots if r["n"] != 1]
    # each commissioning event made its lot once (500 kg), whatever the retries
    assert all_run_lots == [{"n": 2 * per_writer, "ids": 2 * per_writer}]
