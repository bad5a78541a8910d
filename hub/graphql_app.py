"""The /graphql endpoint: Strawberry's ASGI app with the hub's per-request context and a 401 at the door."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from auth.backend import PrincipalUser
from auth.decisions import decide_for_request
from graph_schema.access import Viewer
from graph_schema.db import Graph
from hub.settings import Settings
from hub.state import HubState
from resolvers.context import Context
from resolvers.loaders import Loaders
from resolvers.redaction import Redactor
from resolvers.schema import build_schema


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


# Loaders need a viewer even for a request that will be refused: one that sees nothing.
_NOBODY = Viewer(firm_id="", detail_firm_ids=frozenset())


class HubGraphQL(GraphQL[Context, None]):
    """GraphQL over HTTP and websockets; every request's context carries its principal and visibility."""

    state: HubState  # set by the app's lifespan before the first request

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(max_query_depth=settings.max_query_depth),
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        authenticated = isinstance(user, PrincipalUser)
        if scope["type"] == "http" and not authenticated and not self._is_ide_page(scope):
            await unauthenticated_response()(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _is_ide_page(self, scope: Scope) -> bool:
        if self.graphql_ide is None or scope.get("method") != "GET":
            return False
        request = Request(scope)
        return "text/html" in request.headers.get("accept", "") and "query" not in request.query_params

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        user = request.scope.get("user")
        principal = user.principal if isinstance(user, PrincipalUser) else None
        graph = Graph(self.state.driver, database=self.state.settings.neo4j_database)
        decision = await decide_for_request(graph, principal) if principal is not None else None
        viewer = decision.viewer if decision is not None else None
        return Context(
            graph=graph,
            principal=principal,
            decision=decision,
            redactor=Redactor(key=self.state.redaction_key, firm_id=principal.firm_id if principal else ""),
            loaders=Loaders.create(graph, viewer or _NOBODY),
            max_page_size=self.state.settings.max_page_size,
            sql_engine=self.state.sql_engine,
        )

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)
