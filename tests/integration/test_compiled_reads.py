"""Compiled reads (resolvers/compiled.py) against the resolvers on the same graph: the same JSON, the same records
noted for the access log, one round trip, and the resolvers' own answer wherever the plan cannot answer.

tests/graphql_client.execute checks every compilable operation of the test suite this way; the tests here make
sure the shapes that matter are among them (a check that silently fell back would prove nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from auth.principal import Role
from graph_schema.db import Graph
from resolvers.compiled import Fallback, coerce_variables, compile_operation, execute_plan
from resolvers.context import Context
from tests.graphql_client import COMPILED_CHECKS, REDACTION_KEY, SCHEMA, SQL_ENGINE, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

DETAIL = """query Detail($id: ID!) { lot(id: $id) { __typename id lotNumber productGtin quantity uom producedAt
  expiresAt status
  product { gtin id name nameKo category uom brandOwner { id name roles } }
  site { gln id name kind region firm { id nameKo } } owner { id name roles }
  inputs { transformationId occurredAt quantity uom redacted lot { id quantity owner { id }
    shipments { id lotId quantity uom shippedAt receivedAt } } }
  outputs { transformationId quantity uom redacted lot { id status } }
  shipments { id lotId quantity uom shippedAt receivedAt docType docNumber fromSite { gln name } toSite { gln }
    shipper { id } receiver { id } } } }"""

TRACE = """query T($id: ID!, $dir: TraceDirection!) { trace(lotId: $id, direction: $dir) {
  direction origin { id lotNumber status producedAt }
  lots { id depth redacted ownerRole madeDuringDeviation lot { id lotNumber quantity uom status producedAt } }
  shipments { id lotId redacted quantity uom shippedAt receivedAt }
  summary { lotCount redactedCount firmCount siteCount shipmentCount maxDepth
    quantities { productGtin uom quantity lotCount } } } }"""


async def _equal_checks(graph: Graph, query: str, caller: Any, variables: dict[str, Any]) -> None:
    before = COMPILED_CHECKS["equal"]
    result = await execute(graph, query, caller, variables)
    assert result.errors is None
    assert COMPILED_CHECKS["equal"] == before + 1, "the compiled plan fell back instead of answering"


async def test_a_lot_page_compiles_into_one_query_with_the_resolvers_answer(graph: Graph, chain: Chain) -> None:
    for firm in ("plant", "farm", "rival"):
        for lot_id in (chain.soy, chain.tofu, chain.rival_tofu):
            await _equal_checks(graph, DETAIL, principal(firm, Role.VIEWER), {"id": lot_id})
    for firm in ("plant", "farm"):
        await _equal_checks(graph, "query($g: String!) { site(gln: $g) { id name kind firm { name } } }",
                            principal(firm), {"g": chain.sites["plant"]})  # fmt: skip
        await _equal_checks(graph, '{ a: firm(id: "plant") { id roles } b: firm(id: "nobody") { id } }',
                            principal(firm), {})  # fmt: skip


async def test_the_compiled_lot_page_is_one_round_trip(graph: Graph, chain: Chain) -> None:
    schema = SCHEMA._schema
    plan = compile_operation(schema, parse(DETAIL), None)
    context = Context(
        graph=Graph(graph.driver, database=graph.database),
        principal=principal("plant"),
        redaction_key=REDACTION_KEY,
        max_page_size=100,
        sql_engine=SQL_ENGINE,
    )
    await context.decide()
    before = context.graph.round_trips
    data = await execute_plan(plan, context, schema, coerce_variables(schema, plan, {"id": chain.tofu}))
    assert data["lot"]["id"] == chain.tofu
    assert context.graph.round_trips - before == 1
    assert dict(context.accessed) == {"farm": 2}  # the soy the tofu was made from, and its shipment by the farm


async def test_traces_compile_with_redaction_as_the_resolvers_give_it(graph: Graph, chain: Chain) -> None:
    # the farm sees its soy, and the plant's tofu made from it only redacted
    for firm, lot_id in (("plant", chain.soy), ("plant", chain.tofu), ("farm", chain.soy)):
        for direction in ("UPSTREAM", "DOWNSTREAM"):
            await _equal_checks(graph, TRACE, principal(firm, Role.VIEWER), {"id": lot_id, "dir": direction})


async def test_what_the_plan_cannot_answer_is_left_to_the_resolvers(graph: Graph, chain: Chain) -> None:
    schema = SCHEMA._schema
    for text in (
        "{ firms { edges { node { lots { edges { node { id } } } } } } }",  # a page of lots per firm: not compiled
        "query($id: ID!) { lot(id: $id) { ...F } } fragment F on Lot { id }",
        "query($id: ID!) { lot(id: $id) { id @include(if: true) } }",
        "query($id: ID!) { lot(id: $id) { deviations { ccp { id } } } }",  # a deviation's CCP: the resolvers'
        "query($id: ID!) { trace(lotId: $id, direction: UPSTREAM) { shipments { fromSite { gln } } } }",
        'mutation { revokeSharing(id: "x") }',
    ):
        with pytest.raises(Fallback):
            compile_operation(schema, parse(text), None)
    plan = compile_operation(schema, parse(DETAIL), None)
    context = Context(
        graph=Graph(graph.driver, database=graph.database),
        principal=principal("plant"),
        redaction_key=REDACTION_KEY,
        max_page_size=100,
        sql_engine=SQL_ENGINE,
    )
    await context.decide()
    for variables in ({"id": "not-an-lgtin"}, {}):  # the resolvers report these errors, with their codes
        with pytest.raises(Fallback):
            await execute_plan(plan, context, schema, coerce_variables(schema, plan, variables))
    unknown = await execute(graph, TRACE, principal("rival"), {"id": chain.tofu, "dir": "UPSTREAM"})
    assert [e.extensions["code"] for e in unknown.errors or []] == ["NOT_FOUND"]  # type: ignore[index]


LIST = """query L($first: Int!, $after: String, $sort: LotSort!, $status: LotStatus, $prefix: String) {
  lots(first: $first, after: $after, sort: $sort, status: $status, lotNumberPrefix: $prefix) {
    __typename totalCount
    edges { __typename cursor node { id lotNumber quantity status producedAt product { name } owner { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def test_lot_pages_compile_with_their_cursors_and_counts(graph: Graph, chain: Chain) -> None:
    for firm in ("plant", "farm", "rival"):
        for sort in ("ID", "LOT_NUMBER", "PRODUCED_AT", "PRODUCED_AT_DESC"):
            after = None
            for _ in range(4):  # page by page, one lot a page, to the end
                variables = {"first": 1, "after": after, "sort": sort, "status": None, "prefix": None}
                before = COMPILED_CHECKS["equal"]
                result = await execute(graph, LIST, principal(firm, Role.VIEWER), variables)
                assert result.errors is None
                assert result.data is not None
                assert COMPILED_CHECKS["equal"] == before + 1
                page = result.data["lots"]["pageInfo"]
                if not page["hasNextPage"]:
                    break
                after = page["endCursor"]
        variables = {"first": 5, "after": None, "sort": "ID", "status": "ACTIVE", "prefix": "TOFU"}
        await _equal_checks(graph, LIST, principal(firm, Role.VIEWER), variables)
        await _equal_checks(graph, "{ lots(first: 0) { totalCount } }", principal(firm), {})
