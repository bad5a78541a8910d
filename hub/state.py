"""What the app's lifespan opens once and hands to every request."""

from __future__ import annotations

from dataclasses import dataclass, field

from neo4j import AsyncDriver
from sqlalchemy.engine import Engine

from auth.changes import SharedChanges
from auth.decisions import DecisionCache
from auth.issuer import BuiltinIssuer
from hub.settings import Environment, Settings
from resolvers.broadcast import Notifier
from resolvers.loaders import ProfileCache


@dataclass
class HubState:
    """Opened by the lifespan: the Neo4j driver, the SQL engine, the token issuer and derived secrets."""

    settings: Settings
    driver: AsyncDriver
    sql_engine: Engine
    issuer: BuiltinIssuer
    redaction_key: bytes
    decisions: DecisionCache = field(init=False)  # per firm, reused for a few seconds (see the settings)
    profiles: ProfileCache = field(init=False)  # firm, site and product profiles, likewise
    changes: SharedChanges = field(init=False)  # the counter that tells this process of other processes' writes
    notifier: Notifier = field(init=False)  # this process's subscribers; fed by hub.notifications.Dispatcher

    def __post_init__(self) -> None:
        self.decisions = DecisionCache(ttl_seconds=self.settings.decision_cache_seconds)
        self.profiles = ProfileCache(ttl_seconds=self.settings.profile_cache_seconds)
        self.changes = SharedChanges(self.sql_engine, check_seconds=self.settings.shared_change_check_seconds)
        self.notifier = Notifier(allow_private_webhook_urls=self.settings.env is not Environment.PRODUCTION)
