"""Sharing grants: an owner firm opens one scope of its data, at one level, to a firm, a role or the cluster."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from graph_schema.db import Graph, Row
from graph_schema.errors import NotFound

# Grants in force for a viewer: not revoked, not expired, naming its firm, one of its firm's roles, or all.
GRANT_IN_FORCE: Final = (
    "g.revokedAt IS NULL AND (g.until IS NULL OR g.until > $now) AND g.ownerFirmId <> $firmId"
    " AND (g.toFirmId = $firmId OR g.toRole IN $firmRoles OR g.toCluster = true)"
)

GRANTS_RECEIVED: Final = (
    """
MATCH (g:SharingGrant)
WHERE """
    + GRANT_IN_FORCE
    + """
RETURN g {.id, .ownerFirmId, .scope, .level, .toFirmId, .toRole, .toCluster, .until, .createdAt} AS grant
ORDER BY g.createdAt, g.id
"""
)

GRANTS_GIVEN: Final = """
MATCH (g:SharingGrant {ownerFirmId: $firmId})
WHERE g.revokedAt IS NULL
RETURN g {.id, .ownerFirmId, .scope, .level, .toFirmId, .toRole, .toCluster, .until, .createdAt} AS grant
ORDER BY g.createdAt, g.id
"""

CREATE_GRANT: Final = """
MATCH (f:Firm {id: $row.ownerFirmId})
CREATE (g:SharingGrant)
SET g = $row
CREATE (f)-[:GRANTS]->(g)
RETURN g {.id, .ownerFirmId, .scope, .level, .toFirmId, .toRole, .toCluster, .until, .createdAt} AS grant
"""

REVOKE_GRANT: Final = """
MATCH (g:SharingGrant {id: $id, ownerFirmId: $firmId})
WHERE g.revokedAt IS NULL
SET g.revokedAt = $now
RETURN g.id AS id
"""

FIRM_ROLES: Final = "MATCH (f:Firm {id: $firmId}) RETURN f.roles AS roles"


async def firm_roles(graph: Graph, firm_id: str) -> list[str]:
    """The roles of a member firm (empty for an unknown firm)."""
    rows = await graph.read(FIRM_ROLES, {"firmId": firm_id})
    return list(rows[0]["roles"]) if rows else []


async def grants_received(graph: Graph, *, firm_id: str, firm_roles: Sequence[str], now: datetime) -> list[Row]:
    """The grants in force that open another firm's data to ``firm_id``."""
    params = {"firmId": firm_id, "firmRoles": list(firm_roles), "now": now}
    return [row["grant"] for row in await graph.read(GRANTS_RECEIVED, params)]


async def grants_given(graph: Graph, *, firm_id: str) -> list[Row]:
    """The grants ``firm_id`` has given and not revoked (expired ones included, so they can be seen)."""
    return [row["grant"] for row in await graph.read(GRANTS_GIVEN, {"firmId": firm_id})]


async def create_grant(graph: Graph, row: Row) -> Row:
    """Record a grant (validated and decided by the caller)."""
    rows = await graph.write(CREATE_GRANT, {"row": row})
    if not rows:
        raise NotFound(f"firm {row['ownerFirmId']!r} is not a member", field="ownerFirmId")
    grant: Row = rows[0]["grant"]
    return grant


async def revoke_grant(graph: Graph, *, grant_id: str, owner_firm_id: str, now: datetime) -> None:
    """Revoke one of the owner's grants; it stops counting from the next request."""
    if not await graph.write(REVOKE_GRANT, {"id": grant_id, "firmId": owner_firm_id, "now": now}):
        raise NotFound(f"no grant {grant_id!r} in force among your firm's grants", field="id")


# Everything the permission decision needs about a caller's firm, in one round trip per request. The grants
# naming the firm, one of its roles or the whole cluster are found by three index seeks (not by reading every
# grant of the cluster); ``nextExpiry`` is when the first of them runs out (epoch seconds), so a decision kept
# for a while is never used past it.
VISIBILITY_FACTS: Final = (
    """
OPTIONAL MATCH (me:Firm {id: $firmId})
WITH me, coalesce(me.roles, []) AS firmRoles
CALL (firmRoles) {
  CALL (firmRoles) {
    MATCH (g:SharingGrant {toFirmId: $firmId}) RETURN g
    UNION
    MATCH (g:SharingGrant) WHERE g.toRole IN firmRoles RETURN g
    UNION
    MATCH (g:SharingGrant {toCluster: true}) RETURN g
  }
  WITH g WHERE """
    + GRANT_IN_FORCE.replace("$firmRoles", "firmRoles")  # here the roles are read from the graph, not passed
    + """
  RETURN collect(g {.ownerFirmId, .scope, .level}) AS grants, min(g.until.epochSeconds) AS nextExpiry
}
CALL (firmRoles) {
  MATCH (r:Recall {status: 'OPEN'})
  WHERE r.coordinatorFirmId = $firmId OR 'AGENCY' IN firmRoles
  RETURN collect(r.id) AS recalls
}
RETURN me IS NOT NULL AS member, firmRoles AS roles, grants, recalls, nextExpiry
"""
)


async def visibility_facts(graph: Graph, *, firm_id: str, now: datetime) -> Row:
    """The caller's firm roles, the grants in force for it, and the open recalls it coordinates or oversees."""
    return (await graph.read(VISIBILITY_FACTS, {"firmId": firm_id, "now": now}))[0]
