"""From a CCP reading posted to the alert on a subscribed websocket: p50 and p99 (target: p99 under 250 ms).

One hub in this process (the app factory ``hub serve`` uses) over real HTTP; the plant's viewer subscribes to
``deviationOpened`` over graphql-transport-ws; each round posts three readings of a heating CCP (in limits, out,
in again: one new OUT_OF_LIMITS deviation) to ``POST /haccp/readings`` and times until the alert arrives.
Baseline, same run, alternating with the rounds: the same post of three readings within limits (no deviation),
timed to its answer. The ratio says what the deviation check, the outbox and the fan-out add to a post.

    HUB_NEO4J_URI=... HUB_NEO4J_PASSWORD=... python -m bench.deviation_alert [--rounds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from websockets.asyncio.client import connect

from auth.principal import Role
from bench.common import free_port, open_driver, remove_firm, serve, write_result
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.haccp import ccps
from graph_schema.records import CcpRecord, FirmRecord, SiteRecord
from hub.app import open_issuer
from hub.settings import Settings

FIRM: Final = "bench-alert"
SITE: Final = "8809999000020"
SUBSCRIBE: Final = "subscription($site: String) { deviationOpened(siteGln: $site) { id worstValue } }"
CCP: Final = CcpRecord(
    id=f"{SITE}-CCP-1B",
    site_gln=SITE,
    code="CCP-1B",
    name="Pasteuriser (benchmark)",
    limit_low=72.0,
    limit_high=90.0,
    unit="°C",
    devices=["bench-alert-tt"],
)


async def _register(graph: Graph) -> None:
    await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="Alert benchmark plant", roles=["PLANT"])])
    await parties.upsert_sites(graph, [SiteRecord(gln=SITE, firm_id=FIRM, name="Alert benchmark", kind="PLANT")])
    await ccps.register_ccp(graph, CCP, firm_id=FIRM)


def _readings(start: datetime, round_: int, values: tuple[float, ...]) -> list[dict[str, Any]]:
    base = start + timedelta(seconds=10 * round_)
    return [
        {"ccpId": CCP.id, "deviceId": CCP.devices[0], "at": (base + timedelta(seconds=i)).isoformat(), "value": v,
         "unit": "°C"}
        for i, v in enumerate(values)
    ]  # fmt: skip


def _percentile(samples: list[float], q: int) -> float:
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000, 1)


async def measure(url: str, *, device: str, viewer: str, rounds: int) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=2)
    alert: list[float] = []
    post_only: list[float] = []
    headers = {"Authorization": f"Bearer {device}", "Content-Type": "application/json"}
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        connect(url.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws,  # type: ignore[list-item]
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {viewer}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"site": SITE}}
        await ws.send(json.dumps({"id": "alerts", "type": "subscribe", "payload": payload}))
        await asyncio.sleep(0.5)
        for round_ in range(2 * rounds + 4):  # even rounds: an excursion; odd: readings within limits
            excursion = round_ % 2 == 0
            body = json.dumps(_readings(start, round_, (80.0, 95.0 if excursion else 81.0, 80.0)))
            began = time.perf_counter()
            answer = await http.post("/haccp/readings", content=body, headers=headers)
            answered = time.perf_counter()
            assert answer.status_code == 200, answer.text
            if excursion:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                assert message["type"] == "next", message
                if round_ >= 4:  # the first rounds warm up
                    alert.append(time.perf_counter() - began)
            elif round_ >= 4:
                post_only.append(answered - began)
    return {
        "rounds": rounds,
        "alert_p50_ms": _percentile(alert, 50),
        "alert_p99_ms": _percentile(alert, 99),
        "alert_max_ms": round(max(alert) * 1000, 1),
        "post_p50_ms": _percentile(post_only, 50),
        "post_p99_ms": _percentile(post_only, 99),
        "ratio_p50": round(statistics.median(alert) / statistics.median(post_only), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    rounds = max(10, min(args.rounds, 1000))  # bounded: a run stops by itself
    base = Settings()
    with tempfile.TemporaryDirectory(prefix="bench-alert-") as folder:
        settings = base.model_copy(
            update={"state_dir": Path(folder), "port": free_port(), "sql_url": None, "haccp_sweep_seconds": 0}
        )

        async def prepare() -> None:
            driver = open_driver(settings)
            try:
                graph = Graph(driver, database=settings.neo4j_database)
                await remove_firm(graph, FIRM)
                await _register(graph)
            finally:
                await driver.close()

        async def clean() -> None:
            driver = open_driver(settings)
            try:
                await remove_firm(Graph(driver, database=settings.neo4j_database), FIRM)
            finally:
                await driver.close()

        asyncio.run(prepare())
        try:
            issuer = open_issuer(settings)
            device = issuer.mint(subject="bench-gw", firm_id=FIRM, roles=[Role.DEVICE])
            viewer = issuer.mint(subject="bench-viewer", firm_id=FIRM, roles=[Role.VIEWER])
            with serve(settings) as url:
                figures = asyncio.run(measure(url, device=device, viewer=viewer, rounds=rounds))
        finally:
            asyncio.run(clean())
    figures["load_average"] = os.getloadavg()
    print(
        f"alert p50 {figures['alert_p50_ms']} ms, p99 {figures['alert_p99_ms']} ms; "
        f"post alone p50 {figures['post_p50_ms']} ms ({figures['ratio_p50']}x)"
    )
    print(write_result("deviation_alert", figures))


if __name__ == "__main__":
    main()
