"""EPCIS 2.0 query subscriptions over HTTP: webhooks under /epcis/queries/{name}/subscriptions, and websockets.

- ``POST /epcis/queries/{name}/subscriptions`` with ``{"dest": <URL>, "stream": true, "signatureToken": ...}``
  subscribes a webhook to one of the caller firm's named queries (the firm's admin, as for ``registerWebhook``);
  ``GET`` lists them, ``GET``/``DELETE .../subscriptions/{id}`` reads or ends one. Deliveries go through the hub's
  notification outbox: signed (``GS1-Signature``), retried, logged (``graph_schema.epcis.subscriptions``).
- A websocket on ``/epcis/queries/{name}/events?stream=true`` (the standard's handshake, with the bearer token in
  the ``Authorization`` header) is sent each capture's matching events as EPCISQueryDocuments, as text messages,
  until it closes or its token expires. At most ``MAX_STREAMS_PER_FIRM`` open per firm in one hub process.

Scheduled subscriptions (``schedule``, ``second``...``dayOfWeek``) are refused by name. What is sent is decided at
each push with the subscriber's permission decision of that moment (``resolvers.epcis_subscriptions``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import anyio
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.backend import PrincipalUser
from auth.decisions import decide_for_request
from auth.principal import Principal, Role
from graph_schema.db import Graph, GraphUnavailable
from graph_schema.epcis import subscriptions
from graph_schema.epcis.named_queries import get_named_query
from graph_schema.errors import BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, HubError
from graph_schema.notifications import check_webhook_url
from hub.epcis import EPCIS_HEADERS, problem
from hub.graphql_app import unauthenticated_response
from hub.settings import Environment
from hub.state import HubState
from resolvers.broadcast import Notice
from resolvers.epcis_subscriptions import KIND, matching_documents, publish_window

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 16_384
MAX_STREAMS_PER_FIRM: Final = 10
MAX_STREAMS: Final = 200
SCHEDULE_PARAMETERS: Final = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
# websocket close codes (RFC 6455): policy violation, unsupported data, try again later
POLICY: Final = 1008
UNSUPPORTED: Final = 1003
TRY_AGAIN_LATER: Final = 1013


def _principal(request: Request | WebSocket) -> Principal | None:
    user = request.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else None


def _graph(state: HubState) -> Graph:
    return Graph(state.driver, database=state.settings.neo4j_database)


def _location(name: str, subscription_id: str) -> str:
    return f"/epcis/queries/{quote(name, safe='')}/subscriptions/{quote(subscription_id, safe='')}"


def _hub_error(status: int, error: HubError) -> Response:
    title = {400: "Bad request", 403: "Forbidden", 404: "Not found", 429: "Too many"}.get(status, "Error")
    return problem(status, title, error.message, error.code, **({"field": error.field} if error.field else {}))


class SubscriptionRoutes:
    """The subscription endpoints, with this process's open streams counted per firm."""

    def __init__(self) -> None:
        self.streams: Counter[str] = Counter()

    def routes(self) -> list[Route | WebSocketRoute]:
        """Webhook subscriptions and the websocket stream of a named query's events."""
        return [
            Route("/epcis/queries/{name}/subscriptions", self.subscribe, methods=["POST"]),
            Route("/epcis/queries/{name}/subscriptions", self.list_subscriptions, methods=["GET"]),
            Route("/epcis/queries/{name}/subscriptions/{subscription_id}", self.read, methods=["GET"]),
            Route("/epcis/queries/{name}/subscriptions/{subscription_id}", self.delete, methods=["DELETE"]),
            WebSocketRoute("/epcis/queries/{name}/events", self.stream),
        ]

    async def _named_query(self, state: HubState, principal: Principal, name: str) -> dict[str, Any] | None:
        row = await get_named_query(state.sql_engine, firm_id=principal.firm_id, name=name)
        return None if row is None else dict(orjson.loads(row.query_json))

    # --- webhooks ---------------------------------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        """POST: subscribe a webhook to the named query; 201 with its Location."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if Role.ADMIN not in principal.roles:
            detail = "subscribing a webhook to a query needs your firm's admin role, as registering a webhook does"
            return problem(403, "Forbidden", detail, FORBIDDEN)
        state: HubState = request.app.state.hub
        name = request.path_params["name"]
        query = await self._named_query(state, principal, name)
        if query is None:
            return problem(404, "Not found", f"your firm has no named query {name!r}", NOT_FOUND, field="name")
        try:
            body = await _json_body(request)
            asked = subscriptions.check_request(body)
            allow_private = state.settings.env is not Environment.PRODUCTION
            dest = await anyio.to_thread.run_sync(
                lambda: check_webhook_url(asked.dest, allow_private=allow_private, field="dest")
            )
            made = await anyio.to_thread.run_sync(
                lambda: subscriptions.subscribe(
                    state.sql_engine,
                    firm_id=principal.firm_id,
                    query_name=name,
                    query=query,
                    dest=dest,
                    signature_token=asked.signature_token,
                    created_by=principal.subject,
                    schedule=asked.schedule,
                    report_if_empty=asked.report_if_empty,
                    initial_record_time=asked.initial_record_time,
                )
            )
        except subscriptions.SubscriptionLimit as error:
            return _hub_error(429, error)
        except HubError as error:
            return _hub_error(400, error)
        if asked.initial_record_time is not None and asked.schedule is None:
            # the events recorded since initialRecordTime, pushed now (a scheduled one's first run starts there)
            created = datetime.fromtimestamp(made.created_at_ms / 1000, UTC)
            await publish_window(
                state.sql_engine,
                subscription_id=made.id,
                start=asked.initial_record_time,
                end=created.isoformat(),
                report_if_empty=False,
                key=f"EPCIS-INITIAL:{made.id}",
            )
        headers = {"Location": _location(name, made.id), **EPCIS_HEADERS}
        return JSONResponse(made.document(), status_code=201, headers=headers)

    async def list_subscriptions(self, request: Request) -> Response:
        """GET: the firm's subscriptions to the named query."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        state: HubState = request.app.state.hub
        name = request.path_params["name"]
        if await self._named_query(state, principal, name) is None:
            return problem(404, "Not found", f"your firm has no named query {name!r}", NOT_FOUND, field="name")
        found = await anyio.to_thread.run_sync(
            lambda: subscriptions.subscriptions_of(state.sql_engine, firm_id=principal.firm_id, query_name=name)
        )
        return JSONResponse([each.document() for each in found], headers=EPCIS_HEADERS)

    async def read(self, request: Request) -> Response:
        """GET one subscription of the firm."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        state: HubState = request.app.state.hub
        name, subscription_id = request.path_params["name"], request.path_params["subscription_id"]
        found = await anyio.to_thread.run_sync(
            lambda: subscriptions.get_subscription(
                state.sql_engine, firm_id=principal.firm_id, query_name=name, subscription_id=subscription_id
            )
        )
        if found is None:
            return problem(404, "Not found", f"no subscription {subscription_id} to your query {name!r}", NOT_FOUND)
        return JSONResponse(found.document(), headers=EPCIS_HEADERS)

    async def delete(self, request: Request) -> Response:
        """DELETE: unsubscribe (the firm's admin); what was not delivered yet is cancelled."""
        principal = _principal(request)
        if principal is None:
            return unauthenticated_response()
        if Role.ADMIN not in principal.roles:
            return problem(403, "Forbidden", "ending a subscription needs your firm's admin role", FORBIDDEN)
        state: HubState = request.app.state.hub
        name, subscription_id = request.path_params["name"], request.path_params["subscription_id"]
        gone = await anyio.to_thread.run_sync(
            lambda: subscriptions.unsubscribe(
                state.sql_engine, firm_id=principal.firm_id, query_name=name, subscription_id=subscription_id
            )
        )
        if not gone:
            return problem(404, "Not found", f"no subscription {subscription_id} to your query {name!r}", NOT_FOUND)
        return Response(status_code=204, headers=EPCIS_HEADERS)

    # --- websockets -------------------------------------------------------------------------------------------

    async def stream(self, websocket: WebSocket) -> None:
        """The standard's websocket subscription: each capture's matching events, as EPCISQueryDocuments."""
        await websocket.accept()
        principal = _principal(websocket)
        if principal is None:
            await _refuse(websocket, 401, "UNAUTHENTICATED", "send 'Authorization: Bearer <token>' in the handshake")
            return
        params = websocket.query_params
        scheduled = [key for key in SCHEDULE_PARAMETERS if key in params]
        if scheduled:
            await _refuse(
                websocket,
                400,
                BAD_USER_INPUT,
                f"scheduled subscriptions ({scheduled[0]}) are not supported here; open the socket with stream=true",
                close=UNSUPPORTED,
            )
            return
        if params.get("stream") != "true":
            await _refuse(websocket, 400, BAD_USER_INPUT, "open the socket with ?stream=true", close=UNSUPPORTED)
            return
        opened = datetime.now(UTC)
        try:
            initial = subscriptions.initial_record_time(params.get("initialRecordTime"), now=opened)
        except HubError as error:
            await _refuse(websocket, 400, BAD_USER_INPUT, error.message, close=UNSUPPORTED)
            return
        state: HubState = websocket.app.state.hub
        name = websocket.path_params["name"]
        query = await self._named_query(state, principal, name)
        if query is None:
            await _refuse(websocket, 404, NOT_FOUND, f"your firm has no named query {name!r}")
            return
        firm = principal.firm_id
        if self.streams[firm] >= MAX_STREAMS_PER_FIRM or sum(self.streams.values()) >= MAX_STREAMS:
            detail = f"your firm has {MAX_STREAMS_PER_FIRM} query streams open here, the most it may; close one"
            await _refuse(websocket, 429, "RATE_LIMITED", detail, close=TRY_AGAIN_LATER)
            return
        self.streams[firm] += 1
        try:
            await self._push_until_closed(websocket, state, principal, name, query, initial=initial, opened=opened)
        finally:
            self.streams[firm] -= 1
            if not self.streams[firm]:
                del self.streams[firm]

    async def _push_until_closed(
        self,
        websocket: WebSocket,
        state: HubState,
        principal: Principal,
        name: str,
        query: dict[str, Any],
        *,
        initial: str | None,
        opened: datetime,
    ) -> None:
        graph = _graph(state)
        lifetime = None if principal.expires_at is None else max(0.0, principal.expires_at - time.time())
        async with state.notifier.broadcast.listen(frozenset({KIND})) as queue, anyio.create_task_group() as tasks:
            if initial is not None:  # listening already: nothing captured from now on is missed
                window = {"from": initial, "to": opened.isoformat()}
                await self._push(websocket, graph, state, principal, name, query, window)

            async def until_closed() -> None:
                try:
                    while True:
                        message = await websocket.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                except (WebSocketDisconnect, RuntimeError):
                    pass
                tasks.cancel_scope.cancel()

            async def push() -> None:
                while True:
                    notice: Notice = await queue.get()
                    if "captureId" in notice.event.payload:  # a capture's, not one subscription's own run
                        await self._push(websocket, graph, state, principal, name, query, notice.event.payload)

            tasks.start_soon(until_closed)
            tasks.start_soon(push)
            if lifetime is not None:
                await anyio.sleep(lifetime)
                await _close(websocket, POLICY, "the bearer token expired: open a new socket with a fresh one")
                tasks.cancel_scope.cancel()

    async def _push(
        self,
        websocket: WebSocket,
        graph: Graph,
        state: HubState,
        principal: Principal,
        name: str,
        query: dict[str, Any],
        payload: Mapping[str, Any],
    ) -> None:
        try:
            decision = await decide_for_request(graph, principal)  # decided now, as a query would be now
            documents = await matching_documents(
                graph,
                state.sql_engine,
                decision.viewer,
                firm_id=principal.firm_id,
                subject=principal.subject,
                query_name=name,
                query=query,
                subscription_id=None,
                payload=payload,
            )
        except GraphUnavailable:
            log.warning("could not read the events of capture %s for a stream", payload.get("captureId"))
            return
        for document in documents:
            await websocket.send_text(orjson.dumps(document).decode())


async def _refuse(websocket: WebSocket, status: int, code: str, detail: str, *, close: int = POLICY) -> None:
    """Say why in a problem document, then close."""
    body = {"type": "about:blank", "status": status, "code": code, "detail": detail}
    try:
        await websocket.send_text(orjson.dumps(body).decode())
    finally:
        await _close(websocket, close, detail[:120])


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):  # already closed by the client
        await websocket.close(code=code, reason=reason)


async def _json_body(request: Request) -> object:
    """The request's JSON body, read no further than ``MAX_BODY_BYTES``."""
    size = 0
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise HubError(f"the body may have at most {MAX_BODY_BYTES:,} bytes", field="body")
            chunks.append(chunk)
    except ClientDisconnect:
        raise HubError("the body was not received whole", field="body") from None
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise HubError(f"the body is not JSON: {error}", field="body") from None
