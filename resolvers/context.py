"""The per-request GraphQL context: the caller, its visibility, the graph handle and the loaders."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry
from sqlalchemy.engine import Engine

from auth.changes import SharedChanges
from auth.decisions import Decision, DecisionCache, decide_for_request
from auth.principal import Principal
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.errors import HubError
from resolvers.broadcast import Notifier
from resolvers.loaders import Loaders, ProfileCache
from resolvers.redaction import Redactor

log = logging.getLogger(__name__)

UNAUTHENTICATED = "UNAUTHENTICATED"


class Unauthenticated(HubError):
    """No verified token came with the request."""

    code = UNAUTHENTICATED


# Loaders need a viewer even for a request that will be refused: one that sees nothing.
NOBODY = Viewer(firm_id="", detail_firm_ids=frozenset())


@dataclass
class Context:
    """Built per request by ``get_context`` (per operation on a websocket); resolvers read everything from here."""

    graph: Graph
    principal: Principal | None
    redaction_key: bytes
    max_page_size: int
    sql_engine: Engine  # the SQL side store: the access log
    websocket: bool = False  # a websocket's context lives for the connection: it is decided again per operation
    connection_params: dict[str, object] | None = None  # the websocket's connection_init payload
    decision: Decision | None = None
    # the process's kept decisions (hub.state.HubState); None: read the decision for every operation
    decisions: DecisionCache | None = None
    profiles: ProfileCache | None = None  # the process's kept firm, site and product profiles (HubState)
    # the counter every hub process moves after a write: kept decisions and profiles are dropped when it moved
    changes: SharedChanges | None = None
    notifier: Notifier | None = None  # subscriptions' events and webhook rules (hub.state.HubState)
    redactor: Redactor = field(init=False)
    loaders: Loaders = field(init=False)
    # owner firm -> records of that firm this request returned to the caller (for the access log)
    accessed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._fresh()

    async def decide(self) -> None:
        """Take the permission decision for the caller from the grants and recalls in force now."""
        if self.changes is not None and await self.changes.moved():
            self.forget_kept()  # another process granted, revoked, recalled or admitted something
        if self.principal is None:
            self.decision = None
        elif self.decisions is not None:
            self.decision = await self.decisions.decide(self.graph, self.principal)
        else:
            self.decision = await decide_for_request(self.graph, self.principal)
        self._fresh()

    def _fresh(self) -> None:
        viewer = self.decision.viewer if self.decision is not None else NOBODY
        self.redactor = Redactor(key=self.redaction_key, firm_id=viewer.firm_id)
        self.loaders = Loaders.create(self.graph, viewer, self.profiles)
        self.accessed = Counter()

    @property
    def viewer(self) -> Viewer | None:
        """The caller's visibility, when there is a caller."""
        return self.decision.viewer if self.decision is not None else None

    def require_principal(self) -> tuple[Principal, Viewer]:
        """The authenticated caller and its visibility; UNAUTHENTICATED when the request carries none."""
        principal, decision = self.require_decision()
        return principal, decision.viewer

    def require_decision(self) -> tuple[Principal, Decision]:
        """The authenticated caller and everything decided about it."""
        if self.principal is None or self.decision is None:
            raise Unauthenticated("sign in: send 'Authorization: Bearer <token>' with the request")
        return self.principal, self.decision

    def forget_kept(self) -> None:
        """After a write: what this process keeps between requests may be out of date (others: ``announce``)."""
        if self.decisions is not None:
            self.decisions.forget()
        if self.profiles is not None:
            self.profiles.forget()

    async def announce_write(self) -> None:
        """After a write: drop what this process keeps and tell the other hub processes to do the same."""
        self.forget_kept()
        if self.changes is None:
            return
        try:
            await self.changes.announce()
        except Exception:  # the write is done; the other processes count it within their kept time instead
            log.warning("could not tell the other hub processes about a write", exc_info=True)

    def note_access(self, owner_firm_ids: Iterable[str]) -> None:
        """Count records of other firms returned to the caller; the access log writes them after the request."""
        if self.principal is None:
            return
        for owner in owner_firm_ids:
            if owner != self.principal.firm_id:
                self.accessed[owner] += 1


Info: TypeAlias = strawberry.Info[Context, None]
