"""A request's deadline and id reach Neo4j: a query past the deadline is stopped inside Neo4j, not abandoned."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from neo4j import AsyncDriver, AsyncManagedTransaction

from graph_schema.db import Graph, GraphTimeout, run, transaction_scope

pytestmark = pytest.mark.neo4j

# Seconds of work for Neo4j with nothing to read: a query that only a timeout ends early.
SLOW_READ = "UNWIND range(1, 400000000) AS x WITH x WHERE x = -1 RETURN count(x) AS n"
SLOW_WRITE = "UNWIND range(1, 400000000) AS x WITH x WHERE x = -1 CREATE (:NeverWritten {x: x}) RETURN count(x) AS n"
OWN = "SHOW TRANSACTIONS YIELD metaData, currentQuery WHERE currentQuery STARTS WITH 'SHOW' RETURN metaData"
RUNNING = """SHOW TRANSACTIONS YIELD metaData, currentQuery
WHERE metaData.requestId = $id AND NOT currentQuery STARTS WITH 'SHOW' RETURN count(*) AS n"""


@pytest.mark.parametrize("work", ["read", "write"])
async def test_a_query_past_the_request_deadline_is_stopped_inside_neo4j(driver: AsyncDriver, work: str) -> None:
    graph, request_id = Graph(driver), uuid.uuid4().hex
    started = time.monotonic()
    with transaction_scope(seconds=0.5, requestId=request_id), pytest.raises(GraphTimeout) as raised:
        await (graph.read(SLOW_READ) if work == "read" else graph.write(SLOW_WRITE))
    print(f"{work} past a 0.5 s deadline: stopped after {time.monotonic() - started:.2f} s")
    assert raised.value.code == "QUERY_TOO_COMPLEX"
    assert "time limit of 0.5 s" in raised.value.message
    # Neo4j itself ended the transaction: nothing of this request is left running there
    assert await graph.read(RUNNING, {"id": request_id}) == [{"n": 0}]
    assert await graph.read("MATCH (n:NeverWritten) RETURN count(n) AS n") == [{"n": 0}]


async def test_a_request_with_no_time_left_does_not_reach_neo4j(driver: AsyncDriver) -> None:
    graph = Graph(driver)
    with transaction_scope(seconds=0.01):
        await asyncio.sleep(0.02)
        with pytest.raises(GraphTimeout):
            await graph.read("RETURN 1 AS ok")
    assert graph.round_trips == 1


async def test_the_request_id_is_in_the_transaction_metadata_neo4j_lists(driver: AsyncDriver) -> None:
    graph, request_id = Graph(driver), uuid.uuid4().hex
    with transaction_scope(requestId=request_id):
        rows = await graph.read(OWN)
        written = await graph.transaction(_metadata_of_own_transaction)
    assert {"requestId": request_id} in [row["metaData"] for row in rows]
    assert written == {"requestId": request_id}
    # outside the block, transactions carry none
    assert {} in [row["metaData"] for row in await graph.read(OWN)]


async def _metadata_of_own_transaction(tx: AsyncManagedTransaction) -> Any:
    rows = await run(tx, OWN)
    return rows[0]["metaData"]
