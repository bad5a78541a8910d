"""POST /haccp/readings over real HTTP with real tokens: a gateway's readings in, all or nothing."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import orjson
import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.engine import Engine

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.haccp import ccps
from graph_schema.haccp.chain import GENESIS, link
from graph_schema.haccp.ingest import CHAINS, READINGS, SEALS
from graph_schema.haccp.readings import KST
from graph_schema.records import CcpRecord
from hub import haccp_simulator as simulator
from hub.app import create_app, open_issuer
from hub.cli import main as cli_main
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.epcis_chain import sgln
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

NOW = datetime.now(UTC).replace(microsecond=0)
HEAT02 = "urn:epc:id:giai:8800000.HEAT02"  # EPCIS names devices by URI


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"), max_readings_body_mb=1)


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture(scope="module")
def sql(settings: Settings, base_url: str) -> Iterator[Engine]:
    engine = create_engine(settings.database_url)
    yield engine
    engine.dispose()


@dataclass
class Plant:
    heating: str  # CCP ids
    metal: str
    rival: str
    tokens: dict[str, str]


@pytest.fixture
async def plant(graph: Graph, settings: Settings, sql: Engine) -> Plant:
    with sql.begin() as conn:
        for table in (READINGS, CHAINS, SEALS):
            conn.execute(delete(table))
    sites = await register_firms(graph, ["plant", "rival"])
    heating = CcpRecord(
        id=f"{sites['plant']}-CCP-1B", site_gln=sites["plant"], code="CCP-1B", name="Heating", limit_low=85.0,
        limit_high=100.0, unit="°C", devices=["tt-1", "tt-2", HEAT02], monitoring_interval_seconds=10,
    )  # fmt: skip
    metal = CcpRecord(
        id=f"{sites['plant']}-CCP-2P", site_gln=sites["plant"], code="CCP-2P", name="Metal detection",
        limit_high=0.0, unit="fail", devices=["md-1"],
    )  # fmt: skip
    rival = CcpRecord(
        id=f"{sites['rival']}-CCP-1B", site_gln=sites["rival"], code="CCP-1B", name="Heating", limit_low=85.0,
        unit="°C", devices=["rival-tt"],
    )  # fmt: skip
    for record, firm in ((heating, "plant"), (metal, "plant"), (rival, "rival")):
        await ccps.register_ccp(graph, record, firm_id=firm)
    issuer = open_issuer(settings)
    tokens = {
        role: issuer.mint(subject=f"plant-{role}", firm_id="plant", roles=[Role(role)])
        for role in ("device", "editor", "viewer")
    }
    tokens["rival-device"] = issuer.mint(subject="rival-gw", firm_id="rival", roles=[Role.DEVICE])
    return Plant(heating.id, metal.id, rival.id, tokens)


def at(seconds: float) -> str:
    return (NOW - timedelta(hours=1) + timedelta(seconds=seconds)).isoformat()


def heating_readings(plant: Plant, count: int, *, device: str = "tt-1", start: int = 0) -> list[dict[str, Any]]:
    return [
        {"ccpId": plant.heating, "deviceId": device, "at": at(start + i), "value": 90.0 + (i % 7) / 10, "unit": "°C"}
        for i in range(count)
    ]


def post(base_url: str, token: str, body: Any, *, ndjson: bool = False) -> httpx.Response:
    if ndjson:
        content = b"\n".join(orjson.dumps(item) for item in body) + b"\n"
        headers = {"Content-Type": "application/x-ndjson"}
    else:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        headers = {"Content-Type": "application/json"}
    return httpx.post(
        f"{base_url}/haccp/readings",
        content=content,
        headers={**headers, "Authorization": f"Bearer {token}"},
        timeout=30.0,  # a fresh hub's first batch on a busy shared machine may pass httpx's 5 s default
    )


def stored(sql: Engine) -> int:
    with sql.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(READINGS)).scalar_one())


def test_a_gateway_posts_readings_and_posting_them_again_changes_nothing(
    base_url: str, plant: Plant, sql: Engine
) -> None:
    readings = heating_readings(plant, 500) + [
        {"ccpId": plant.metal, "deviceId": "md-1", "at": at(i * 60), "value": i % 2, "unit": "fail"} for i in range(10)
    ]
    first = post(base_url, plant.tokens["device"], readings)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 510, "duplicates": 0}
    again = post(base_url, plant.tokens["device"], readings[:300], ndjson=True)
    assert again.json() == {"accepted": 0, "duplicates": 300}
    assert stored(sql) == 510
    with sql.connect() as conn:
        metal = conn.execute(
            select(READINGS.c.value, READINGS.c.in_limits, READINGS.c.limit_high)
            .where(READINGS.c.device_id == "md-1")
            .order_by(READINGS.c.at_ms)
        ).all()
    assert [tuple(row) for row in metal[:2]] == [(0.0, True, 0.0), (1.0, False, 0.0)]


def test_readings_are_chained_per_device_in_arrival_order(base_url: str, plant: Plant, sql: Engine) -> None:
    # the second batch arrives later but was measured earlier (a gateway back from an outage)
    assert post(base_url, plant.tokens["device"], heating_readings(plant, 20, start=100)).status_code == 200
    late = heating_readings(plant, 5, start=0) + heating_readings(plant, 3, device="tt-2")
    assert post(base_url, plant.tokens["editor"], late, ndjson=True).json() == {"accepted": 8, "duplicates": 0}
    with sql.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(READINGS).order_by(READINGS.c.id))]
        heads = {row.device_id: (row.seq, row.hash) for row in conn.execute(select(CHAINS))}
    tt1 = [row for row in rows if row["device_id"] == "tt-1"]
    assert [row["seq"] for row in tt1] == list(range(1, 26))
    assert tt1[20]["at_ms"] < tt1[0]["at_ms"]  # arrival order, not measurement order
    previous = GENESIS
    for row in tt1:
        assert row["prev_hash"] == previous
        assert row["hash"] == link(previous, row)
        previous = row["hash"]
    assert heads["tt-1"] == (25, previous)
    assert heads["tt-2"][0] == 3


def test_a_batch_with_any_bad_reading_is_refused_whole_with_every_problem(
    base_url: str, plant: Plant, sql: Engine
) -> None:
    good = heating_readings(plant, 3)
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    bad: list[Any] = [
        *good,
        {"ccpId": "8800000000000-CCP-9", "deviceId": "tt-1", "at": at(5), "value": 90, "unit": "°C"},  # 3
        {"ccpId": plant.rival, "deviceId": "rival-tt", "at": at(5), "value": 90, "unit": "°C"},  # 4 another firm's
        {"ccpId": plant.heating, "deviceId": "md-1", "at": at(6), "value": 90, "unit": "°C"},  # 5 not its device
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": at(7), "value": 90, "unit": "°F"},  # 6
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": at(8), "value": "90", "unit": "°C"},  # 7
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": at(9), "value": math.nan, "unit": "°C"},  # 8
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": future, "value": 90, "unit": "°C"},  # 9
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": "2026-12-01T09:00:00", "value": 90, "unit": "°C"},  # 10
        {"ccpId": plant.heating, "deviceId": "tt-1", "value": 90, "unit": "°C"},  # 11
        {"ccpId": plant.heating, "deviceId": "tt-1", "at": at(12), "value": True, "unit": "°C", "note": "=1+1"},  # 12
        ["not", "an", "object"],  # 13
    ]
    # Python's json writes NaN, as some gateways do: the reading is named, not the whole document refused
    response = post(base_url, plant.tokens["device"], json.dumps(bad).encode())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "BAD_USER_INPUT"
    assert "nothing was written" in body["detail"]
    assert [(e["index"], e["field"], e["code"]) for e in body["errors"]] == [
        (3, "ccpId", "UNKNOWN_CCP"),
        (4, "ccpId", "UNKNOWN_CCP"),
        (5, "deviceId", "UNKNOWN_DEVICE"),
        (6, "unit", "WRONG_UNIT"),
        (7, "value", "NOT_A_NUMBER"),
        (8, "value", "NOT_A_NUMBER"),
        (9, "at", "IN_THE_FUTURE"),
        (10, "at", "INVALID_TIME"),
        (11, "at", "REQUIRED"),
        (12, "note", "UNKNOWN_FIELD"),
        (13, "", "INVALID_READING"),
    ]
    assert body["errorCount"] == 11
    assert stored(sql) == 0


def test_a_changed_reading_is_refused_and_nothing_of_its_batch_is_written(
    base_url: str, plant: Plant, sql: Engine
) -> None:
    assert post(base_url, plant.tokens["device"], heating_readings(plant, 10)).status_code == 200
    changed = [*heating_readings(plant, 5, start=10), {**heating_readings(plant, 1, start=4)[0], "value": 70.0}]
    response = post(base_url, plant.tokens["device"], changed)
    assert response.status_code == 422
    assert [(e["index"], e["field"], e["code"]) for e in response.json()["errors"]] == [(5, "value", "CONFLICT")]
    assert stored(sql) == 10
    # the same time twice in one batch with two values is refused likewise
    twice = [*heating_readings(plant, 1, start=50), {**heating_readings(plant, 1, start=50)[0], "value": 99.0}]
    assert post(base_url, plant.tokens["device"], twice).json()["errors"][0]["code"] == "CONFLICT"
    assert stored(sql) == 10


def test_who_may_post(base_url: str, plant: Plant, sql: Engine) -> None:
    readings = heating_readings(plant, 2)
    assert post(base_url, plant.tokens["viewer"], readings).status_code == 403
    assert post(base_url, "not-a-token", readings).status_code == 401
    # another firm's gateway cannot post for this plant's CCP, and learns nothing about it
    rival = post(base_url, plant.tokens["rival-device"], readings)
    assert rival.status_code == 422
    assert rival.json()["errors"][0]["code"] == "UNKNOWN_CCP"
    assert stored(sql) == 0


def test_hostile_bodies_get_a_clear_error_and_write_nothing(base_url: str, plant: Plant, sql: Engine) -> None:
    token = plant.tokens["device"]
    huge = post(base_url, token, b"[" + b"1," * 700_000 + b"1]")  # over the 1 MB bound of this hub
    assert huge.status_code == 413
    assert huge.json()["code"] == "PAYLOAD_TOO_LARGE"
    deep = post(base_url, token, b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code == 400
    assert post(base_url, token, b'{"ccpId": 1}').status_code == 400
    broken = post(base_url, token, [*heating_readings(plant, 2)], ndjson=True)
    assert broken.status_code == 200
    bad_line = httpx.post(
        f"{base_url}/haccp/readings",
        content=b'{"ccpId": "x"}\n{oops\n',
        headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"},
    )
    assert bad_line.status_code == 400
    assert "line 2" in bad_line.json()["detail"]
    xml = httpx.post(
        f"{base_url}/haccp/readings",
        content=b"<readings/>",
        headers={"Content-Type": "application/xml", "Authorization": f"Bearer {token}"},
    )
    assert xml.status_code == 415
    assert stored(sql) == 2


def sensor_event(site_gln: str, reports: list[dict[str, Any]], *, device: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"time": at(30)}
    if device is not None:
        metadata["deviceID"] = device
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": at(30),
        "eventTimeZoneOffset": "+09:00",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": {"id": sgln(site_gln)},
        "bizLocation": {"id": sgln(site_gln)},
        "epcList": [],
        "sensorElementList": [{"sensorMetadata": metadata, "sensorReport": reports}],
    }


def test_epcis_sensor_reports_naming_a_ccp_device_or_unit_become_readings(
    base_url: str, plant: Plant, sql: Engine, settings: Settings
) -> None:
    site = plant.heating.removesuffix("-CCP-1B")
    editor = {"Authorization": f"Bearer {plant.tokens['editor']}", "Content-Type": "application/ld+json"}
    by_device = sensor_event(
        site, [{"type": "Temperature", "value": 92.5, "uom": "CEL"}, {"type": "Temperature", "value": 80.0,
        "uom": "CEL", "time": at(31)}], device=HEAT02,
    )  # fmt: skip
    created = httpx.post(f"{base_url}/epcis/events", content=orjson.dumps(by_device), headers=editor)
    assert created.status_code == 201, created.text
    # no device named: the plant's one CCP reading in fail/pass units takes it, under that CCP's device
    by_unit = sensor_event(site, [{"type": "gs1:MT-Count", "booleanValue": True, "uom": "fail", "time": at(32)}])
    assert httpx.post(f"{base_url}/epcis/events", content=orjson.dumps(by_unit), headers=editor).status_code == 201
    with sql.connect() as conn:
        rows = conn.execute(
            select(
                READINGS.c.ccp_id, READINGS.c.device_id, READINGS.c.value, READINGS.c.unit, READINGS.c.in_limits
            ).order_by(READINGS.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (plant.heating, HEAT02, 92.5, "°C", True),
        (plant.heating, HEAT02, 80.0, "°C", False),
        (plant.metal, "md-1", 1.0, "fail", False),
    ]
    # the same event again is a duplicate capture and adds no reading
    assert httpx.post(f"{base_url}/epcis/events", content=orjson.dumps(by_device), headers=editor).status_code == 201
    assert stored(sql) == 3


def test_the_gateway_simulator_streams_readings_with_an_excursion(base_url: str, plant: Plant, sql: Engine) -> None:
    ccps: list[dict[str, Any]] = [
        {"id": plant.heating, "unit": "°C", "devices": ["tt-1"], "limitLow": 85.0, "limitHigh": 100.0},
        {"id": plant.metal, "unit": "fail", "devices": ["md-1"], "limitLow": None, "limitHigh": 0.0},
    ]
    lines: list[str] = []
    totals = simulator.run(
        url=base_url, token=plant.tokens["device"], ccps=ccps, rate=4, duration=3, first_excursion_s=1, say=lines.append
    )
    assert totals["refused"] == 0
    assert totals["excursions"] >= 1
    assert totals["accepted"] == stored(sql) >= 16
    with sql.connect() as conn:
        out = conn.execute(select(func.count()).select_from(READINGS).where(READINGS.c.in_limits.is_(False)))
        assert int(out.scalar_one()) >= 4  # at least one second of an excursion
    with pytest.raises(ValueError, match="this machine only"):
        simulator.run(url="http://192.0.2.1:8000", token="x", ccps=ccps, rate=1, duration=1)


async def test_the_monthly_record_is_a_spreadsheet_of_days_and_seals(
    base_url: str, plant: Plant, sql: Engine, graph: Graph
) -> None:
    site = plant.heating.removesuffix("-CCP-1B")
    hostile = CcpRecord(
        id=f"{site}-CCP-3B", site_gln=site, code="CCP-3B", name="=HYPERLINK(\"http://x\",\"cooling\")",
        limit_high=10.0, unit="°C", devices=["tt-9"],
    )  # fmt: skip
    await ccps.register_ccp(graph, hostile, firm_id="plant")
    readings = heating_readings(plant, 120) + [
        {"ccpId": hostile.id, "deviceId": "tt-9", "at": at(i), "value": 4.0 + 7 * (i % 2), "unit": "°C"}
        for i in range(4)
    ]
    assert post(base_url, plant.tokens["device"], readings).status_code == 200
    month = (NOW - timedelta(hours=1)).astimezone(KST).strftime("%Y-%m")
    editor = {"Authorization": f"Bearer {plant.tokens['editor']}"}
    link = httpx.post(
        f"{base_url}/graphql",
        json={"query": "query($s: String!, $m: String!) { haccpMonthlyRecord(siteGln: $s, month: $m) }",
              "variables": {"s": site, "m": month}},
        headers=editor,
    ).json()  # fmt: skip
    assert link == {"data": {"haccpMonthlyRecord": f"/haccp/records/{site}?month={month}"}}
    answer = httpx.get(f"{base_url}{link['data']['haccpMonthlyRecord']}", headers=editor)
    assert answer.status_code == 200, answer.text
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["CCP 일지 (CCP log)", "이탈 (Deviations)", "일일 봉인 (Day seals)"]
    deviated = list(book["이탈 (Deviations)"].iter_rows(values_only=True))
    # the cooling CCP's excursion, and the heating CCP's silence since its last reading (an interval of 10 s)
    assert {(row[1], row[2], row[3]) for row in deviated[1:]} == {
        ("CCP-3B", "OUT_OF_LIMITS", "OPEN"),
        ("CCP-1B", "MISSED_MONITORING", "OPEN"),
    }
    log = list(book["CCP 일지 (CCP log)"].iter_rows(values_only=True))
    assert log[1][:3] == ("날짜 (Date, KST)", "CCP 코드 (CCP code)", "CCP 이름 (CCP name)")
    rows: dict[Any, tuple[Any, ...]] = {row[12]: row for row in log[2:]}
    days = {row[0] for row in log[2:]}
    if len(days) == 1:  # the readings of the hour before now may straddle a KST midnight
        assert rows[plant.heating][6:12] == (120, 90.0, 90.6, pytest.approx(90.3, abs=0.01), 0, 100.0)
        assert rows[hostile.id][6:12] == (4, 4.0, 11.0, 7.5, 2, 50.0)
    assert rows[hostile.id][2] == '\'=HYPERLINK("http://x","cooling")'  # text, never a formula
    seals = list(book["일일 봉인 (Day seals)"].iter_rows(values_only=True))
    with sql.connect() as conn:
        digest = conn.execute(select(SEALS.c.digest).where(SEALS.c.site_gln == site)).scalar_one()
    assert seals[1][1:3] == (124, digest)
    # the plant sees none of its rival's records; a bad month is named
    viewer_of_rival = httpx.get(
        f"{base_url}/haccp/records/{plant.rival.removesuffix('-CCP-1B')}?month={month}", headers=editor
    )
    assert viewer_of_rival.status_code == 404
    bad = httpx.get(f"{base_url}/haccp/records/{site}?month=2026-13", headers=editor)
    assert (bad.status_code, bad.json()["field"]) == (400, "month")


def test_hub_haccp_simulate_posts_as_the_plants_gateway(
    base_url: str,
    plant: Plant,
    sql: Engine,
    settings: Settings,
    neo4j_server: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uri, user, password = neo4j_server
    for name, value in (
        ("HUB_ENV", "test"), ("HUB_STATE_DIR", str(settings.state_dir)), ("HUB_PORT", str(settings.port)),
        ("HUB_NEO4J_URI", uri), ("HUB_NEO4J_USER", user), ("HUB_NEO4J_PASSWORD", password),
    ):  # fmt: skip
        monkeypatch.setenv(name, value)
    site = plant.heating.removesuffix("-CCP-1B")
    assert cli_main(["haccp", "simulate", "--site", site, "--duration", "2", "--first-excursion", "0"]) == 0
    out = capsys.readouterr().out
    assert "0 refused" in out
    assert stored(sql) >= 2 * 4  # two seconds of the plant's four devices (heating's three, metal detection's one)
    assert cli_main(["haccp", "simulate", "--site", "8800000000000", "--duration", "1"]) == 1
