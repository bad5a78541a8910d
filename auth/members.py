"""Membership: a verified token counts only for a firm the cluster has admitted."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from graph_schema.db import Graph

FIRM_EXISTS: Final = "MATCH (f:Firm {id: $id}) RETURN count(f) > 0 AS known"


async def firm_exists(graph: Graph, firm_id: str) -> bool:
    """Whether the firm is a member of the cluster (one small read)."""
    rows = await graph.read(FIRM_EXISTS, {"id": firm_id})
    return bool(rows and rows[0]["known"])


class MemberFirms:
    """Remembers for a short while which firms are members, to keep the lookup off most requests.

    Only members are remembered: a firm admitted a moment ago can sign in at once, while a removed firm's
    tokens keep working for at most ``ttl_seconds``.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = 30.0,
        lookup: Callable[[Graph, str], Awaitable[bool]] = firm_exists,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._lookup = lookup
        self._clock = clock
        self._known_until: dict[str, float] = {}

    async def is_member(self, graph: Graph, firm_id: str) -> bool:
        """Whether the firm is a member, from the cache while fresh, else from the graph."""
        now = self._clock()
        if self._known_until.get(firm_id, -1.0) > now:
            return True
        if not await self._lookup(graph, firm_id):
            self._known_until.pop(firm_id, None)
            return False
        self._known_until[firm_id] = now + self.ttl_seconds
        return True
