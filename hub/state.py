"""What the app's lifespan opens once and hands to every request."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import AsyncDriver
from sqlalchemy.engine import Engine

from auth.issuer import BuiltinIssuer
from hub.settings import Settings


@dataclass
class HubState:
    """Opened by the lifespan: the Neo4j driver, the SQL engine, the token issuer and derived secrets."""

    settings: Settings
    driver: AsyncDriver
    sql_engine: Engine
    issuer: BuiltinIssuer
    redaction_key: bytes
