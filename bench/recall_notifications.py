"""Recall notifications: a recall reaching 10,000 lots at 200 firms, every firm told by websocket and webhook.

Firms of the benchmark's own (created through the project's write functions, removed at the end): a plant
commissions one raw lot and makes ``--lots`` lots from it in transformations of 500; each made lot is shipped
to one of ``--firms - 1`` receiving firms. Each of the ``--firms`` firms holds affected lots, registers a
webhook to a receiver on a loopback port (which checks every signature) and opens a websocket subscribed to
``recallDeclared``. For ``--runs`` rounds the plant's coordinator declares a recall of the raw lot over HTTP;
the time from ``declareRecall`` returning to the last webhook delivered and to the last subscription message
is measured (target: within 2 s), then the recall is closed and its RECALL_CLOSED deliveries drained.
Baseline, measured in the same run: the bare Cypher of the same reach (every lot downstream and upstream of
the raw lot, and the firms holding them) through the driver. Writes bench/results/recall_notifications.json.
Needs a running Neo4j (the hub's settings, e.g. HUB_NEO4J_URI and HUB_NEO4J_PASSWORD); no seed needed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import httpx
from neo4j import RoutingControl
from websockets.asyncio.client import ClientConnection, connect

from auth.principal import Role
from bench.common import free_port, open_driver, remove_firm, serve, write_result
from graph_schema import lots as lot_writes
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.identifiers import gs1_check_digit, lgtin_for
from graph_schema.records import (
    FirmRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)
from hub.app import open_issuer
from hub.settings import Settings

REGISTER: Final = (
    "mutation($u: String!) { registerWebhook(input: {url: $u, events: [RECALL_DECLARED, RECALL_CLOSED]}) { secret } }"
)
DECLARE: Final = (
    'mutation($l: [ID!]!) { declareRecall(input: {lotIds: $l, reason: "bench", recallClass: I})'
    " { id affectedLotCount } }"
)
PLANT: Final = "bench-rn-plant"
PREFIX: Final = "9950002"  # a company prefix no seed hands out
OUTPUTS_PER_TRANSFORMATION: Final = 500
BATCH: Final = 2000

# The same reach as the recall's: every lot downstream and upstream of the raw lot, and the firms holding them
REACH: Final = """
MATCH (o:Lot {id: $lot})
CALL (o) {
  RETURN o AS l
  UNION
  MATCH p = ANY SHORTEST (o)-[:CONSUMED_BY|PRODUCED]->{2,100}(l:Lot)
  RETURN l
  UNION
  MATCH p = ANY SHORTEST (o)<-[:CONSUMED_BY|PRODUCED]-{2,100}(l:Lot)
  RETURN l
}
CALL (l) {
  RETURN l.ownerFirmId AS firm
  UNION
  MATCH (l)<-[:CARRIES]-(sh:Shipment)
  RETURN sh.toFirmId AS firm
}
RETURN count(DISTINCT l) AS lots, count(DISTINCT firm) AS firms
"""


def _gln(n: int) -> str:
    body = f"{PREFIX}{n:05d}"
    return body + str(gs1_check_digit(body))


def _gtin(n: int) -> str:
    body = f"0{PREFIX}{n:05d}"
    return body + str(gs1_check_digit(body))


def receiver_firm(n: int) -> str:
    return f"bench-rn-{n:03d}"


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


async def build(graph: Graph, *, lots: int, firms: int) -> str:
    """The plant, the receiving firms, the lots and shipments; returns the raw lot's id."""
    receivers = [receiver_firm(n) for n in range(firms - 1)]
    await parties.upsert_firms(
        graph,
        [FirmRecord(id=PLANT, name="Recall notification plant", roles=["PLANT"])]
        + [FirmRecord(id=f, name=f"Recall notification receiver {f}", roles=["DISTRIBUTOR"]) for f in receivers],
    )
    sites = {PLANT: _gln(0), **{f: _gln(n + 1) for n, f in enumerate(receivers)}}
    await parties.upsert_sites(
        graph, [SiteRecord(gln=g, firm_id=f, name=f"Site of {f}", kind="WAREHOUSE") for f, g in sites.items()]
    )
    raw_gtin, made_gtin = _gtin(1), _gtin(2)
    await parties.upsert_products(
        graph,
        [
            ProductRecord(gtin=raw_gtin, owner_firm_id=PLANT, name="Bench soybeans", category="bench", uom="kg"),
            ProductRecord(gtin=made_gtin, owner_firm_id=PLANT, name="Bench tofu", category="bench", uom="kg"),
        ],
    )
    start = datetime(2026, 11, 1, 8, tzinfo=UTC)
    raw = lgtin_for(raw_gtin, "RNRAW")
    made = [lgtin_for(made_gtin, f"RN{i}") for i in range(lots)]
    records = [
        LotRecord(id=raw, owner_firm_id=PLANT, site_gln=sites[PLANT], quantity=lots * 1.0, uom="kg", produced_at=start)
    ]
    records += [
        LotRecord(id=lot, owner_firm_id=PLANT, site_gln=sites[PLANT], quantity=2.0, uom="kg", produced_at=start)
        for lot in made
    ]
    for part in _batches(records):
        await lot_writes.record_lots(graph, part)
    groups = [made[i : i + OUTPUTS_PER_TRANSFORMATION] for i in range(0, lots, OUTPUTS_PER_TRANSFORMATION)]
    steps = [
        TransformationRecord(
            id=f"{PLANT}-t{t}",
            firm_id=PLANT,
            site_gln=sites[PLANT],
            occurred_at=start + timedelta(hours=1),
            inputs=[LotQuantity(lot_id=raw, quantity=1.0, uom="kg")],
            outputs=[LotQuantity(lot_id=lot, quantity=2.0, uom="kg") for lot in group],
        )
        for t, group in enumerate(groups)
    ]
    await lot_writes.record_transformations(graph, steps)
    shipments = [
        ShipmentRecord(
            id=f"{PLANT}-s{n}",
            from_gln=sites[PLANT],
            to_gln=sites[f],
            shipped_at=start + timedelta(hours=3),
            items=[LotQuantity(lot_id=lot, quantity=2.0, uom="kg") for lot in made[n :: len(receivers)]],
        )
        for n, f in enumerate(receivers)
    ]
    await lot_writes.record_shipments(graph, shipments, shipper_firm_id=PLANT)
    return raw


async def clean_up(graph: Graph, *, firms: int) -> None:
    async with graph.driver.session(database=graph.database) as session:
        await (
            await session.run("MATCH (r:Recall {coordinatorFirmId: $firm}) DETACH DELETE r", {"firm": PLANT})
        ).consume()
    for firm in [PLANT, *(receiver_firm(n) for n in range(firms - 1))]:
        await remove_firm(graph, firm)


@dataclass
class Receiver:
    """Webhook receiver on a loopback port: checks signatures, notes when each delivery arrived."""

    secrets: dict[str, str] = field(default_factory=dict)  # path -> secret
    arrivals: list[tuple[float, str, str]] = field(default_factory=list)  # (time, path, event)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, port: int) -> ThreadingHTTPServer:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                secret = state.secrets.get(self.path, "")
                expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                with state.lock:
                    if not hmac.compare_digest(expected, self.headers.get("Hub-Signature", "")):
                        state.bad_signatures += 1
                    state.arrivals.append((time.perf_counter(), self.path, json.loads(body)["event"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 drops connections a fan-out opens at once

        server = Server(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    async def wait_for(self, event: str, count: int, *, seconds: float) -> None:
        """Until ``count`` deliveries of ``event`` have arrived, or ``seconds`` have passed."""
        for _ in range(int(seconds / 0.01)):
            if self.count(event) >= count:
                return
            await asyncio.sleep(0.01)

    def count(self, event: str) -> int:
        with self.lock:
            return sum(1 for _, _, e in self.arrivals if e == event)


async def graphql(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers={"Authorization": f"Bearer {token}"}
    )
    answer = response.json()
    if "errors" in answer:
        raise RuntimeError(f"{query[:60]}: {answer['errors']}")
    return answer["data"]


async def subscribe(url: str, token: str) -> ClientConnection:
    ws = await connect(
        url.replace("http://", "ws://") + "/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_size=None,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    if json.loads(await ws.recv())["type"] != "connection_ack":
        raise RuntimeError("websocket not acknowledged")
    await ws.send(
        json.dumps({"id": "r", "type": "subscribe", "payload": {"query": "subscription { recallDeclared { id } }"}})
    )
    return ws


async def first_message(ws: ClientConnection, recall_id: str) -> float:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] != "next":
            raise RuntimeError(f"subscription answered {message}")
        if message["payload"]["data"]["recallDeclared"]["id"] == recall_id:
            return time.perf_counter()


async def run(settings: Settings, *, lots: int, firms: int, runs: int) -> dict[str, Any]:
    receiver = Receiver()
    hook_port = free_port()
    server = receiver.serve(hook_port)
    issuer = open_issuer(settings)
    all_firms = [PLANT, *(receiver_firm(n) for n in range(firms - 1))]
    async with open_driver(settings) as driver:
        graph = Graph(driver, database=settings.neo4j_database)
        await clean_up(graph, firms=firms)
        raw = await build(graph, lots=lots, firms=firms)
        try:
            with serve(settings) as url:
                async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                    for firm in all_firms:
                        admin = issuer.mint(subject="bench", firm_id=firm, roles=[Role.ADMIN])
                        hook = await graphql(
                            http,
                            admin,
                            REGISTER,
                            {"u": f"http://127.0.0.1:{hook_port}/{firm}"},
                        )
                        receiver.secrets[f"/{firm}"] = hook["registerWebhook"]["secret"]
                    sockets = [
                        await subscribe(url, issuer.mint(subject="bench", firm_id=f, roles=[Role.VIEWER]))
                        for f in all_firms
                    ]
                    await asyncio.sleep(0.5)
                    coordinator = issuer.mint(subject="bench", firm_id=PLANT, roles=[Role.RECALL_COORDINATOR])
                    rounds: list[dict[str, float]] = []
                    raw_times: list[float] = []
                    reach: dict[str, int] = {}
                    for _ in range(runs):
                        for _ in range(3):  # the bare Cypher of the same reach, beside each round
                            started = time.perf_counter()
                            records, _, _ = await driver.execute_query(
                                REACH, {"lot": raw}, database_=settings.neo4j_database, routing_=RoutingControl.READ
                            )
                            raw_times.append(time.perf_counter() - started)
                            reach = {"lots": records[0]["lots"], "firms": records[0]["firms"]}
                        declared_before = receiver.count("RECALL_DECLARED")
                        started = time.perf_counter()
                        data = await graphql(
                            http,
                            coordinator,
                            DECLARE,
                            {"l": [raw]},
                        )
                        returned = time.perf_counter()
                        recall_id = data["declareRecall"]["id"]
                        waits = [asyncio.create_task(first_message(ws, recall_id)) for ws in sockets]
                        await receiver.wait_for("RECALL_DECLARED", declared_before + firms, seconds=60)
                        with receiver.lock:
                            hook_times = [t for t, _, e in receiver.arrivals if e == "RECALL_DECLARED"][
                                declared_before:
                            ]
                        ws_times = await asyncio.wait_for(asyncio.gather(*waits), timeout=60)
                        if len(hook_times) != firms:
                            raise RuntimeError(f"{len(hook_times)} of {firms} webhooks delivered within 60 s")
                        rounds.append(
                            {
                                "declare_ms": (returned - started) * 1000,
                                "webhooks_all_ms": (max(hook_times) - returned) * 1000,
                                "subscriptions_all_ms": (max(ws_times) - returned) * 1000,
                                "affected": data["declareRecall"]["affectedLotCount"],
                            }
                        )
                        closed_before = receiver.count("RECALL_CLOSED")
                        await graphql(
                            http, coordinator, "mutation($id: ID!) { closeRecall(id: $id) { id } }", {"id": recall_id}
                        )
                        await receiver.wait_for("RECALL_CLOSED", closed_before + firms, seconds=60)
                    for ws in sockets:
                        await ws.close()
        finally:
            server.shutdown()
            await clean_up(graph, firms=firms)
    notified = [max(r["webhooks_all_ms"], r["subscriptions_all_ms"]) for r in rounds]
    raw_ms = statistics.median(raw_times) * 1000
    return {
        "lots": lots,
        "firms": firms,
        "reach": reach,
        "rounds": rounds,
        "bad_signatures": receiver.bad_signatures,
        "notified_all_median_ms": round(statistics.median(notified), 1),
        "bare_reach_cypher_median_ms": round(raw_ms, 1),
        "ratio_notified_to_bare_reach": round(statistics.median(notified) / raw_ms, 2),
        "target_ms": 2000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=10_000)
    parser.add_argument("--firms", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(state_dir=Path(state), port=free_port(), notifications_poll_seconds=0.25)
        figures = asyncio.run(run(settings, lots=args.lots, firms=args.firms, runs=args.runs))
    path = write_result("recall_notifications", figures)
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
