"""Run GraphQL operations the way the hub does, with a principal of the test's choosing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel
from strawberry.types import ExecutionResult

from auth.audit import create_tables
from auth.decisions import DecisionCache
from auth.principal import Principal, Role
from graph_schema.db import Graph
from resolvers.context import Context
from resolvers.loaders import ProfileCache
from resolvers.schema import build_schema

SCHEMA = build_schema()
# an in-memory SQL store shared by the session's requests (StaticPool: one connection, so one database)
SQL_ENGINE = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
create_tables(SQL_ENGINE)


def reset_sql_store() -> None:
    """Empty the session's SQL store (each test starts from nothing, as with the graph)."""
    SQLModel.metadata.drop_all(SQL_ENGINE)
    create_tables(SQL_ENGINE)


REDACTION_KEY = b"test-redaction-key"


def principal(firm_id: str, *roles: Role) -> Principal:
    """A principal acting for ``firm_id`` (admin unless roles are given)."""
    return Principal(subject=f"test:{firm_id}", firm_id=firm_id, roles=frozenset(roles or {Role.ADMIN}))


async def execute(
    graph: Graph,
    query: str,
    caller: Principal | None,
    variables: dict[str, Any] | None = None,
    *,
    sql_engine: Engine | None = None,
    decisions: DecisionCache | None = None,
    profiles: ProfileCache | None = None,
) -> ExecutionResult:
    """Execute one operation with a fresh per-request context, like ``HubGraphQL.get_context``."""
    request_graph = Graph(graph.driver, database=graph.database)
    context = Context(
        graph=request_graph,
        principal=caller,
        redaction_key=REDACTION_KEY,
        max_page_size=100,
        sql_engine=sql_engine or SQL_ENGINE,
        decisions=decisions,
        profiles=profiles,
    )
    await context.decide()
    result = await SCHEMA.execute(query, variable_values=variables, context_value=context)
    result.extensions = {"roundTrips": request_graph.round_trips}
    return result


def codes(result: ExecutionResult) -> list[str]:
    """The ``extensions.code`` of each error."""
    return [str((error.extensions or {}).get("code")) for error in result.errors or []]
