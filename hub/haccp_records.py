"""The monthly HACCP record of a plant as a spreadsheet: ``GET /haccp/records/{siteGln}?month=YYYY-MM``.

What an inspector asks to see: per CCP and day, how many readings, their min, max and mean, how many were out of
limits and the compliance rate; the deviations whose window overlaps the month, with their corrective actions;
and the plant's day seals (their digests prove later that no reading of the
month was altered). Days of the CCP log are Korea Standard Time (UTC+9, no daylight saving), as the plants
keep them; the seals are per arrival day in UTC, as they are made. Headers are Korean with English. Only CCPs
the caller sees at DETAIL are in it (graph_schema.access.CCP_IN_DETAIL, decided in the CCP's Cypher read).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import anyio
from openpyxl import Workbook
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from auth.backend import PrincipalUser
from auth.decisions import decide_for_request
from graph_schema.db import Graph, Row
from graph_schema.errors import NOT_FOUND, UNAVAILABLE, HubError, InvalidIdentifier
from graph_schema.haccp import ccps, deviations
from graph_schema.haccp.readings import KST, day_seals, hourly_rows, month_range
from graph_schema.identifiers import validate_gln
from graph_schema.spreadsheet_safety import safe_cell
from hub.exports import withheld_unless_logged
from hub.graphql_app import unauthenticated_response
from hub.state import HubState

PATH: Final = "/haccp/records/{site_gln}"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CCPS: Final = 1000
LOG_HEADER: Final = [
    "날짜 (Date, KST)", "CCP 코드 (CCP code)", "CCP 이름 (CCP name)", "하한 (Low limit)", "상한 (High limit)",
    "단위 (Unit)", "측정 수 (Readings)", "최솟값 (Min)", "최댓값 (Max)", "평균 (Mean)", "한계 이탈 수 (Out of limits)",
    "적합률 % (Compliance %)", "CCP ID",
]  # fmt: skip
DEVIATION_HEADER: Final = [
    "이탈 ID (Deviation)", "CCP 코드 (CCP code)", "유형 (Kind)", "상태 (Status)", "이탈 시작 (Window start, UTC)",
    "이탈 종료 (Window end, UTC)", "최악값 (Worst value)", "관련 로트 수 (Lots)", "개선조치 (Corrective actions)",
]  # fmt: skip
MAX_DEVIATIONS: Final = 10_000
SEAL_HEADER: Final = [
    "도착일 (Arrival day, UTC)", "측정 수 (Readings)", "봉인값 SHA-256 (Seal digest)", "보관 (Kept as)",
]  # fmt: skip


def log_rows(definitions: list[Row], hours: list[tuple[Any, ...]]) -> list[list[Any]]:
    """One row per CCP and KST day with readings: the hourly aggregates added up (KST days are whole UTC hours)."""
    by_id = {d["id"]: d for d in definitions}
    days: dict[tuple[str, str], list[Any]] = {}
    for ccp_id, hour_ms, count, low, high, total, out in hours:
        day = datetime.fromtimestamp(hour_ms / 1000, KST).date().isoformat()
        bucket = days.get((ccp_id, day))
        if bucket is None:
            days[(ccp_id, day)] = [int(count), float(low), float(high), float(total), int(out)]
        else:
            bucket[0] += int(count)
            bucket[1] = min(bucket[1], float(low))
            bucket[2] = max(bucket[2], float(high))
            bucket[3] += float(total)
            bucket[4] += int(out)
    rows = []
    for (ccp_id, day), (count, low, high, total, out) in sorted(
        days.items(), key=lambda item: (item[0][1], item[0][0])
    ):
        ccp = by_id[ccp_id]
        rows.append(
            [day, ccp["code"], ccp["name"], ccp.get("limitLow"), ccp.get("limitHigh"), ccp["unit"], count, low, high,
             round(total / count, 3), out, round(100 * (count - out) / count, 2), ccp_id]
        )  # fmt: skip
    return rows


def deviation_rows(definitions: list[Row], deviations: list[Row], *, start: datetime, end: datetime) -> list[list[Any]]:
    """One row per deviation whose window overlaps the month, by its start."""
    codes = {d["id"]: d["code"] for d in definitions}
    rows = []
    for d in sorted(deviations, key=lambda d: (d["windowStart"] or "", d["id"])):
        window_start = _instant(d["windowStart"])
        window_end = _instant(d.get("windowEnd"))
        if window_start is None or window_start >= end or (window_end is not None and window_end < start):
            continue
        actions = "; ".join(
            f"{a['takenAt']} {a['by']}: {a['action']}"
            for a in sorted(d.get("actions") or [], key=lambda a: a["takenAt"])
        )
        rows.append(
            [d["id"], codes.get(d["ccpId"], d["ccpId"]), d["kind"], d["status"], d["windowStart"], d.get("windowEnd"),
             d.get("worstValue"), len(d.get("lotIds") or []), actions]
        )  # fmt: skip
    return rows


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.partition("[")[0]) if value else None


def write_workbook(
    path: str,
    *,
    title: list[Any],
    log: list[list[Any]],
    deviations: list[list[Any]],
    seals: list[tuple[str, int, str, bool]],
) -> None:
    """The record's two sheets, every text cell formula-safe (graph_schema.spreadsheet_safety.safe_cell)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("CCP 일지 (CCP log)")
    sheet.append([safe_cell(value) for value in title])
    sheet.append(LOG_HEADER)
    for row in log:
        sheet.append([safe_cell(value) for value in row])
    deviated = book.create_sheet("이탈 (Deviations)")
    deviated.append(DEVIATION_HEADER)
    for row in deviations:
        deviated.append([safe_cell(value) for value in row])
    sealed = book.create_sheet("일일 봉인 (Day seals)")
    sealed.append(SEAL_HEADER)
    for day, count, digest, rolled_up in seals:
        kept = "시간별 집계 (hourly aggregates)" if rolled_up else "원시 측정값 (raw readings)"
        sealed.append([day, count, digest, kept])
    book.save(path)


def problem(status: int, title: str, error: HubError) -> Response:
    """An ``application/problem+json`` answer naming the parameter at fault."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": error.message}
    body["code"] = error.code
    if error.field is not None:
        body["field"] = error.field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


async def monthly_record(request: Request) -> Response:
    """The plant's monthly HACCP record as XLSX, of the CCPs the caller sees in detail."""
    user = request.scope.get("user")
    if not isinstance(user, PrincipalUser):
        return unauthenticated_response()
    state: HubState = request.app.state.hub
    principal = user.principal
    graph = Graph(state.driver, database=state.settings.neo4j_database)
    try:
        site_gln = validate_gln(request.path_params["site_gln"], field="siteGln")
        start, end = month_range(request.query_params.get("month"))
        viewer = (await decide_for_request(graph, principal)).viewer
        listed = await ccps.list_ccps(graph, viewer, site_gln=site_gln, after=None, limit=MAX_CCPS)
    except InvalidIdentifier as error:
        return problem(400, "Bad request", error)
    except HubError as error:
        status = 503 if error.code == UNAVAILABLE else 400
        return problem(status, "Bad request" if status == 400 else "Unavailable", error)
    definitions = [row for row in listed if row["detail"]]
    if not definitions:
        message = f"no CCP of site {site_gln} whose records you may see"
        return problem(404, "Not found", HubError(message, field="siteGln", code=NOT_FOUND))
    engine = state.sql_engine
    from_ms, to_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    ids = [row["id"] for row in definitions]
    hours = await anyio.to_thread.run_sync(lambda: hourly_rows(engine, ids, from_ms=from_ms, to_ms=to_ms))
    first_day = start.astimezone(UTC).date().isoformat()
    last_day = (end - timedelta(milliseconds=1)).astimezone(UTC).date().isoformat()
    seals = await anyio.to_thread.run_sync(lambda: day_seals(engine, site_gln, first_day=first_day, last_day=last_day))
    found = await deviations.list_deviations(
        graph, viewer, site_gln=site_gln, ccp_id=None, status=None, after=None, limit=MAX_DEVIATIONS
    )
    owners = Counter(str(row["firmId"]) for row in definitions if row["firmId"] != principal.firm_id)
    withheld = await withheld_unless_logged(state, principal, operation="GET /haccp/records", accessed=owners)
    if withheld is not None:
        return withheld
    month = start.strftime("%Y-%m")
    title = [f"HACCP 월간 기록 (Monthly HACCP record) {month}", f"사업장 GLN (Site) {site_gln}"]
    handle, path = tempfile.mkstemp(prefix="haccp-record-", suffix=".xlsx")
    os.close(handle)
    try:
        log = log_rows(definitions, hours)
        kept = deviation_rows(definitions, found, start=start, end=end)
        await anyio.to_thread.run_sync(lambda: write_workbook(path, title=title, log=log, deviations=kept, seals=seals))
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(
        path, media_type=XLSX, filename=f"haccp-{site_gln}-{month}.xlsx", background=BackgroundTask(os.unlink, path)
    )


def record_routes() -> list[Route]:
    """The monthly record's endpoint (a bearer token like every route)."""
    return [Route(PATH, monthly_record, methods=["GET"])]
