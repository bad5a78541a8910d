"""Uniqueness constraints and indexes, applied idempotently (``hub schema apply`` and at start-up), and the
backfills that bring stored data up to what the reads expect (each a no-op once done)."""

from __future__ import annotations

import asyncio
import time
from typing import Final, LiteralString

from graph_schema.db import Graph
from graph_schema.epcis.backfill import backfill
from graph_schema.model import (
    COMPOSITE_INDEXED,
    FULLTEXT_ANALYZER,
    FULLTEXT_INDEXED,
    INDEXED,
    NATURAL_KEYS,
    RELATIONSHIP_INDEXED,
)

CONSTRAINT_SESSIONS: Final = 4
# How often the indexes' state is asked while they populate: each ask is a short read of its own, so no
# transaction outlives the server's db.transaction.timeout (120 s), which killed a single long
# ``db.awaitIndexes`` while the large cluster's indexes were still populating on a loaded machine.
POLL_SECONDS: Final = 0.5
INDEXES_NOT_ONLINE: Final = "SHOW INDEXES YIELD name, state, failureMessage WHERE state <> 'ONLINE' RETURN *"


def schema_statements() -> list[LiteralString]:
    """Every ``CREATE CONSTRAINT/INDEX ... IF NOT EXISTS`` statement of the graph model, in order."""
    statements: list[LiteralString] = []
    # Names and labels come from the closed enumerations in graph_schema.model, never from input;
    # Cypher takes no parameters in schema commands, so the text is assembled here.
    for label, key in NATURAL_KEYS.items():
        name = f"{label.lower()}_{key}_unique"
        statements.append(f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE")
    for label, prop in INDEXED:
        name = f"{label.lower()}_{prop.lower()}"
        statements.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})")
    for rel_type, prop in RELATIONSHIP_INDEXED:
        name = f"{rel_type.lower()}_{prop.lower()}"
        statements.append(f"CREATE INDEX {name} IF NOT EXISTS FOR ()-[r:{rel_type}]-() ON (r.{prop})")
    for label, props in COMPOSITE_INDEXED:
        name = f"{label.lower()}_{'_'.join(p.lower() for p in props)}"
        on = ", ".join(f"n.{p}" for p in props)
        statements.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON ({on})")
    for name, label, props in FULLTEXT_INDEXED:
        on = ", ".join(f"n.{p}" for p in props)
        statements.append(
            f"CREATE FULLTEXT INDEX {name} IF NOT EXISTS FOR (n:{label}) ON EACH [{on}]"
            f" OPTIONS {{indexConfig: {{`fulltext.analyzer`: '{FULLTEXT_ANALYZER}'}}}}"
        )
    return statements


async def apply_schema(graph: Graph, *, await_seconds: float = 300) -> int:
    """Create any missing constraint or index, wait until all are online, then run the backfills; return how many
    schema statements ran."""
    statements = schema_statements()
    constraints = [s for s in statements if s.startswith("CREATE CONSTRAINT")]
    # Over a bulk-imported graph each statement run alone scanned its label once more and waited its turn:
    # the indexes created in one transaction are populated from one scan, in the background meanwhile...
    await graph.schema_together([s for s in statements if not s.startswith("CREATE CONSTRAINT")])
    # ...and a uniqueness constraint builds and checks its own index before it returns, so a few run at once
    # (each holds only its label's schema lock)
    limit = asyncio.Semaphore(CONSTRAINT_SESSIONS)

    async def create(statement: LiteralString) -> None:
        async with limit:
            await graph.schema(statement)

    await asyncio.gather(*(create(statement) for statement in constraints))
    await await_indexes(graph, await_seconds)
    await backfill(graph)
    return len(statements)


async def await_indexes(graph: Graph, seconds: float) -> None:
    """Return once every index is online; raise naming the indexes that failed or are still populating after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        pending = await graph.read(INDEXES_NOT_ONLINE)
        failed = [f"{row['name']}: {row['failureMessage']}" for row in pending if row["state"] == "FAILED"]
        if failed:
            raise RuntimeError(f"index population failed: {'; '.join(failed)}")
        if not pending:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(sorted(str(row["name"]) for row in pending))
            raise TimeoutError(f"indexes still populating after {seconds:g} s: {names}")
        await asyncio.sleep(POLL_SECONDS)
