"""The permission decision: what a principal may see and do. The one place these rules live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
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
# Scopes whose grants the Viewer carries per scope, for the inventory, sales, order and CCP reads.
SHARED_SCOPES = (SharingScope.INVENTORY, SharingScope.SALES, SharingScope.ORDERS, SharingScope.CCP)


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
    SALES, ORDERS and CCP grants are kept per scope the same way, from the same grants (no further read).
    """
    roles = frozenset(firm_roles)
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
        ccp=_shares(shared[SharingScope.CCP]),
        overseer=FirmRole.AGENCY in roles,
    )
    return Decision(viewer=viewer, firm_roles=roles, member=member)


def _shares(levels: tuple[set[str], set[str]]) -> ScopeShares:
    detail, summary = levels
    return ScopeShares(detail=frozenset(detail), summary=frozenset(summary - detail))


async def decide_for_request(graph: Graph, principal: Principal, *, now: datetime | None = None) -> Decision:
    """The decision for one request, from the grants and recalls in force right now (one graph read)."""
    facts = await visibility_facts(graph, firm_id=principal.firm_id, now=now or datetime.now(UTC))
    return _decision(principal, facts)


async def decision_of_firm(
    graph: Graph, firm_id: str, *, now: datetime, extra_grants: Iterable[dict[str, Any]] = ()
) -> Decision:
    """The decision any caller of ``firm_id`` gets now, or would get with ``extra_grants`` in force as well.

    The sharing preview asks this twice, without and with the grant an admin is about to give: the very rules
    every request is decided by, so the preview cannot promise other than what the grant will do.
    """
    facts = await visibility_facts(graph, firm_id=firm_id, now=now)
    grantee = Principal(subject=f"preview:{firm_id}", firm_id=firm_id, roles=frozenset({Role.VIEWER}))
    return _decision(grantee, {**facts, "grants": [*facts["grants"], *extra_grants]})


def _decision(principal: Principal, facts: dict[str, Any]) -> Decision:
    return decide(
        principal,
        firm_roles=facts["roles"],
        grants=facts["grants"],
        recalls=facts["recalls"],
        member=bool(facts["member"]),
    )


class DecisionCache:
    """Keeps each firm's decision for a short while, so most requests cost no decision read.

    Every decision depends on the caller's firm only (its roles, the grants naming it, its role or the cluster,
    and the open recalls it coordinates or oversees), so decisions are kept per firm. A kept decision is used
    for at most ``ttl_seconds`` and never past the moment the first of its grants expires. A write through this
    process (any GraphQL mutation: grants, recalls, members) calls ``forget``, so the change counts from the
    very next request here; a change made through another process (a second worker, the CLI) counts within
    ``ttl_seconds``. ``ttl_seconds=0`` turns the cache off: one decision read per request.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_firms: int = 10_000,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_firms = max_firms
        self._kept: dict[str, tuple[float, Decision]] = {}
        self._pending: dict[str, asyncio.Future[Decision]] = {}
        self._generation = 0  # moves on every forget: a read begun before it is not kept after it
        self.reads = 0  # decision reads made (the figure the benchmarks report)

    def forget(self) -> None:
        """Drop every kept decision: something they were made from may have changed."""
        self._generation += 1
        self._kept.clear()
        self._pending.clear()

    async def decide(self, graph: Graph, principal: Principal) -> Decision:
        """The caller's decision: kept while fresh, else read once for all concurrent callers of the firm."""
        if self.ttl_seconds <= 0:
            self.reads += 1
            return await decide_for_request(graph, principal)
        firm_id = principal.firm_id
        kept = self._kept.get(firm_id)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        pending = self._pending.get(firm_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pending[firm_id] = pending
            generation = self._generation
            try:
                decision, fresh_for = await self._read(graph, principal)
            except BaseException as error:
                if self._pending.get(firm_id) is pending:
                    del self._pending[firm_id]
                if isinstance(error, asyncio.CancelledError):
                    pending.cancel()  # this caller went away: those waiting on it read for themselves
                else:
                    pending.set_exception(error)
                    pending.exception()  # retrieved here: callers waiting on it raise it themselves
                raise
            if self._pending.get(firm_id) is pending:
                del self._pending[firm_id]
            if generation == self._generation and fresh_for > 0:
                if len(self._kept) >= self._max_firms:
                    self._kept.clear()
                self._kept[firm_id] = (self._clock() + fresh_for, decision)
            pending.set_result(decision)
            return decision
        await asyncio.wait((pending,))  # raises only if this caller is cancelled, never for the reader's fate
        if pending.cancelled():
            return await self.decide(graph, principal)
        # the firm's decision with this caller's firm: identical, as it depends on the firm only
        return pending.result()

    async def _read(self, graph: Graph, principal: Principal) -> tuple[Decision, float]:
        self.reads += 1
        now = self._wall_clock()
        facts = await visibility_facts(graph, firm_id=principal.firm_id, now=datetime.fromtimestamp(now, UTC))
        fresh_for = self.ttl_seconds
        if facts.get("nextExpiry") is not None:
            fresh_for = min(fresh_for, float(facts["nextExpiry"]) - now)
        return _decision(principal, facts), fresh_for


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


def require_recall_answerer(principal: Principal, *, what: str) -> None:
    """A firm answers a recall (acknowledges, reports dispositions) through its admin, editor or recall coordinator."""
    if not principal.can_edit and Role.RECALL_COORDINATOR not in principal.roles:
        raise Forbidden(f"to {what} you need the admin, editor or recall_coordinator role")
