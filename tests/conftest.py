"""Test session: a real Neo4j (started here unless HUB_TEST_NEO4J_URI names one) and a clean graph per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from neo4j import AsyncDriver, AsyncGraphDatabase

from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub.neo4j_local import LocalNeo4j, LocalNeo4jConfig
from tests.graphql_client import reset_sql_store

ROOT = Path(__file__).resolve().parent.parent
TEST_BOLT_PORT = int(os.environ.get("HUB_TEST_NEO4J_PORT", "7688"))


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[tuple[str, str, str]]:
    """URI, user and password of the Neo4j the tests use; a project-managed one is stopped at the end."""
    uri = os.environ.get("HUB_TEST_NEO4J_URI")
    if uri:
        yield uri, os.environ.get("HUB_TEST_NEO4J_USER", "neo4j"), os.environ["HUB_TEST_NEO4J_PASSWORD"]
        return
    server = LocalNeo4j(
        LocalNeo4jConfig(
            home=ROOT / ".local" / f"neo4j-test-{TEST_BOLT_PORT}", bolt_port=TEST_BOLT_PORT, heap="1g", pagecache="512m"
        )
    )
    server.start()
    try:
        yield server.uri, server.user, server.password
    finally:
        if os.environ.get("HUB_TEST_KEEP_NEO4J") != "1":
            server.stop()


@pytest.fixture(scope="session")
async def driver(neo4j_server: tuple[str, str, str]) -> AsyncIterator[AsyncDriver]:
    uri, user, password = neo4j_server
    async with AsyncGraphDatabase.driver(uri, auth=(user, password), notifications_min_severity="OFF") as drv:
        await apply_schema(Graph(drv))
        yield drv


@pytest.fixture
async def graph(driver: AsyncDriver) -> Graph:
    """A handle on an empty graph (constraints and indexes in place)."""
    async with driver.session() as session:
        await (await session.run("MATCH (n) DETACH DELETE n")).consume()
    reset_sql_store()
    return Graph(driver)
