"""The per-request GraphQL context: the caller, its visibility, the graph handle and the loaders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry
from sqlalchemy.engine import Engine

from auth.decisions import Decision
from auth.principal import Principal
from graph_schema.access import Viewer
from graph_schema.db import Graph
from graph_schema.errors import HubError
from resolvers.loaders import Loaders
from resolvers.redaction import Redactor

UNAUTHENTICATED = "UNAUTHENTICATED"


class Unauthenticated(HubError):
    """No verified token came with the request."""

    code = UNAUTHENTICATED


@dataclass
class Context:
    """Built once per request by ``get_context``; resolvers read everything they need from here."""

    graph: Graph
    principal: Principal | None
    decision: Decision | None
    redactor: Redactor
    loaders: Loaders
    max_page_size: int
    sql_engine: Engine  # the SQL side store: the access log
    # owner firm -> records of that firm this request returned to the caller (for the access log)
    accessed: Counter[str] = field(default_factory=Counter)

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

    def note_access(self, owner_firm_ids: Iterable[str]) -> None:
        """Count records of other firms returned to the caller; the access log writes them after the request."""
        if self.principal is None:
            return
        for owner in owner_firm_ids:
            if owner != self.principal.firm_id:
                self.accessed[owner] += 1


Info: TypeAlias = strawberry.Info[Context, None]
