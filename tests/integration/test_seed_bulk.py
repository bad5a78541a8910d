"""The bulk load (CSV files, neo4j-admin database import) builds the graph the checked write functions build.

A small large-cluster seed (the whole directory, two days of events) is written both ways: through the write
functions into the session's Neo4j, and through the streaming generator's files and the import tool into a
server of its own. Node counts per label, relationship counts per type, and every property of a sample of nodes
and of their relationships must be equal, values compared with their types (a float is not an int, a zoned
time keeps its offset).
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j import AsyncGraphDatabase
from neo4j.time import DateTime

from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub.neo4j_local import LocalNeo4j, LocalNeo4jConfig, Neo4jLaunchError
from hub.server import free_port
from seed.bulk import NODES, RELATIONSHIPS, write_large_csvs
from seed.large import LargeCluster
from seed.loader import graph_holds_nothing, load_large
from tests.conftest import ROOT, TEST_BOLT_PORT

pytestmark = pytest.mark.neo4j

SEED = 7
DAYS = 2
SAMPLE = 150  # nodes of each label, with every relationship they have


@pytest.fixture(scope="module")
def bulk_server() -> Iterator[LocalNeo4j]:
    """A server of its own for the import, which replaces a whole store (the session's serves other tests)."""
    if os.environ.get("HUB_TEST_NEO4J_URI"):
        pytest.skip("the import needs a project-managed server; HUB_TEST_NEO4J_URI names another")
    # HUB_TEST_BULK_NEO4J_PORT keeps it in a block of ports set aside for the session; else any free port
    port = int(os.environ.get("HUB_TEST_BULK_NEO4J_PORT") or free_port())
    server = LocalNeo4j(
        LocalNeo4jConfig(
            home=ROOT / ".local" / f"neo4j-bulk-test-{TEST_BOLT_PORT}",
            bolt_port=port,
            heap="512m",
            pagecache="256m",
        )
    )
    server.stop()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def bulk_graph(bulk_server: LocalNeo4j, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Graph]:
    report = write_large_csvs(tmp_path_factory.mktemp("bulk"), seed=SEED, days=DAYS)
    assert report.rows["Lot"] > 1_000
    bulk_server.import_full(report.node_files(), report.relationship_files(), heap="512m", off_heap="512m")
    bulk_server.start()
    async with AsyncGraphDatabase.driver(
        bulk_server.uri, auth=(bulk_server.user, bulk_server.password), notifications_min_severity="OFF"
    ) as driver:
        graph = Graph(driver)
        await apply_schema(graph)
        yield graph


def typed(value: Any) -> Any:
    """A value with its type, so that 1 and 1.0, or two instants at different offsets, differ."""
    if isinstance(value, DateTime):
        return ("DateTime", value.iso_format(), str(value.utcoffset()))
    if isinstance(value, list):
        return ("list", tuple(typed(v) for v in value))
    return (type(value).__name__, value)


def typed_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: typed(value) for key, value in values.items()}


KEY = "coalesce(n.id, n.gln, n.gtin)"


async def counts(graph: Graph) -> tuple[dict[str, int], dict[str, int]]:
    labels = await graph.read("MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n")
    types = await graph.read("MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n")
    return {r["label"]: r["n"] for r in labels}, {r["type"]: r["n"] for r in types}


async def sample(graph: Graph, label: str, keys: list[str]) -> dict[str, Any]:
    """Every property of these nodes, and of each relationship with the other end's label and key."""
    query = (
        "UNWIND $keys AS key MATCH (n) WHERE $label IN labels(n) AND " + KEY + " = key "
        "RETURN key, properties(n) AS props, "
        "[(n)-[r]-(m) | {type: type(r), out: startNode(r) = n, other: labels(m)[0], "
        " otherKey: coalesce(m.id, m.gln, m.gtin), props: properties(r)}] AS rels"
    )
    found = {}
    for row in await graph.read(query, {"keys": keys, "label": label}):
        rels = sorted(
            (r["type"], r["out"], r["other"], r["otherKey"], sorted(typed_map(r["props"]).items())) for r in row["rels"]
        )
        found[row["key"]] = (typed_map(row["props"]), rels)
    return found


async def test_the_bulk_import_builds_the_graph_the_write_functions_build(graph: Graph, bulk_graph: Graph) -> None:
    assert await graph_holds_nothing(graph)
    report = await load_large(graph, seed=SEED, days=DAYS, progress=False)
    assert report.counts["lots"] > 1_000

    written_labels, written_types = await counts(graph)
    imported_labels, imported_types = await counts(bulk_graph)
    assert imported_labels == written_labels
    assert imported_types == written_types
    assert set(imported_labels) == set(NODES)
    assert set(imported_types) == set(RELATIONSHIPS)

    rng = random.Random(1)
    for label, columns in NODES.items():
        key = columns[0][0]
        every = [r["key"] for r in await graph.read(f"MATCH (n:{label}) RETURN n.{key} AS key ORDER BY key")]
        keys = sorted(rng.sample(every, min(SAMPLE, len(every))))
        written, imported = await sample(graph, label, keys), await sample(bulk_graph, label, keys)
        assert set(written) == set(keys), label
        for k in keys:
            assert imported.get(k) == written[k], f"{label} {k}"


def test_the_import_refuses_a_running_server(bulk_server: LocalNeo4j, tmp_path: Path) -> None:
    # The import replaces the store: a running server keeps it open, so the import says so and touches nothing.
    bulk_server.start()
    with pytest.raises(Neo4jLaunchError, match="stop it before importing"):
        bulk_server.import_full({"Firm": tmp_path / "Firm.csv"}, {})


def test_the_generator_writes_each_file_with_its_header(tmp_path: Path) -> None:
    report = write_large_csvs(tmp_path, seed=SEED, days=1)
    assert set(report.files) == set(NODES) | set(RELATIONSHIPS)
    header, *parts = report.files["Lot"]
    assert header.read_text(encoding="utf-8").startswith("id:ID(Lot),lotNumber:string,productGtin:string")
    lots = [line for part in parts for line in part.read_text(encoding="utf-8").splitlines()]
    assert len(lots) == report.rows["Lot"] == len(next(LargeCluster(SEED, days=1).chunks(lots_per_chunk=1))[0].lots)
    assert report.peak_rss_mb > 0


def test_the_files_do_not_depend_on_how_many_processes_write_them(tmp_path: Path) -> None:
    # six days in three partitions of two: one process, then three at once (in whatever order they finish)
    alone = write_large_csvs(tmp_path / "one", seed=SEED, days=6, partition_days=2)
    together = write_large_csvs(tmp_path / "three", seed=SEED, days=6, partition_days=2, processes=3)
    assert len(LargeCluster(SEED, days=6, partition_days=2).partitions()) == 3
    assert len(alone.files["Lot"]) == 4  # the header, then a part per partition
    assert alone.rows == together.rows
    assert alone.rows["HELD_AT"] > 0
    for name, paths in alone.files.items():
        contents = b"".join(path.read_bytes() for path in paths)
        assert contents == b"".join(path.read_bytes() for path in together.files[name]), name


def test_partitions_are_simulated_on_their_own() -> None:
    # each partition starts from empty stocks with its own random stream: the same chunks whichever comes first
    large = LargeCluster(SEED, days=4, partition_days=2)
    second_first = [chunk.lots for chunk, _ in large.partition_chunks(1, lots_per_chunk=10**9)]
    list(large.partition_chunks(0, lots_per_chunk=10**9))
    again = [chunk.lots for chunk, _ in large.partition_chunks(1, lots_per_chunk=10**9)]
    whole = [chunk.lots for chunk, _ in large.chunks(lots_per_chunk=10**9)]
    assert second_first == again == whole[1:]
    shipments = [s.id for chunk, _ in large.chunks(lots_per_chunk=10**9) for s in chunk.shipments]
    assert len(shipments) == len(set(shipments))
