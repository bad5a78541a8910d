"""The plans Neo4j makes for the hub's queries, for tests that assert where a query starts.

Neo4j keeps a plan per query text and re-plans it only when its statistics have drifted and a replan interval has
passed: a test run after another that ran the same text over other data (many events whose record times all lie in
the range asked, then deleted) would be shown that test's plan, not the one made for the data it sees. Each
explanation here clears the plan cache first, so the plan is made now.
"""

from __future__ import annotations

from typing import Any, LiteralString

from graph_schema.db import Graph


async def explain(graph: Graph, query: LiteralString, params: dict[str, Any]) -> dict[str, Any]:
    """The plan made now for ``query`` with ``params`` (EXPLAIN: nothing runs)."""
    await graph.driver.execute_query("CALL db.clearQueryCaches()")
    result = await graph.driver.execute_query("EXPLAIN " + query, params)
    assert result.summary.plan is not None
    return dict(result.summary.plan)


def steps(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(operator, details) of every operator of ``plan``, the root first."""
    found = [(str(plan["operatorType"]).split("@")[0], str(plan.get("args", {}).get("Details", "")))]
    for child in plan.get("children", []):
        found.extend(steps(child))
    return found


def operators(plan: dict[str, Any]) -> list[str]:
    """The operators of ``plan``, the root first."""
    return [operator for operator, _ in steps(plan)]


def shown(plan: dict[str, Any], depth: int = 0) -> str:
    """``plan`` as an indented tree with every operator's details in full, for a failing assertion's message."""
    line = "  " * depth + str(plan["operatorType"]).split("@")[0] + " " + str(plan.get("args", {}).get("Details", ""))
    return "\n".join([line, *(shown(child, depth + 1) for child in plan.get("children", []))])
