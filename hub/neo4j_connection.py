"""Where the hub's Neo4j is: a given URI with its credentials, or the local server the project manages."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import AsyncDriver, AsyncGraphDatabase

from hub.neo4j_local import LocalNeo4j, LocalNeo4jConfig
from hub.settings import Settings


@dataclass(frozen=True)
class Neo4jConnection:
    uri: str
    user: str
    password: str


def local_server(settings: Settings) -> LocalNeo4j:
    """The project-managed Neo4j server described by the settings."""
    return LocalNeo4j(
        LocalNeo4jConfig(
            home=settings.neo4j_home,
            bolt_port=settings.neo4j_bolt_port,
            http_port=settings.neo4j_http_port,
            heap=settings.neo4j_heap,
            pagecache=settings.neo4j_pagecache,
            transaction_timeout_seconds=settings.neo4j_transaction_timeout_seconds,
        )
    )


def open_driver(settings: Settings, *, pool_size: int = 100) -> AsyncDriver:
    """The hub's async driver. Query notifications are off: optional properties that no record has yet
    (an expiry date, a reference document) would otherwise log a warning on every new query plan."""
    connection = neo4j_connection(settings)
    return AsyncGraphDatabase.driver(
        connection.uri,
        auth=(connection.user, connection.password),
        notifications_min_severity="OFF",
        connection_timeout=settings.neo4j_connect_timeout_seconds,
        connection_acquisition_timeout=settings.neo4j_acquire_timeout_seconds,
        # managed write transactions are retried on a lost connection for this long (the driver's default is 30 s)
        max_transaction_retry_time=settings.neo4j_acquire_timeout_seconds,
        max_connection_pool_size=pool_size,
    )


def neo4j_connection(settings: Settings) -> Neo4jConnection:
    """URI and credentials the driver should use."""
    if settings.neo4j_uri is not None:
        if settings.neo4j_password is None:
            raise ValueError("HUB_NEO4J_URI is set: set HUB_NEO4J_PASSWORD too")
        return Neo4jConnection(settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password.get_secret_value())
    server = local_server(settings)
    return Neo4jConnection(server.uri, server.user, server.password)
