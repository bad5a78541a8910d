"""The /graphql endpoint: Strawberry's ASGI app with the hub's per-request context and a 401 at the door."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy import Engine
from starlette.authentication import AuthenticationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from auth.backend import BearerTokenBackend, PrincipalUser
from auth.clients import client_is_active, client_of
from auth.people import active_account, person_of
from auth.principal import Principal
from graph_schema.db import Graph, transaction_scope
from hub.graphql_http import (
    BAD_REQUEST,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    is_request_error,
    request_error_body,
    response_media_type,
)
from hub.settings import Settings
from hub.state import HubState
from hub.websocket_limits import MessageGuard
from resolvers.access_log import log_access
from resolvers.compiled import CompiledReads, coerce_variables, execute_plan
from resolvers.context import Context
from resolvers.documents import DocumentPolicy
from resolvers.limits import DocumentChecks, DocumentLimits
from resolvers.schema import build_schema

log = logging.getLogger(__name__)


def document_limits(settings: Settings) -> DocumentLimits:
    """What one GraphQL document may ask for, from the settings."""
    return DocumentLimits(
        tokens=settings.max_tokens,
        aliases=settings.max_aliases,
        field_duplicates=settings.max_field_duplicates,
        directives=settings.max_directives,
        depth=settings.max_query_depth,
        cost=settings.max_query_cost,
        default_list_size=settings.query_cost_list_size,
    )


def unauthenticated_response() -> Response:
    """401 for a request without a valid token: no data, and what to do about it."""
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Unauthenticated",
            "status": 401,
            "detail": "send 'Authorization: Bearer <token>' with a valid token; see the README for how to get one",
            "code": "UNAUTHENTICATED",
        },
        status_code=401,
        media_type="application/problem+json",
        headers={"WWW-Authenticate": 'Bearer realm="food-cluster-hub"'},
    )


# graphql-transport-ws close codes: sign in again (the token expired), or no longer allowed (client revoked)
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_CLIENT_REVOKED = 4403


class _Watch:
    """Closes one websocket when its token expires or its API client is revoked."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.principal: Principal | None = None
        self.known = anyio.Event()
        self.context_key: int | None = None  # the connection's context, until its connection_init signs it in

    def signed_in(self, principal: Principal) -> None:
        self.principal = principal
        self.known.set()

    async def run(self, state: HubState) -> None:
        await self.known.wait()
        principal = self.principal
        assert principal is not None
        client_id = client_of(principal.subject) if principal.issuer == state.issuer.issuer else None
        person_id = person_of(principal.subject) if principal.issuer == state.issuer.issuer else None
        recheck = state.settings.websocket_recheck_seconds
        while True:
            left = principal.expires_at - time.time() if principal.expires_at is not None else math.inf
            if left <= 0:
                await self._close(CLOSE_TOKEN_EXPIRED, "the token expired: connect again with a new one")
                return
            await anyio.sleep(min(left, recheck) if client_id is not None or person_id is not None else left)
            if person_id is not None and time.time() < (principal.expires_at or math.inf):
                try:
                    enabled = await active_account(state.sql_engine, person_id) is not None
                except Exception:  # as for clients below: the token still proves who it is until it expires
                    log.warning("could not check the account %s of an open websocket", person_id, exc_info=True)
                    continue
                if not enabled:
                    await self._close(CLOSE_CLIENT_REVOKED, "the account was disabled")
                    return
            if client_id is not None and time.time() < (principal.expires_at or math.inf):
                try:
                    active = await client_is_active(state.sql_engine, client_id)
                except Exception:  # the SQL store is down: the token still proves who it is until it expires
                    log.warning("could not check API client %s of an open websocket", client_id, exc_info=True)
                    continue
                if not active:
                    await self._close(CLOSE_CLIENT_REVOKED, "the API client was revoked")
                    return

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # already closed by the client or the server
            log.debug("websocket already closed", exc_info=True)


class TextFrameWebSocket(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames: the JSON the hub encodes is bytes (orjson), which Strawberry
    would send as binary frames, and a browser's client (graphql-ws) reads a binary frame as no message at all."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class HubGraphQL(GraphQL[Context, None]):
    """GraphQL over HTTP and websockets; every request's context carries its principal and visibility."""

    websocket_adapter_class = TextFrameWebSocket

    state: HubState  # set by the app's lifespan before the first request
    backend: BearerTokenBackend  # set by the app factory: websockets sign in with the same checks as HTTP
    # GraphiQL as the portal's build serves it (hub/portal.py), in place of Strawberry's page from a CDN
    ide_page: Callable[[Request], Awaitable[Response]] | None = None

    def __init__(self, settings: Settings) -> None:
        self.documents = DocumentPolicy(
            trusted_only=settings.runs_trusted_documents_only,
            persisted_queries=settings.persisted_queries_enabled,
            engine=self._sql_engine,
        )
        super().__init__(
            build_schema(
                limits=document_limits(settings),
                cache_size=settings.graphql_cache_size,
                documents=self.documents,
                introspection=settings.introspection_enabled,
                suggestions=settings.field_suggestions_enabled,
            ),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # importSpreadsheet's file; multipart is off by default against cross-site forms, which cannot
            # carry the bearer header every request here needs
            multipart_uploads_enabled=True,
        )
        self._watches: dict[int, _Watch] = {}  # websocket contexts (by id) waiting for their connection_init
        self.timeout_seconds = settings.graphql_timeout_seconds
        self.websocket_limits = (
            settings.websocket_messages_per_second,
            settings.websocket_message_burst,
            settings.websocket_max_operations,
        )
        self.compiled: CompiledReads | None = (
            CompiledReads(
                self.schema._schema,  # type: ignore[attr-defined]
                DocumentChecks(document_limits(settings)),
                maxsize=settings.graphql_cache_size,
            )
            if settings.compiled_reads
            else None
        )

    def _sql_engine(self) -> Engine | None:
        state = getattr(self, "state", None)
        return None if state is None else state.sql_engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        authenticated = isinstance(user, PrincipalUser)
        if scope["type"] == "http" and not authenticated and not self._is_ide_page(scope):
            await unauthenticated_response()(scope, receive, send)
            return
        if scope["type"] == "http":  # as Strawberry does, with request errors as JSON
            request = Request(scope=scope, receive=receive)
            # Every transaction of the request gets what is left of its allowance as its timeout in Neo4j (a
            # websocket's subscriptions live as long as it does: no allowance for them).
            with transaction_scope(seconds=self.timeout_seconds):
                try:
                    response = await self._compiled_answer(request) or await self.run(request)
                except HTTPException as error:
                    response = self._request_error(request, error)
            await response(scope, receive, send)
            return
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        # a websocket lives longer than its token may: a watch closes it at the token's expiry or when its API
        # client is revoked, and ends with the connection
        watch = _Watch(send)
        scope["hub.watch"] = watch
        receive, send = MessageGuard(
            per_second=self.websocket_limits[0], burst=self.websocket_limits[1], max_operations=self.websocket_limits[2]
        ).wrap(receive, send)
        if isinstance(user, PrincipalUser):
            watch.signed_in(user.principal)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch.run, self.state)
            try:
                await super().__call__(scope, receive, send)
            finally:
                tasks.cancel_scope.cancel()
                if watch.context_key is not None:  # a connection that never signed in
                    self._watches.pop(watch.context_key, None)

    async def _compiled_answer(self, request: Request) -> Response | None:
        """A read of a known shape answered by its compiled plan (resolvers/compiled.py), skipping Strawberry's
        parsing, validation and execution; None when the resolvers are to answer it (anything the plan does not
        cover, any error: their answer and errors are then the ones the client gets)."""
        compiled = self.compiled
        if compiled is None or request.method != "POST":
            return None
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict):
            return None
        query, name, variables, extensions = (
            body.get(k) for k in ("query", "operationName", "variables", "extensions")
        )
        if not (
            isinstance(query, str | None)
            and isinstance(name, str | None)
            and isinstance(variables, dict | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        try:
            text = await self.documents.resolve(query, extensions)
        except GraphQLError:
            return None
        plan = None if text is None else compiled.plan_for(text, name)
        if plan is None:
            return None
        try:
            if not compiled.within_cost(plan, variables):
                return None
            context = await self.get_context(request, Response())
            data = await execute_plan(
                plan, context, compiled.schema, coerce_variables(compiled.schema, plan, variables)
            )
        except Exception:  # Fallback, or a fault the resolvers report as they always do
            return None
        if not await log_access(context, plan.label):
            return None  # the resolvers try again, and withhold their answer if the log still cannot be written
        return Response(
            orjson.dumps({"data": data}),
            status_code=200,
            media_type=response_media_type(request.headers.get("accept")),
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        if self.ide_page is not None:
            return await self.ide_page(request)
        return await super().render_graphql_ide(request)

    def _is_ide_page(self, scope: Scope) -> bool:
        if self.graphql_ide is None or scope.get("method") != "GET":
            return False
        request = Request(scope)
        return "text/html" in request.headers.get("accept", "") and "query" not in request.query_params

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        user = request.scope.get("user")
        context = Context(
            graph=Graph(self.state.driver, database=self.state.settings.neo4j_database),
            principal=user.principal if isinstance(user, PrincipalUser) else None,
            redaction_key=self.state.redaction_key,
            max_page_size=self.state.settings.max_page_size,
            sql_engine=self.state.sql_engine,
            websocket=isinstance(request, WebSocket),
            decisions=self.state.decisions,
            profiles=self.state.profiles,
            changes=self.state.changes,
            notifier=self.state.notifier,
        )
        if not context.websocket:  # a websocket decides per operation (resolvers.schema.DecidePerOperation)
            await context.decide()
        else:
            watch: _Watch = request.scope["hub.watch"]
            watch.context_key = id(context)
            self._watches[id(context)] = watch
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Sign in a websocket with the bearer token of its ``connection_init`` payload (or of its handshake)."""
        acknowledged: UnsetType = UNSET  # connection_ack without a payload
        if context.principal is not None:
            return acknowledged
        raw = (context.connection_params or {}).get("Authorization") or (context.connection_params or {}).get(
            "authorization"
        )
        scheme, _, token = raw.partition(" ") if isinstance(raw, str) else ("", "", "")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "send connection_init with {'Authorization': 'Bearer <token>'}"}
            )
        try:
            context.principal = await self.backend.principal_for(token.strip(), context.graph)
        except AuthenticationError:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": "invalid token"}) from None
        if context.principal.is_device:
            context.principal = None
            raise ConnectionRejectionError({"code": "FORBIDDEN", "message": "the device role may only post readings"})
        watch = self._watches.pop(id(context), None)
        if watch is not None:
            watch.signed_in(context.principal)
        return acknowledged

    def _request_error(self, request: Request, error: HTTPException) -> Response:
        """A request that cannot be read as GraphQL gets a GraphQL response too (a JSON body with the error's
        message and code) rather than Strawberry's line of plain text."""
        media_type = response_media_type(request.headers.get("accept"))
        not_allowed = error.status_code == 405
        return Response(
            self.encode_json(request_error_body(error.reason, "METHOD_NOT_ALLOWED" if not_allowed else BAD_REQUEST)),
            status_code=error.status_code,
            media_type=media_type,
            headers={"Allow": "GET, POST"} if not_allowed else None,
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        request.state.graphql_sub_response = sub_response  # for process_result, which sets its status
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The answer in the media type the client asked for, with the spec's status code for it."""
        answer = await super().process_result(request, result)
        sub_response: Response = request.state.graphql_sub_response
        media_type = response_media_type(request.headers.get("accept"))
        sub_response.media_type = media_type
        if media_type == GRAPHQL_RESPONSE_JSON and is_request_error(result.data, result.errors):
            answer.pop("data", None)
            sub_response.status_code = 400
        return answer

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or 200,
            media_type=sub_response.media_type or JSON,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)
