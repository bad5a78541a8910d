"""The permission decision: what a principal may see and do. The one place these rules live."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auth.principal import Principal, Role
from graph_schema.access import ScopeShares, Viewer
from graph_schema.db import Graph
from graph_schema.errors import Forbidden
from graph_schema.grants import visibility_facts
from graph_schema.model import FirmRole, SharingScope

TRACE = "TRACE"
DETAIL = "DETAIL"
SUMMARY = "SUMMARY"
# Scopes whose grants the Viewer carries per scope, for the inventory, sales and order reads.
SHARED_SCOPES = (SharingScope.INVENTORY, SharingScope.SALES, SharingScope.ORDERS)


@dataclass(frozen=True)
class Decision:
    """Everything decided about one request's caller: its visibility and its firm's standing."""

    viewer: Viewer
    firm_roles: frozenset[str]
    member: bool

    @property
    def overseer(self) -> bool:
        """The agency oversees the cluster: it admits members and sees every open recall's trace."""
        return FirmRole.AGENCY in self.firm_roles


def decide(
    principal: Principal,
    *,
    firm_roles: Iterable[str],
    grants: Iterable[dict[str, Any]],
    recalls: Iterable[str],
    member: bool = True,
) -> Decision:
    """Combine the rules of the cluster with the facts about the caller's firm.

    A firm sees its own records in full, the lots shipped to it and the shipments it is party to (one step
    back and one step forward); owners' TRACE grants add their records at DETAIL (records) or SUMMARY
    (aggregates only); an open recall opens its trace to its coordinator's firm and to the agency. INVENTORY,
    SALES and ORDERS grants are kept per scope the same way, from the same grants (no further read).
    """
    detail = {principal.firm_id}
    summary: set[str] = set()
    shared: dict[str, tuple[set[str], set[str]]] = {scope: (set(), set()) for scope in SHARED_SCOPES}
    for grant in grants:
        if grant["scope"] in shared:
            shared_detail, shared_summary = shared[grant["scope"]]
            (shared_detail if grant["level"] == DETAIL else shared_summary).add(grant["ownerFirmId"])
        if grant["scope"] != TRACE:
            continue
        (detail if grant["level"] == DETAIL else summary).add(grant["ownerFirmId"])
    viewer = Viewer(
        firm_id=principal.firm_id,
        detail_firm_ids=frozenset(detail),
        summary_firm_ids=frozenset(summary - detail),
        recall_ids=frozenset(recalls),
        inventory=_shares(shared[SharingScope.INVENTORY]),
        sales=_shares(shared[SharingScope.SALES]),
        orders=_shares(shared[SharingScope.ORDERS]),
    )
    return Decision(viewer=viewer, firm_roles=frozenset(firm_roles), member=member)


def _shares(levels: tuple[set[str], set[str]]) -> ScopeShares:
    detail, summary = levels
    return ScopeShares(detail=frozenset(detail), summary=frozenset(summary - detail))


async def decide_for_request(graph: Graph, principal: Principal, *, now: datetime | None = None) -> Decision:
    """The decision for one request, from the grants and recalls in force right now (one graph read)."""
    facts = await visibility_facts(graph, firm_id=principal.firm_id, now=now or datetime.now(UTC))
    return decide(
        principal,
        firm_roles=facts["roles"],
        grants=facts["grants"],
        recalls=facts["recalls"],
        member=bool(facts["member"]),
    )


def require_editor(principal: Principal, *, firm_id: str, what: str) -> None:
    """Writes of a firm's records need that firm's admin or editor."""
    if principal.firm_id != firm_id:
        raise Forbidden(f"you act for firm {principal.firm_id!r} and cannot {what} for firm {firm_id!r}")
    if not principal.can_edit:
        raise Forbidden(f"to {what} you need the admin or editor role")


def require_admin(principal: Principal, *, what: str) -> None:
    """Decisions about who sees a firm's data are its admin's."""
    if Role.ADMIN not in principal.roles:
        raise Forbidden(f"to {what} you need the admin role")


def require_cluster_operator(principal: Principal, decision: Decision, *, what: str) -> None:
    """Admitting members is for the cluster operator's (the AGENCY firm's) admin."""
    if not decision.overseer or Role.ADMIN not in principal.roles:
        raise Forbidden(f"only an admin of the cluster operator (an AGENCY firm) may {what}")


def require_recall_coordinator(principal: Principal, *, what: str) -> None:
    """Recalls are declared and closed by principals with the recall_coordinator role."""
    if Role.RECALL_COORDINATOR not in principal.roles:
        raise Forbidden(f"to {what} you need the recall_coordinator role")
