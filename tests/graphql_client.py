"""Run GraphQL operations the way the hub does, with a principal of the test's choosing."""

from __future__ import annotations

import json
from collections import Counter
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
from resolvers.access_log import ACCESS_LOG_WITHHELD
from resolvers.compiled import CompiledReads, Fallback, coerce_variables, execute_plan
from resolvers.context import Context
from resolvers.limits import DocumentChecks, DocumentLimits
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
    await compare_compiled(graph, query, caller, variables, result, context.accessed, decisions, profiles)
    return result


# planned as the hub plans (hub/graphql_app.py): a document refused by the limits or validation is never compiled
COMPILED = CompiledReads(SCHEMA._schema, DocumentChecks(DocumentLimits()))
# what the differential check saw this session: operations answered both ways and found equal, and fallbacks
COMPILED_CHECKS: Counter[str] = Counter()


async def compare_compiled(
    graph: Graph,
    query: str,
    caller: Principal | None,
    variables: dict[str, Any] | None,
    result: ExecutionResult,
    accessed: Counter[str],
    decisions: DecisionCache | None,
    profiles: ProfileCache | None,
) -> None:
    """The differential check of resolvers/compiled.py: every operation of the test suite that compiles is answered
    again by its compiled plan, in a context of its own, and must give the same JSON (key order included) and note
    the same records for the access log; where the resolvers answered with errors, it must fall back to them."""
    if caller is None or profiles is not None:
        # with the process's kept profiles the resolvers may answer a firm, site or product as it was up to 30 s
        # ago (tests/integration/test_process_caches.py); the compiled plan reads them from the graph, fresh
        return
    schema = SCHEMA._schema
    plan = COMPILED.plan_for(query, None)
    if plan is None or not COMPILED.within_cost(plan, variables):
        return
    context = Context(
        graph=Graph(graph.driver, database=graph.database),
        principal=caller,
        redaction_key=REDACTION_KEY,
        max_page_size=100,
        sql_engine=SQL_ENGINE,
        decisions=decisions,
        profiles=profiles,
    )
    await context.decide()
    try:
        data = await execute_plan(plan, context, schema, coerce_variables(schema, plan, variables))
    except Fallback:
        COMPILED_CHECKS["fallback"] += 1
        return
    if [error.message for error in result.errors or []] == [ACCESS_LOG_WITHHELD]:
        # the access log could not be written: the hub then hands the request to the resolvers, which withhold it
        COMPILED_CHECKS["withheld"] += 1
        return
    assert not result.errors, f"the compiled plan answered where the resolvers failed: {result.errors}"
    assert json.dumps(data) == json.dumps(result.data), f"compiled {data}\nresolvers {result.data}"
    assert context.accessed == accessed, f"access noted: compiled {context.accessed}, resolvers {accessed}"
    COMPILED_CHECKS["equal"] += 1


def codes(result: ExecutionResult) -> list[str]:
    """The ``extensions.code`` of each error."""
    return [str((error.extensions or {}).get("code")) for error in result.errors or []]
