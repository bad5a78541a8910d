"""Which store failed a request: Neo4j or the SQL store, told apart once for every route and for GraphQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import exc as sql_errors

from graph_schema.db import GraphUnavailable

SQL_NOT_ANSWERING: Final = (
    "the SQL store is not answering (locked by another process, or unreachable); try again shortly"
)


@dataclass(frozen=True)
class StoreFault:
    """A store that did not answer: ``neo4j`` or ``sql``, and a message for the caller."""

    store: str
    message: str


def store_fault(error: BaseException) -> StoreFault | None:
    """The store behind an error, when the error is a store not answering (None for anything else)."""
    if isinstance(error, GraphUnavailable):
        return StoreFault("neo4j", error.message)
    # OperationalError: SQLite's "database is locked" or "unable to open", PostgreSQL refusing or gone;
    # TimeoutError: no pooled connection came free in time.
    if isinstance(error, sql_errors.OperationalError | sql_errors.TimeoutError | sql_errors.InterfaceError):
        return StoreFault("sql", SQL_NOT_ANSWERING)
    if isinstance(error, sql_errors.DBAPIError) and error.connection_invalidated:
        return StoreFault("sql", SQL_NOT_ANSWERING)
    return None
