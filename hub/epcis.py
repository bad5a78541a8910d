"""The EPCIS 2.0 REST binding: documents captured as jobs, single events, and the SimpleEventQuery.

Every route needs a bearer token (the authentication middleware puts the principal on the request) and
goes through the permission decision: capture needs the editor or admin role and writes only what the
caller's firm may write (graph_schema.epcis.capture); a query answers only events the caller may see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.decisions import decide_for_request
from auth.principal import Principal
from graph_schema.db import Graph, GraphUnavailable
from graph_schema.epcis.limits import LIMIT_EXCEEDED
from graph_schema.epcis.model import EventError
from graph_schema.epcis.reading import single_event
from graph_schema.epcis.xml_reading import XML_DTD_FORBIDDEN, XML_NOT_WELL_FORMED, read_single_xml_event
from graph_schema.epcis.xml_schema import XML_SCHEMA_INVALID
from graph_schema.errors import CONFLICT, FORBIDDEN, NOT_FOUND, UNAVAILABLE
from hub.capture_service import PAYLOAD_TOO_LARGE, Binding, CaptureService, Refused
from hub.epcis_xsd import epcis_xml_schemas
from hub.graphql_app import unauthenticated_response
from hub.metrics import Metrics
from hub.state import HubState

log = logging.getLogger(__name__)

EPCIS_HEADERS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
JSON_TYPES: Final = frozenset({"application/json", "application/ld+json"})
XML_TYPES: Final = frozenset({"application/xml", "text/xml"})
MAX_EVENT_BYTES: Final = 1_048_576
# what a refused single event's problem document is coded, the first of these its errors hold (else BAD_USER_INPUT)
_DOCUMENT_CODES: Final = (LIMIT_EXCEEDED, XML_DTD_FORBIDDEN, XML_NOT_WELL_FORMED, XML_SCHEMA_INVALID)


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document with the hub's stable error code."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=EPCIS_HEADERS)


def refusal(refused: Refused) -> JSONResponse:
    """The problem document of a capture the service would not take (``Retry-After`` when it is a matter of time)."""
    response = problem(refused.status, refused.title, refused.detail, refused.code, **refused.extra)
    if refused.retry_after is not None:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _errors(errors: list[EventError]) -> list[dict[str, Any]]:
    return [error.model_dump() for error in errors]


class EpcisRoutes:
    """The routes, bound to the hub's state once the lifespan has opened it; captures go to the capture service."""

    def __init__(self, state: Callable[[], HubState], *, metrics: Metrics | None = None) -> None:
        self.state = state
        self.captures = CaptureService(state, metrics=metrics)

    def routes(self) -> list[Route]:
        """The EPCIS endpoints of the contract."""
        return [
            Route("/epcis/capture", self.capture_document, methods=["POST"]),
            Route("/epcis/capture/{capture_id}", self.capture_job, methods=["GET"]),
            Route("/epcis/events", self.capture_event, methods=["POST"]),
        ]

    def _graph(self) -> Graph:
        return self.captures.graph()

    async def watch_jobs(self) -> None:
        """The capture jobs' heartbeat, for as long as the app runs (CaptureService.watch)."""
        await self.captures.watch()

    # --- capture -------------------------------------------------------------------------------------

    async def capture_document(self, request: Request) -> Response:
        """POST /epcis/capture: spool the document, start its job, answer 202 with the job's location."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if not principal.can_edit:
            return problem(403, "Forbidden", "to capture EPCIS events you need the admin or editor role", FORBIDDEN)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES | XML_TYPES:
            return problem(
                415,
                "Unsupported media type",
                "send the EPCIS document as application/ld+json or application/json (EPCIS 2.0 JSON-LD), or as"
                " application/xml or text/xml (EPCIS 2.0 or 1.2 XML)",
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
        try:
            decision = await decide_for_request(self._graph(), principal)
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
        try:
            job_id = await self.captures.submit(
                principal,
                request.stream(),
                declared_length=_declared_length(request),
                binding=Binding.XML if media_type in XML_TYPES else Binding.JSON,
                proceed=behaviour == "proceed",
                placeholders=self.captures.placeholders(principal, overseer=decision.overseer),
            )
        except Refused as refused:
            return refusal(refused)
        except ClientDisconnect:  # the sender went away mid-document: nothing to capture, nobody to answer
            return problem(400, "Incomplete", "the document was not received whole", "BAD_USER_INPUT")
        location = f"/epcis/capture/{job_id}"
        return JSONResponse(
            {"captureID": job_id, "running": True}, status_code=202, headers={"Location": location, **EPCIS_HEADERS}
        )

    async def capture_job(self, request: Request) -> Response:
        """GET /epcis/capture/{id}: the job of the caller's firm, running or finished with its errors."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        job = await self.captures.job(request.path_params["capture_id"], firm_id=principal.firm_id)
        if job is None:
            return problem(404, "Not found", "no capture job with this id for your firm", NOT_FOUND)
        return JSONResponse(job.document(), headers=EPCIS_HEADERS)

    async def capture_event(self, request: Request) -> Response:
        """POST /epcis/events: one event (JSON-LD, or XML: bare or alone in an EPCISDocument), captured at once: 201,
        or 409 when its eventID holds other content."""
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
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type in XML_TYPES:  # one event of the XML binding, checked against the XSD like a document
            schemas = epcis_xml_schemas(self.state().settings)
            parsed = read_single_xml_event(body, schemas=schemas, limits=self.captures.limits())
        else:
            parsed = single_event(body, limits=self.captures.limits())
        if isinstance(parsed, list):
            found = [error.code for error in parsed]
            code = next((c for c in _DOCUMENT_CODES if c in found), "BAD_USER_INPUT")
            return problem(400, "Invalid event", _summary(parsed), code, errors=_errors(parsed))
        try:
            decision = await decide_for_request(self._graph(), principal)
            outcome = await self.captures.capture_event(
                parsed,
                firm_id=principal.firm_id,
                placeholders=self.captures.placeholders(principal, overseer=decision.overseer),
            )
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
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


def _principal(request: Request) -> Principal | None:
    user = request.scope.get("user")
    principal = getattr(user, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _summary(errors: list[EventError]) -> str:
    first = errors[0].message if errors else "the event is invalid"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return first + more


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
