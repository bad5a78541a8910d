"""The per-request GraphQL context: the caller, its visibility, the graph handle and the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry

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
    viewer: Viewer | None
    redactor: Redactor
    loaders: Loaders
    max_page_size: int
    firm_roles_cache: dict[str, list[str]] = field(default_factory=dict)

    def require_principal(self) -> tuple[Principal, Viewer]:
        """The authenticated caller and its visibility; UNAUTHENTICATED when the request carries none."""
        if self.principal is None or self.viewer is None:
            raise Unauthenticated("sign in: send 'Authorization: Bearer <token>' with the request")
        return self.principal, self.viewer


Info: TypeAlias = strawberry.Info[Context, None]
