"""The EPCIS 2.0 REST binding: documents captured as jobs, single events, and the SimpleEventQuery.

Every route needs a bearer token (the authentication middleware puts the principal on the request) and
goes through the permission decision: capture needs the editor or admin role and writes only what the
caller's firm may write (graph_schema.epcis.capture); a query answers only events the caller may see.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

import anyio
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.audit import record_access
from auth.decisions import decide_for_request
from auth.principal import Principal, Role
from graph_schema.db import Graph, GraphUnavailable
from graph_schema.epcis.capture import CaptureOutcome, EventSource, capture
from graph_schema.epcis.limits import LIMIT_EXCEEDED, ReadingLimits
from graph_schema.epcis.model import EpcisEvent, EventError
from graph_schema.epcis.query import QueryError, parse_simple_event_query
from graph_schema.epcis.reading import document_source, single_event
from graph_schema.epcis.store import query_events
from graph_schema.errors import CONFLICT, FORBIDDEN, NOT_FOUND, UNAVAILABLE
from hub import capture_jobs
from hub.graphql_app import unauthenticated_response
from hub.haccp import ingest_captured_sensors
from hub.metrics import Metrics
from hub.state import HubState
from resolvers.notifications import publish_recall_joins_or_leave_them

log = logging.getLogger(__name__)

EPCIS_HEADERS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
JSON_TYPES: Final = frozenset({"application/json", "application/ld+json"})
MAX_EVENT_BYTES: Final = 1_048_576
CHUNK: Final = 1 << 16
# a running job's process says so this often; one silent for JOB_STALE_AFTER is declared interrupted
JOB_HEARTBEAT_SECONDS: Final = 10.0
JOB_STALE_AFTER: Final = timedelta(seconds=60)
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"  # as the body-size limit of every route answers
RATE_LIMITED: Final = "RATE_LIMITED"
RETRY_AFTER_SECONDS: Final = 10  # a capture job of a typical document is done by then


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document with the hub's stable error code."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=EPCIS_HEADERS)


def _errors(errors: list[EventError]) -> list[dict[str, Any]]:
    return [error.model_dump() for error in errors]


class EpcisRoutes:
    """The routes, bound to the hub's state once the lifespan has opened it."""

    def __init__(self, state: Callable[[], HubState], *, metrics: Metrics | None = None) -> None:
        self.state = state
        self.metrics = metrics
        self.running: set[asyncio.Task[None]] = set()  # capture jobs in flight (kept referenced until done)
        self.owner = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this app's jobs
        self.loads: dict[str, FirmLoad] = {}  # per firm: jobs spooling or running, bytes spooled

    def routes(self) -> list[Route]:
        """The EPCIS endpoints of the contract."""
        return [
            Route("/epcis/capture", self.capture_document, methods=["POST"]),
            Route("/epcis/capture/{capture_id}", self.capture_job, methods=["GET"]),
            Route("/epcis/events", self.capture_event, methods=["POST"]),
            Route("/epcis/events", self.query, methods=["GET"]),
        ]

    def _graph(self) -> Graph:
        state = self.state()
        return Graph(state.driver, database=state.settings.neo4j_database)

    def _limits(self) -> ReadingLimits:
        settings = self.state().settings
        return ReadingLimits(
            max_depth=settings.epcis_max_depth,
            max_event_values=settings.epcis_max_event_values,
            max_event_bytes=settings.epcis_max_event_kb * 1024,
        )

    def _admit(self, firm_id: str) -> Response | None:
        """Take a capture slot for the firm, or the refusal (429 for the firm's own cap, 503 for the hub's)."""
        settings = self.state().settings
        load = self.loads.setdefault(firm_id, FirmLoad())
        if load.jobs >= settings.epcis_max_jobs_per_firm:
            return busy(
                429,
                f"your firm already has {load.jobs} EPCIS documents being received or captured (at most"
                f" {settings.epcis_max_jobs_per_firm} at once); send this one when one of them has finished",
            )
        if sum(each.jobs for each in self.loads.values()) >= settings.epcis_max_jobs:
            return busy(
                503,
                f"the hub is capturing {settings.epcis_max_jobs} EPCIS documents, its most at once;"
                " send this one again shortly",
            )
        load.jobs += 1
        return None

    def _release(self, firm_id: str, spooled: int) -> None:
        load = self.loads[firm_id]
        load.jobs -= 1
        load.spooled -= spooled
        if not load.jobs:
            del self.loads[firm_id]

    # --- capture -------------------------------------------------------------------------------------

    async def capture_document(self, request: Request) -> Response:
        """POST /epcis/capture: spool the document, start its job, answer 202 with the job's location."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if not principal.can_edit:
            return problem(403, "Forbidden", "to capture EPCIS events you need the admin or editor role", FORBIDDEN)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES:
            return problem(
                415,
                "Unsupported media type",
                "send the EPCIS document as application/ld+json or application/json",
                "BAD_USER_INPUT",
            )
        behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
        if behaviour not in ("rollback", "proceed"):
            return problem(
                400,
                "Bad request",
                "GS1-Capture-Error-Behaviour must be 'rollback' (the default) or 'proceed'",
                "BAD_USER_INPUT",
                field="GS1-Capture-Error-Behaviour",
            )
        state = self.state()
        try:
            decision = await decide_for_request(self._graph(), principal)
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
        limit = state.settings.epcis_max_document_mb * 1_048_576
        too_large = problem(
            413,
            "Document too large",
            f"an EPCIS document may have at most {state.settings.epcis_max_document_mb} MB;"
            " split it into several documents",
            PAYLOAD_TOO_LARGE,
            setting="HUB_EPCIS_MAX_DOCUMENT_MB",
        )
        if _declared_length(request) > limit:
            return too_large  # refused before reading a byte of it
        refusal = self._admit(principal.firm_id)
        if refusal is not None:
            return refusal
        spool = state.settings.state_dir / "epcis-spool"
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)  # members' documents: the hub's user only
        load = self.loads[principal.firm_id]
        firm_cap = state.settings.epcis_max_spool_mb_per_firm * 1_048_576
        try:
            path, size = await _spool(request, spool, limit=limit, load=load, firm_cap=firm_cap)
        except ClientDisconnect:  # the sender went away mid-document: nothing to capture, nobody to answer
            self._release(principal.firm_id, 0)
            return problem(400, "Incomplete", "the document was not received whole", "BAD_USER_INPUT")
        except BaseException:
            self._release(principal.firm_id, 0)
            raise
        if path is None:
            self._release(principal.firm_id, size)
            if size > limit:
                return too_large
            return busy(
                429,
                f"your firm's EPCIS documents waiting to be captured hold more than"
                f" {state.settings.epcis_max_spool_mb_per_firm} MB; send this one when they have been captured",
            )
        # unknown identifiers become unverified placeholders only for the cluster operator's admin, when enabled
        placeholders = state.settings.epcis_register_unknown and decision.overseer and Role.ADMIN in principal.roles
        job_id = uuid.uuid4().hex
        try:
            await capture_jobs.start_job(
                state.sql_engine,
                job_id=job_id,
                firm_id=principal.firm_id,
                subject=principal.subject,
                error_behaviour=behaviour,
                owner=self.owner,
            )
        except BaseException:
            self._release(principal.firm_id, size)
            await anyio.Path(path).unlink(missing_ok=True)
            raise
        task = asyncio.create_task(
            self._run_job(
                job_id, path, firm_id=principal.firm_id, proceed=behaviour == "proceed", placeholders=placeholders
            )
        )
        task.add_done_callback(lambda _: self._release(principal.firm_id, size))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        location = f"/epcis/capture/{job_id}"
        return JSONResponse(
            {"captureID": job_id, "running": True}, status_code=202, headers={"Location": location, **EPCIS_HEADERS}
        )

    async def watch_jobs(self, *, every: float = JOB_HEARTBEAT_SECONDS) -> None:
        """For as long as the app runs: say that this process's jobs still run, and declare interrupted the jobs
        of processes that stopped saying so (a crashed worker, a host gone), here or on another host."""
        engine = self.state().sql_engine
        while True:
            try:
                if self.running:
                    await capture_jobs.heartbeat(engine, self.owner)
                await capture_jobs.interrupt_stale_jobs(engine, stale_after=JOB_STALE_AFTER)
            except Exception:  # the SQL store is down: /readyz says so; try again at the next beat
                log.warning("could not update the capture jobs' heartbeat", exc_info=True)
            await asyncio.sleep(every)

    async def _run_job(self, job_id: str, path: Path, *, firm_id: str, proceed: bool, placeholders: bool) -> None:
        state = self.state()
        try:
            outcome = await self._capture(
                document_source(path, limits=self._limits()),
                firm_id=firm_id,
                capture_id=job_id,
                proceed=proceed,
                placeholders=placeholders,
            )
            await self._sensor_readings(firm_id, outcome)  # before the job says it is done
            await capture_jobs.finish_job(state.sql_engine, job_id, outcome)
            if self.metrics is not None:
                self.metrics.captured_events.inc(outcome.captured)
                self.metrics.capture_jobs.labels("success" if outcome.committed else "failed").inc()
        except GraphUnavailable as error:
            await capture_jobs.fail_job(state.sql_engine, job_id, code=UNAVAILABLE, message=error.message)
        except Exception:
            log.exception("capture job %s failed", job_id)
            await capture_jobs.fail_job(
                state.sql_engine,
                job_id,
                code="INTERNAL",
                message="the capture failed unexpectedly; nothing was written",
            )
        finally:
            await anyio.Path(path).unlink(missing_ok=True)

    async def _capture(
        self, source: EventSource, *, firm_id: str, capture_id: str, proceed: bool, placeholders: bool
    ) -> CaptureOutcome:
        settings = self.state().settings
        outcome = await capture(
            self._graph(),
            source,
            firm_id=firm_id,
            capture_id=capture_id,
            proceed=proceed,
            placeholders=placeholders,
            record_time=datetime.now(UTC),
            batch_size=settings.epcis_batch_size,
            transaction_events=settings.epcis_transaction_events,
        )
        # lots the capture made from held lots joined their open recall: their holders are told now
        await publish_recall_joins_or_leave_them(self._graph(), self.state().sql_engine)
        return outcome

    async def _sensor_readings(self, firm_id: str, outcome: CaptureOutcome) -> None:
        """Smart HACCP readings in the captured events' sensor reports (hub.haccp); a failure there leaves the
        capture as it is."""
        try:
            await ingest_captured_sensors(self.state(), firm_id=firm_id, captured=outcome.sensor_events)
        except Exception:
            log.exception("could not take the CCP readings of captured events")

    async def capture_job(self, request: Request) -> Response:
        """GET /epcis/capture/{id}: the job of the caller's firm, running or finished with its errors."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        job = await capture_jobs.get_job(
            self.state().sql_engine, request.path_params["capture_id"], firm_id=principal.firm_id
        )
        if job is None:
            return problem(404, "Not found", "no capture job with this id for your firm", NOT_FOUND)
        return JSONResponse(job.document(), headers=EPCIS_HEADERS)

    async def capture_event(self, request: Request) -> Response:
        """POST /epcis/events: one event, captured at once: 201, or 409 when its eventID holds other content."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if not principal.can_edit:
            return problem(403, "Forbidden", "to capture EPCIS events you need the admin or editor role", FORBIDDEN)
        try:
            body = await _read_body(request, limit=MAX_EVENT_BYTES)
        except ClientDisconnect:
            return problem(400, "Incomplete", "the event was not received whole", "BAD_USER_INPUT")
        if body is None:  # read no further than the limit (or not at all, when the declared length passes it)
            return problem(413, "Event too large", "a single event may have at most 1 MB", PAYLOAD_TOO_LARGE)
        parsed = single_event(body, limits=self._limits())
        if isinstance(parsed, list):
            code = LIMIT_EXCEEDED if any(error.code == LIMIT_EXCEEDED for error in parsed) else "BAD_USER_INPUT"
            return problem(400, "Invalid event", _summary(parsed), code, errors=_errors(parsed))
        try:
            decision = await decide_for_request(self._graph(), principal)
            placeholders = self.state().settings.epcis_register_unknown and decision.overseer
            placeholders = placeholders and Role.ADMIN in principal.roles
            outcome = await self._capture(
                _one(parsed),
                firm_id=principal.firm_id,
                capture_id=uuid.uuid4().hex,
                proceed=False,
                placeholders=placeholders,
            )
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
        await self._sensor_readings(principal.firm_id, outcome)
        location = f"/epcis/events/{quote(parsed.event_id, safe='')}"
        if outcome.committed:
            return JSONResponse(
                {"eventID": parsed.event_id, "duplicate": outcome.duplicates > 0},
                status_code=201,
                headers={"Location": location, **EPCIS_HEADERS},
            )
        codes = {error.code for error in outcome.errors}
        if CONFLICT in codes:
            return problem(409, "Conflict", _summary(outcome.errors), CONFLICT, errors=_errors(outcome.errors))
        if FORBIDDEN in codes:
            return problem(403, "Forbidden", _summary(outcome.errors), FORBIDDEN, errors=_errors(outcome.errors))
        return problem(400, "Invalid event", _summary(outcome.errors), "BAD_USER_INPUT", errors=_errors(outcome.errors))

    # --- query ---------------------------------------------------------------------------------------

    async def query(self, request: Request) -> Response:
        """GET /epcis/events: SimpleEventQuery parameters in, an EPCIS query document out, paged."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        try:
            parsed = parse_simple_event_query(request.query_params.multi_items())
        except QueryError as error:
            return problem(400, "Bad query", error.message, "BAD_USER_INPUT", field=error.field)
        graph = self._graph()
        state = self.state()
        try:
            decision = await decide_for_request(graph, principal)
            rows = await query_events(
                graph, decision.viewer, parsed.filter, after=parsed.after, limit=parsed.per_page + 1
            )
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
        page = rows[: parsed.per_page]
        counts: dict[str, int] = {}
        for row in page:
            if row["capturedBy"] != principal.firm_id:
                counts[row["capturedBy"]] = counts.get(row["capturedBy"], 0) + 1
        try:  # others' events are returned only once their reading is logged
            await record_access(
                state.sql_engine,
                accessor_firm_id=principal.firm_id,
                accessor_subject=principal.subject,
                accessor_issuer=principal.issuer,
                operation="GET /epcis/events",
                counts=counts,
            )
        except Exception:
            log.exception("could not write the access log")
            return problem(503, "Unavailable", "the access log cannot be written; try again shortly", UNAVAILABLE)
        headers = dict(EPCIS_HEADERS)
        if len(rows) > parsed.per_page:
            last = page[-1]
            token = _page_token(last["eventTime"].iso_format(), last["eventId"])
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
            headers["Link"] = f'</epcis/events?{urlencode([*params, ("nextPageToken", token)])}>; rel="next"'
        document = {
            "@context": [EPCIS_CONTEXT],
            "type": "EPCISQueryDocument",
            "schemaVersion": "2.0",
            "creationDate": datetime.now(UTC).isoformat(),
            "epcisBody": {
                "queryResults": {
                    "queryName": "SimpleEventQuery",
                    "resultsBody": {"eventList": [orjson.loads(row["json"]) for row in page]},
                }
            },
        }
        return Response(orjson.dumps(document), media_type="application/ld+json", headers=headers)


def _principal(request: Request) -> Principal | None:
    user = request.scope.get("user")
    principal = getattr(user, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _summary(errors: list[EventError]) -> str:
    first = errors[0].message if errors else "the event is invalid"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return first + more


def _one(event: EpcisEvent) -> EventSource:
    def source() -> Iterator[tuple[int, EpcisEvent | list[EventError]]]:
        yield 0, event

    return source


def _page_token(event_time: str, event_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([event_time, event_id])).decode().rstrip("=")


@dataclass
class FirmLoad:
    """What one firm's captures hold of the hub: jobs receiving or running, bytes spooled for them."""

    jobs: int = 0
    spooled: int = 0


def busy(status: int, detail: str) -> Response:
    """429 (the caller's own cap) or 503 (the hub's) with ``Retry-After``."""
    response = problem(status, "Too many captures" if status == 429 else "Busy", detail, RATE_LIMITED)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _declared_length(request: Request) -> int:
    try:
        return int(request.headers.get("content-length", "0"))
    except ValueError:
        return 0


async def _read_body(request: Request, *, limit: int) -> bytes | None:
    """The body, read chunk by chunk; None as soon as it passes ``limit`` bytes (the rest is never read)."""
    if _declared_length(request) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _spool(
    request: Request, folder: Path, *, limit: int, load: FirmLoad, firm_cap: int
) -> tuple[Path | None, int]:
    """Write the body to a file in ``folder`` (bounded memory), counting it in the firm's spooled bytes.

    Stops reading as soon as the body passes ``limit`` or the firm's spool passes ``firm_cap``: then the path
    is None (the size read so far says which: above ``limit``, the document was too large).
    """
    handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".jsonld", delete=False)  # noqa: SIM115 (kept for the job)
    path = Path(handle.name)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            load.spooled += len(chunk)
            if size > limit or load.spooled > firm_cap:
                handle.close()
                await anyio.Path(path).unlink(missing_ok=True)
                return None, size
            handle.write(chunk)
    except BaseException:
        load.spooled -= size
        handle.close()
        await anyio.Path(path).unlink(missing_ok=True)
        raise
    handle.close()
    return path, size
