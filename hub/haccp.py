"""Smart HACCP over HTTP: ``POST /haccp/readings`` takes a gateway's CCP readings (a JSON array or NDJSON).

The plant's own firm posts, with the ``device`` role (a gateway's credentials, confined to this route by
hub.confinement) or as an editor or admin. A batch is all or nothing: any bad reading refuses it with every
problem listed by index and field (422). The checking and writing are graph_schema.haccp.ingest's; this
module reads the body within its bound, looks the batch's CCPs up (kept briefly with the other profiles), and
runs the write in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.principal import Principal
from graph_schema.db import Graph, GraphUnavailable, Row
from graph_schema.epcis.capture import CapturedSensors
from graph_schema.errors import BAD_USER_INPUT, FORBIDDEN, UNAVAILABLE
from graph_schema.haccp import ccps
from graph_schema.haccp.ingest import (
    CcpDefinition,
    IngestOutcome,
    ReadingProblem,
    ccp_ids_of,
    check_readings,
    store_readings,
)
from graph_schema.haccp.sensors import sensor_readings
from hub.deviation_sweep import check_batch
from hub.graphql_app import unauthenticated_response
from hub.state import HubState

log = logging.getLogger(__name__)

NDJSON: Final = "application/x-ndjson"
JSON_TYPES: Final = frozenset({"application/json", NDJSON})


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document with the hub's stable error code."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class BadBody(Exception):
    pass


def _loads(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # the standard library reads NaN and Infinity, which some gateways write: such a value is then reported
        # as the reading's problem (not a number) instead of refusing the document without saying which one
        return json.loads(text)


def parse_body(body: bytes, *, ndjson: bool) -> list[Any]:
    """The readings of a JSON array or of NDJSON lines (blank lines skipped); BadBody names the line at fault."""
    if not ndjson:
        try:
            items = _loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise BadBody(f"the body is not JSON: {error}") from None
        if not isinstance(items, list):
            raise BadBody(
                "the body must be a JSON array of readings (or NDJSON with Content-Type application/x-ndjson)"
            )
        return items
    items = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(_loads(line))
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise BadBody(f"line {number} is not JSON: {error}") from None
    return items


def _principal(request: Request) -> Principal | None:
    principal = getattr(request.scope.get("user"), "principal", None)
    return principal if isinstance(principal, Principal) else None


def _refused(problems: Sequence[ReadingProblem], count: int) -> JSONResponse:
    first = problems[0]
    more = f" (and {count - 1} more problems)" if count > 1 else ""
    return problem(
        422,
        "Readings refused",
        f"reading {first.index}, {first.field or 'the reading'}: {first.message}{more}; nothing was written",
        BAD_USER_INPUT,
        errors=[p.as_dict() for p in problems],
        errorCount=count,
    )


def oldest_ms(state: HubState, now_ms: int) -> int:
    """The earliest measurement time a reading may have: raw readings older than the retention are not kept."""
    return now_ms - state.settings.haccp_retention_days * 86_400_000


class HaccpRoutes:
    """The Smart HACCP routes, bound to the hub's state once the lifespan has opened it."""

    def __init__(self, state: Callable[[], HubState]) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The readings endpoint of the contract."""
        return [Route("/haccp/readings", self.post_readings, methods=["POST"])]

    async def definitions(self, state: HubState, ids: list[str]) -> dict[str, CcpDefinition]:
        """The batch's CCPs, kept with the profiles (dropped after any write through the hub, else 30 s)."""
        graph = Graph(state.driver, database=state.settings.neo4j_database)
        fetch = state.profiles.cached("ccp-definition", ccps.definitions_by_id)
        rows: Sequence[Row | None] = await fetch(graph, ids)
        return {row["id"]: CcpDefinition.from_row(row) for row in rows if row is not None}

    async def post_readings(self, request: Request) -> Response:
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if not (principal.is_device or principal.can_edit):
            return problem(
                403, "Forbidden", "to post CCP readings you need the device, editor or admin role", FORBIDDEN
            )
        media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            return problem(
                415,
                "Unsupported media type",
                "send application/json (an array) or application/x-ndjson",
                BAD_USER_INPUT,
            )
        state = self.state()
        settings = state.settings
        body = await request.body()  # bounded while it is read: HUB_MAX_READINGS_BODY_MB (hub.body_limit)
        try:
            items = await anyio.to_thread.run_sync(lambda: parse_body(body, ndjson=media == NDJSON))
        except BadBody as error:
            return problem(400, "Invalid body", str(error), BAD_USER_INPUT)
        if len(items) > settings.haccp_max_batch:
            detail = f"{len(items)} readings in one request; at most {settings.haccp_max_batch}"
            return problem(413, "Batch too large", detail, BAD_USER_INPUT)
        if not items:
            return JSONResponse({"accepted": 0, "duplicates": 0})
        try:
            definitions = await self.definitions(state, ccp_ids_of(items))
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE)
        now_ms = time.time_ns() // 1_000_000
        outcome = await anyio.to_thread.run_sync(
            lambda: self._check_and_store(state, items, definitions, principal.firm_id, now_ms)
        )
        if outcome.problems:
            return _refused(outcome.problems, outcome.problem_count)
        await check_batch(state, outcome.spans)  # deviations opened, extended or split by these readings
        return JSONResponse({"accepted": outcome.accepted, "duplicates": outcome.duplicates})

    @staticmethod
    def _check_and_store(
        state: HubState, items: list[Any], definitions: dict[str, CcpDefinition], firm_id: str, now_ms: int
    ) -> IngestOutcome:
        skew_ms = state.settings.haccp_clock_skew_seconds * 1000
        rows, indexes, problems = check_readings(
            items, definitions, firm_id=firm_id, now_ms=now_ms, skew_ms=skew_ms, oldest_ms=oldest_ms(state, now_ms)
        )
        if problems.count:
            return IngestOutcome(problems=problems.listed, problem_count=problems.count)
        return store_readings(state.sql_engine, rows, indexes)


async def ingest_captured_sensors(state: HubState, *, firm_id: str, captured: Sequence[CapturedSensors]) -> int:
    """After an EPCIS capture committed: its events' sensor reports that name a CCP of the capturing firm go
    through the readings' checks and store. The events are captured whatever their readings: a reading that
    fails a check (another firm's CCP, a wrong unit, a changed value) is logged and left out. Returns how many
    readings were written."""
    if not captured:
        return 0
    graph = Graph(state.driver, database=state.settings.neo4j_database)
    site_ccps = await ccps.ccps_of_sites(graph, [c.site_gln for c in captured if c.site_gln is not None])
    items: list[dict[str, Any]] = []
    for event in captured:
        found = site_ccps.get(event.site_gln or "")
        if found:
            items.extend(sensor_readings(found, event_time=event.event_time, elements=event.elements))
    if not items:
        return 0
    definitions = {row["id"]: CcpDefinition.from_row(row) for rows in site_ccps.values() for row in rows}
    now_ms = time.time_ns() // 1_000_000
    skew_ms = state.settings.haccp_clock_skew_seconds * 1000

    def write() -> IngestOutcome:
        rows, indexes, problems = check_readings(
            items, definitions, firm_id=firm_id, now_ms=now_ms, skew_ms=skew_ms, oldest_ms=oldest_ms(state, now_ms)
        )
        for refused in problems.listed:
            log.warning("EPCIS sensor reading %d left out: %s %s", refused.index, refused.field, refused.message)
        outcome = store_readings(state.sql_engine, rows, indexes)
        if outcome.problems:  # changed values of readings already stored: leave them out, keep the rest
            conflicting = {p.index for p in outcome.problems}
            if outcome.problem_count > len(conflicting):
                log.warning("EPCIS sensor readings: %d conflicts, none written", outcome.problem_count)
                return IngestOutcome()
            kept = [(row, i) for row, i in zip(rows, indexes, strict=True) if i not in conflicting]
            log.warning("EPCIS sensor readings: %d left out, their values differ from those stored", len(conflicting))
            outcome = store_readings(state.sql_engine, [r for r, _ in kept], [i for _, i in kept])
        return outcome

    outcome = await anyio.to_thread.run_sync(write)
    await check_batch(state, outcome.spans)
    return outcome.accepted
