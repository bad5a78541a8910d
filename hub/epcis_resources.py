"""The EPCIS 2.0 REST binding's query side: GET /events with the whole SimpleEventQuery, the top-level resources
(/events/{eventID}, /eventTypes, /epcs, /bizSteps, /bizLocations, /readPoints, /dispositions and their /events),
the capture interface's discovery (OPTIONS and GET /capture) and named queries (/queries).

Every answer holds only what the caller may see: events are read with the caller's visibility inside the Cypher
(graph_schema.epcis.event_reads), an event another firm may not see answers as an unknown one does (404), and
reading another firm's events is written to the access log before they are returned.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from auth.audit import record_access
from auth.decisions import decide_for_request
from auth.principal import Principal
from graph_schema.access import Viewer
from graph_schema.db import Graph, GraphUnavailable, Row
from graph_schema.epcis import named_queries, subscriptions
from graph_schema.epcis.event_reads import count_events, event_by_id, query_events, sort_position, values_in_use
from graph_schema.epcis.model import EventType
from graph_schema.epcis.query import (
    QUERY_PARAMETER_EXCEPTION,
    ParsedQuery,
    QueryError,
    canonical_identifier,
    page_token,
    parse_simple_event_query,
    with_fixed,
)
from graph_schema.epcis.vocabulary import BIZ_STEP, DISPOSITION
from graph_schema.errors import CONFLICT, FORBIDDEN, NOT_FOUND, UNAVAILABLE, Conflict
from hub import capture_jobs
from hub.epcis_negotiation import Answer, negotiate, query_document_response
from hub.graphql_app import unauthenticated_response
from hub.state import HubState

log = logging.getLogger(__name__)

EPCIS_HEADERS: Final = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
DISCOVERY_HEADERS: Final = {
    **EPCIS_HEADERS,
    "GS1-EPCIS-Min": "2.0.0",
    "GS1-EPCIS-Max": "2.0.0",
    "GS1-CBV-Min": "2.0.0",
    "GS1-CBV-Max": "2.0.0",
    "GS1-EPC-Format": "No_Preference",
}
QUERY_TOO_LARGE: Final = "epcisException:QueryTooLargeException"
DEFAULT_PER_PAGE: Final = 30
MAX_PER_PAGE: Final = 1000


def problem(status: int, title: str, detail: str, code: str, *, type_: str = "about:blank", **extra: Any) -> Response:
    """An RFC 9457 problem document with the hub's stable error code (and the standard's exception as its type)."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, "code": code, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=EPCIS_HEADERS)


def query_problem(error: QueryError) -> Response:
    """A parameter the hub cannot answer: the standard's QueryParameterException, naming it."""
    return problem(400, "Bad query", error.message, error.code, type_=QUERY_PARAMETER_EXCEPTION, field=error.field)


def collection(members: list[str]) -> dict[str, Any]:
    """The REST binding's Collection of URIs, terms or sub-resources."""
    return {"@context": [EPCIS_CONTEXT], "type": "Collection", "member": members}


def _principal(request: Request) -> Principal | None:
    user = request.scope.get("user")
    principal = getattr(user, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _token(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _untoken(token: str) -> list[Any] | None:
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, TypeError):
        return None
    return decoded if isinstance(decoded, list) else None


def _per_page(request: Request) -> int | None:
    text = request.query_params.get("perPage", str(DEFAULT_PER_PAGE))
    return int(text) if text.isdigit() and 1 <= int(text) <= MAX_PER_PAGE else None


def _next_link(request: Request, token: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "nextPageToken"]
    return f'<{quote(request.url.path)}?{urlencode([*params, ("nextPageToken", token)])}>; rel="next"'


class EpcisResources:
    """The routes, bound to the hub's state once the lifespan has opened it."""

    def __init__(self, state: Callable[[], HubState]) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The EPCIS query endpoints, the top-level resources, capture discovery and named queries."""
        sub = self.sub_resources
        return [
            Route("/epcis/events", self.events, methods=["GET"]),
            Route("/epcis/events/{event_id:path}", self.event, methods=["GET"]),
            Route("/epcis/capture", self.capture_discovery, methods=["OPTIONS"]),
            Route("/epcis/capture", self.capture_jobs, methods=["GET"]),
            Route("/epcis/eventTypes", self.event_types, methods=["GET"]),
            Route("/epcis/eventTypes/{value}", sub, methods=["GET"]),
            Route("/epcis/eventTypes/{value}/events", self.events_of("eventType"), methods=["GET"]),
            Route("/epcis/epcs", self.vocabulary("epc"), methods=["GET"]),
            Route("/epcis/epcs/{value:path}/events", self.events_of("epc"), methods=["GET"]),
            Route("/epcis/bizSteps", self.vocabulary("bizStep"), methods=["GET"]),
            Route("/epcis/bizSteps/{value:path}/events", self.events_of("bizStep"), methods=["GET"]),
            Route("/epcis/bizSteps/{value:path}", sub, methods=["GET"]),
            Route("/epcis/dispositions", self.vocabulary("disposition"), methods=["GET"]),
            Route("/epcis/dispositions/{value:path}/events", self.events_of("disposition"), methods=["GET"]),
            Route("/epcis/dispositions/{value:path}", sub, methods=["GET"]),
            Route("/epcis/bizLocations", self.vocabulary("bizLocation"), methods=["GET"]),
            Route("/epcis/bizLocations/{value:path}/events", self.events_of("bizLocation"), methods=["GET"]),
            Route("/epcis/readPoints", self.vocabulary("readPoint"), methods=["GET"]),
            Route("/epcis/readPoints/{value:path}/events", self.events_of("readPoint"), methods=["GET"]),
            Route("/epcis/epcs/{value:path}", sub, methods=["GET"]),
            Route("/epcis/bizLocations/{value:path}", sub, methods=["GET"]),
            Route("/epcis/readPoints/{value:path}", sub, methods=["GET"]),
            Route("/epcis/queries", self.create_query, methods=["POST"]),
            Route("/epcis/queries", self.list_queries, methods=["GET"]),
            Route("/epcis/queries/{name}", self.get_query, methods=["GET"]),
            Route("/epcis/queries/{name}", self.delete_query, methods=["DELETE"]),
            Route("/epcis/queries/{name}/events", self.query_events, methods=["GET"]),
        ]

    def _graph(self) -> Graph:
        state = self.state()
        return Graph(state.driver, database=state.settings.neo4j_database)

    async def _viewer(self, principal: Principal) -> Viewer:
        decision = await decide_for_request(self._graph(), principal)
        return decision.viewer

    async def _logged(self, principal: Principal, rows: list[Row], operation: str) -> Response | None:
        """Others' events are returned only once their reading is logged: None when it is, else the refusal."""
        counts: dict[str, int] = {}
        for row in rows:
            if row["capturedBy"] != principal.firm_id:
                counts[row["capturedBy"]] = counts.get(row["capturedBy"], 0) + 1
        try:
            await record_access(
                self.state().sql_engine,
                accessor_firm_id=principal.firm_id,
                accessor_subject=principal.subject,
                accessor_issuer=principal.issuer,
                operation=operation,
                counts=counts,
            )
        except Exception:
            log.exception("could not write the access log")
            return problem(503, "Unavailable", "the access log cannot be written; try again shortly", UNAVAILABLE)
        return None

    # --- events ------------------------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        """GET /epcis/events: SimpleEventQuery parameters in, an EPCIS query document out, paged."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        answer = negotiate(request)  # JSON-LD or XML, the GS1-* headers: refused before any work
        if isinstance(answer, Response):
            return answer
        try:
            parsed = parse_simple_event_query(request.query_params.multi_items())
        except QueryError as error:
            return query_problem(error)
        return await self._answer(request, principal, parsed, answer, operation="GET /epcis/events")

    async def _answer(
        self, request: Request, principal: Principal, parsed: ParsedQuery, answer: Answer, *, operation: str
    ) -> Response:
        graph = self._graph()
        try:
            viewer = await self._viewer(principal)
            # the whole result, on every page: events captured between two pages count too (the standard raises
            # QueryTooLargeException whenever the result would exceed maxEventCount)
            if parsed.max_event_count is not None:
                matched = await count_events(graph, viewer, parsed.filter, at_most=parsed.max_event_count + 1)
                if matched > parsed.max_event_count:
                    return problem(
                        413,
                        "Query too large",
                        f"the query matches more than maxEventCount={parsed.max_event_count} events; narrow it",
                        "LIMIT_EXCEEDED",
                        type_=QUERY_TOO_LARGE,
                        field="maxEventCount",
                    )
            size = parsed.page_size
            rows = await query_events(graph, viewer, parsed.filter, after=parsed.after, limit=size + 1) if size else []
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
        page = rows[:size]
        refused = await self._logged(principal, page, operation)
        if refused is not None:
            return refused
        headers = dict(EPCIS_HEADERS)
        served = parsed.served + len(page)
        more = len(rows) > size and (parsed.event_count_limit is None or served < parsed.event_count_limit)
        if more:
            last = page[-1]
            token = page_token(parsed, sort_key=sort_position(last), event_id=last["eventId"], served=served)
            headers["Link"] = _next_link(request, token)
        return query_document_response([orjson.loads(row["json"]) for row in page], answer, headers=headers)

    async def event(self, request: Request) -> Response:
        """GET /epcis/events/{eventID}: one event the caller may see, in a query document; 404 otherwise."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        answer = negotiate(request)  # JSON-LD or XML, the GS1-* headers: refused before any work
        if isinstance(answer, Response):
            return answer
        event_id = request.path_params["event_id"]
        try:
            row = await event_by_id(self._graph(), await self._viewer(principal), event_id)
        except GraphUnavailable as error:
            return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
        if row is None:  # unknown and hidden alike: whether another firm's event exists is not disclosed
            return problem(404, "Not found", f"no event {event_id!r} that your firm may see", NOT_FOUND)
        refused = await self._logged(principal, [row], "GET /epcis/events/{eventID}")
        if refused is not None:
            return refused
        return query_document_response([orjson.loads(row["json"])], answer)

    def events_of(self, resource: str) -> Callable[[Request], Any]:
        """GET /epcis/<resource>/{value}/events: the query with the resource's own parameter fixed."""

        async def answer(request: Request) -> Response:
            principal = _principal(request)
            if principal is None:
                return unauthenticated_response()
            answer = negotiate(request)
            if isinstance(answer, Response):
                return answer
            value = request.path_params["value"]
            try:
                parsed = parse_simple_event_query(request.query_params.multi_items())
                parsed = _fixed(parsed, resource, value)
            except QueryError as error:
                return query_problem(error)
            return await self._answer(request, principal, parsed, answer, operation=f"GET /epcis/{resource}/events")

        return answer

    async def sub_resources(self, request: Request) -> Response:
        """GET /epcis/<resource>/{value}: its sub-resources (HATEOAS), which are its events."""
        if _principal(request) is None:
            return unauthenticated_response()
        value = request.path_params["value"]
        if request.url.path.startswith("/epcis/eventTypes/") and value not in {t.value for t in EventType}:
            return problem(404, "Not found", f"{value!r} is not an EPCIS event type", NOT_FOUND)
        return JSONResponse(collection(["events"]), headers=EPCIS_HEADERS)

    # --- the vocabularies in use -------------------------------------------------------------------------

    async def event_types(self, request: Request) -> Response:
        """GET /epcis/eventTypes: the five event types of EPCIS 2.0 (the hub keeps no others)."""
        if _principal(request) is None:
            return unauthenticated_response()
        return JSONResponse(collection(sorted(t.value for t in EventType)), headers=EPCIS_HEADERS)

    def vocabulary(self, field: str) -> Callable[[Request], Any]:
        """GET /epcis/bizSteps, /dispositions (the CBV's terms and the custom ones in the caller's events),
        /bizLocations, /readPoints (the places of the events the caller may see) and /epcs (the EPCs and EPC classes
        of the events the caller may see), paged."""
        standard = {"bizStep": BIZ_STEP.terms, "disposition": DISPOSITION.terms}.get(field, frozenset())

        async def answer(request: Request) -> Response:
            principal = _principal(request)
            if principal is None:
                return unauthenticated_response()
            per_page = _per_page(request)
            if per_page is None:
                return query_problem(
                    QueryError(f"perPage must be a whole number from 1 to {MAX_PER_PAGE}", field="perPage")
                )
            token = request.query_params.get("nextPageToken")
            after, in_use = "", not standard  # where the last page ended, and whether past the CBV's own terms
            if token is not None:
                decoded = _untoken(token)
                if (
                    decoded is None
                    or len(decoded) not in (2, 3)
                    or decoded[0] != field
                    or not isinstance(decoded[1], str)
                    or decoded[2:] not in ([], [1])
                ):
                    return query_problem(QueryError("nextPageToken is not one this hub issued", field="nextPageToken"))
                after, in_use = decoded[1], in_use or len(decoded) == 3
            # the CBV's own terms come first (known to everyone), then the values found in events, by value
            terms = [] if in_use else sorted(term for term in standard if term > after)
            members = terms[: per_page + 1]
            if len(members) <= per_page:
                try:
                    found = await values_in_use(
                        self._graph(),
                        await self._viewer(principal),
                        field,
                        after=after if in_use else "",
                        limit=per_page + 1 - len(members),
                    )
                except GraphUnavailable as error:
                    return problem(503, "Unavailable", error.message, UNAVAILABLE, store="neo4j")
                members += found
            headers = dict(EPCIS_HEADERS)
            if len(members) > per_page:
                members = members[:per_page]
                last_in_use = per_page > len(terms)  # the page ends among the values in use
                headers["Link"] = _next_link(request, _token([field, members[-1], *([1] if last_in_use else [])]))
            return JSONResponse(collection(members), headers=headers)

        return answer

    # --- the capture interface's discovery -----------------------------------------------------------------

    async def capture_discovery(self, request: Request) -> Response:
        """OPTIONS /epcis/capture: what the capture interface takes, in the standard's headers."""
        if _principal(request) is None:
            return unauthenticated_response()
        settings = self.state().settings
        headers = {
            **DISCOVERY_HEADERS,
            "Allow": "OPTIONS, POST, GET",
            "GS1-Capture-Error-Behaviour": "rollback, proceed",
            "GS1-EPCIS-Capture-Limit": str(settings.epcis_max_document_events),
            "GS1-EPCIS-Capture-File-Size-Limit": str(settings.epcis_max_document_mb * 1_048_576),
        }
        return Response(status_code=204, headers=headers)

    async def capture_jobs(self, request: Request) -> Response:
        """GET /epcis/capture: the caller's firm's capture jobs, newest first, paged."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        per_page = _per_page(request)
        if per_page is None:
            return query_problem(
                QueryError(f"perPage must be a whole number from 1 to {MAX_PER_PAGE}", field="perPage")
            )
        before: tuple[datetime, str] | None = None
        token = request.query_params.get("nextPageToken")
        if token is not None:
            decoded = _untoken(token)
            try:
                before = (
                    (datetime.fromisoformat(decoded[0]), str(decoded[1])) if decoded and len(decoded) == 2 else None
                )
            except (TypeError, ValueError):
                before = None
            if before is None:
                return query_problem(QueryError("nextPageToken is not one this hub issued", field="nextPageToken"))
        jobs = await capture_jobs.list_jobs(
            self.state().sql_engine, firm_id=principal.firm_id, before=before, limit=per_page + 1
        )
        headers = dict(EPCIS_HEADERS)
        if len(jobs) > per_page:
            jobs = jobs[:per_page]
            headers["Link"] = _next_link(request, _token([jobs[-1].created_at.isoformat(), jobs[-1].id]))
        return JSONResponse([job.document() for job in jobs], headers=headers)

    # --- named queries -----------------------------------------------------------------------------------

    async def create_query(self, request: Request) -> Response:
        """POST /epcis/queries: a named query of the firm, its parameters checked now; 201 with its location."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if not principal.can_edit:
            return problem(403, "Forbidden", "to create a named query you need the admin or editor role", FORBIDDEN)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return query_problem(QueryError("the body is not JSON", field="body"))
        try:
            name, query = named_queries.validate_definition(body)
            await named_queries.create_named_query(
                self.state().sql_engine, firm_id=principal.firm_id, subject=principal.subject, name=name, query=query
            )
        except Conflict as error:
            return problem(
                409,
                "Conflict",
                error.message,
                CONFLICT,
                type_="epcisException:ResourceAlreadyExistsException",
                field=error.field,
            )
        except named_queries.LimitReached as error:
            return problem(403, "Too many named queries", error.message, error.code, field=error.field)
        except QueryError as error:
            return query_problem(error)
        location = f"/epcis/queries/{quote(name, safe='')}"
        return JSONResponse(
            {"name": name, "query": query}, status_code=201, headers={"Location": location, **EPCIS_HEADERS}
        )

    async def list_queries(self, request: Request) -> Response:
        """GET /epcis/queries: the caller's firm's named queries, by name, paged."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        per_page = _per_page(request)
        if per_page is None:
            return query_problem(
                QueryError(f"perPage must be a whole number from 1 to {MAX_PER_PAGE}", field="perPage")
            )
        after = ""
        token = request.query_params.get("nextPageToken")
        if token is not None:
            decoded = _untoken(token)
            if not decoded or len(decoded) != 1 or not isinstance(decoded[0], str):
                return query_problem(QueryError("nextPageToken is not one this hub issued", field="nextPageToken"))
            after = decoded[0]
        rows = await named_queries.list_named_queries(
            self.state().sql_engine, firm_id=principal.firm_id, after=after, limit=per_page + 1
        )
        headers = dict(EPCIS_HEADERS)
        if len(rows) > per_page:
            rows = rows[:per_page]
            headers["Link"] = _next_link(request, _token([rows[-1].name]))
        return JSONResponse([row.document() for row in rows], headers=headers)

    async def _named(self, request: Request, principal: Principal) -> named_queries.NamedQuery | Response:
        name = request.path_params["name"]
        row = await named_queries.get_named_query(self.state().sql_engine, firm_id=principal.firm_id, name=name)
        if row is None:
            return problem(404, "Not found", f"your firm has no query named {name!r}", NOT_FOUND)
        return row

    async def get_query(self, request: Request) -> Response:
        """GET /epcis/queries/{name}: the definition of one of the firm's queries."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        row = await self._named(request, principal)
        if isinstance(row, Response):
            return row
        return JSONResponse(row.document(), headers=EPCIS_HEADERS)

    async def delete_query(self, request: Request) -> Response:
        """DELETE /epcis/queries/{name}: remove one of the firm's queries."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if not principal.can_edit:
            return problem(403, "Forbidden", "to delete a named query you need the admin or editor role", FORBIDDEN)
        name = request.path_params["name"]
        if not await named_queries.delete_named_query(self.state().sql_engine, firm_id=principal.firm_id, name=name):
            return problem(404, "Not found", f"your firm has no query named {name!r}", NOT_FOUND)
        engine = self.state().sql_engine  # its subscriptions end with it
        await anyio.to_thread.run_sync(
            lambda: subscriptions.unsubscribe_query(engine, firm_id=principal.firm_id, query_name=name)
        )
        return Response(status_code=204, headers=EPCIS_HEADERS)

    async def query_events(self, request: Request) -> Response:
        """GET /epcis/queries/{name}/events: the query's events the caller may see now, paged."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        answer = negotiate(request)  # JSON-LD or XML, the GS1-* headers: refused before any work
        if isinstance(answer, Response):
            return answer
        row = await self._named(request, principal)
        if isinstance(row, Response):
            return row
        paging = request.query_params.multi_items()
        for key, _ in paging:
            if key not in named_queries.NOT_IN_DEFINITION:
                return query_problem(
                    QueryError(
                        f"{key}: a named query's parameters are in its definition; only perPage and nextPageToken"
                        " are given when it runs",
                        field=key,
                    )
                )
        try:
            parsed = row.parsed(paging=paging)
        except QueryError as error:
            return query_problem(error)
        return await self._answer(request, principal, parsed, answer, operation="GET /epcis/queries/events")


def discovery_routes(routes: Sequence[BaseRoute]) -> list[Route]:
    """OPTIONS on every EPCIS resource that has none of its own: 204 with ``Allow`` and the standard's discovery
    headers (versions and EPC format), in the order of ``routes`` so that paths match as their methods' do."""
    methods: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Route) and route.path.startswith("/epcis/"):
            methods.setdefault(route.path, set()).update(route.methods or ())
    allowed = {path: kinds for path, kinds in methods.items() if "OPTIONS" not in kinds}

    def answer(allow: str) -> Callable[[Request], Any]:
        async def options(request: Request) -> Response:
            if _principal(request) is None:
                return unauthenticated_response()
            return Response(status_code=204, headers={**DISCOVERY_HEADERS, "Allow": allow})

        return options

    return [
        Route(path, answer(", ".join(["OPTIONS", *sorted(kinds - {"HEAD"})])), methods=["OPTIONS"])
        for path, kinds in allowed.items()
    ]


def _fixed(parsed: ParsedQuery, resource: str, value: str) -> ParsedQuery:
    """The query narrowed to one resource: an event type, an EPC (or class), a step, a disposition or a place."""
    # the resource's parameter comes from the path: given again in the query string, it would be ambiguous
    clash = {
        "eventType": parsed.filter.event_types,
        "bizStep": parsed.filter.biz_steps,
        "disposition": parsed.filter.dispositions,
        "bizLocation": parsed.filter.biz_locations,
        "readPoint": parsed.filter.read_points,
    }.get(resource)
    if clash is not None:
        name = resource if resource == "eventType" else f"EQ_{resource}"
        raise QueryError(f"{name} is given by the path of this resource; leave it out of the query", field=name)
    if resource == "eventType":
        if value not in {t.value for t in EventType}:
            raise QueryError(f"{value!r} is not an EPCIS event type", field="eventType")
        return with_fixed(parsed, event_types=[value])
    if resource == "epc":
        items = [("MATCH_anyEPCClass" if ":class:" in value or ":idpat:" in value else "MATCH_anyEPC", value)]
        extra = parse_simple_event_query(items).filter.terms
        return with_fixed(parsed, terms=(*parsed.filter.terms, *extra))
    if resource in ("bizStep", "disposition"):
        field = "EQ_bizStep" if resource == "bizStep" else "EQ_disposition"
        extra_filter = parse_simple_event_query([(field, value)]).filter
        key = "biz_steps" if resource == "bizStep" else "dispositions"
        return with_fixed(parsed, **{key: getattr(extra_filter, key)})
    canonical = canonical_identifier(f"EQ_{resource}", value)
    return with_fixed(parsed, **{"biz_locations" if resource == "bizLocation" else "read_points": [canonical]})
