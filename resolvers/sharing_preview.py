"""sharingPreview: what a grant would open to its grantees, before the admin gives it.

Each grantee's decision is taken twice by ``auth.decisions.decision_of_firm``, as it stands and with the
proposed grant in force, and the scope's own reads (the lot list, the stock, the orders, the CCPs) are counted
with both: the preview runs the same rules and queries as the grantee's requests will, never a copy of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import strawberry

from auth.decisions import Decision, decision_of_firm, require_admin
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.errors import NotFound
from graph_schema.haccp.ccps import count_ccps
from graph_schema.inventory import count_stock
from graph_schema.lot_filters import LotFilter, count_lots, list_lots
from graph_schema.orders import count_orders
from resolvers.context import Info
from resolvers.inputs import SharingGrantInput
from resolvers.permissions import AUTHENTICATED
from resolvers.sharing import _grant_row
from resolvers.types.firm import Firm, load_firm
from resolvers.types.values import SharingLevel, SharingScope

MAX_GRANTEES: Final = 20  # a role or the whole cluster: the first firms by id are previewed, all are counted
SAMPLE_LOTS: Final = 5


@strawberry.type(description="What one grantee firm sees of your firm's data now, and would see with the grant")
class SharingPreviewGrantee:
    firm_id: strawberry.ID
    new_records_in_detail: int | None = strawberry.field(
        description="Records of the scope this firm's queries would newly return in detail (null: SALES, whose "
        "figures are totals only)"
    )
    lots_in_detail_now: int | None = strawberry.field(description="TRACE: your lots it sees in detail today")
    lots_in_detail_after: int | None = strawberry.field(description="TRACE: your lots it would see in detail")
    lots_in_summary_after: int | None = strawberry.field(
        description="TRACE: your lots that would count in its traces' totals while staying redacted"
    )
    sample_lot_numbers: list[str] = strawberry.field(description="TRACE: lot numbers it would see, the first few")

    @strawberry.field(description="The grantee's profile")
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.firm_id))


@strawberry.type(description="A proposed grant's effect, before it is given")
class SharingPreview:
    scope: SharingScope
    level: SharingLevel
    firm_count: int = strawberry.field(description="Member firms the grant would reach")
    grantees: list[SharingPreviewGrantee] = strawberry.field(
        description=f"The grantees, at most {MAX_GRANTEES} (the first by firm id)"
    )


async def _grantee_ids(graph: Graph, row: dict[str, object], owner: Decision) -> tuple[int, list[str]]:
    owner_firm_id = owner.viewer.firm_id
    if row["toFirmId"] is not None:
        return 1, [str(row["toFirmId"])]
    role = str(row["toRole"]) if row["toRole"] is not None else None
    firms = await parties.list_firms(graph, role=role, after=None, limit=MAX_GRANTEES + 1)
    ids = [str(firm["id"]) for firm in firms if firm["id"] != owner_firm_id][:MAX_GRANTEES]
    total = await parties.count_firms(graph, role=role)
    own = 1 if role is None or role in owner.firm_roles else 0  # a grant never opens the owner's data to itself
    return total - own, ids


async def _scope_count(graph: Graph, scope: str, decision: Decision) -> int | None:
    """The scope's records the grantee's own reads return in detail (its own records among them)."""
    viewer = decision.viewer
    if scope == SharingScope.INVENTORY.value:
        return await count_stock(graph, viewer, product_gtin=None, region=None)
    if scope == SharingScope.ORDERS.value:
        return await count_orders(graph, viewer, open_only=False, product_gtin=None)
    if scope == SharingScope.CCP.value:
        return await count_ccps(graph, viewer, site_gln=None)
    return None


async def _preview(
    graph: Graph, owner: Decision, grantee_id: str, grant: dict[str, object], now: datetime
) -> SharingPreviewGrantee:
    scope = str(grant["scope"])
    before = await decision_of_firm(graph, grantee_id, now=now)
    after = await decision_of_firm(graph, grantee_id, now=now, extra_grants=[grant])
    owned = LotFilter(owner_firm_id=owner.viewer.firm_id)
    if scope == SharingScope.TRACE.value:
        now_count = await count_lots(graph, before.viewer, where=owned)
        after_count = await count_lots(graph, after.viewer, where=owned)
        in_summary = 0
        if owner.viewer.firm_id in after.viewer.summary_firm_ids:  # LOT_IN_SUMMARY: every lot of the owner
            in_summary = await count_lots(graph, owner.viewer, where=owned) - after_count
        rows = await list_lots(graph, after.viewer, where=owned, after=None, limit=SAMPLE_LOTS)
        return SharingPreviewGrantee(
            firm_id=strawberry.ID(grantee_id),
            new_records_in_detail=after_count - now_count,
            lots_in_detail_now=now_count,
            lots_in_detail_after=after_count,
            lots_in_summary_after=in_summary,
            sample_lot_numbers=[str(row["lot"]["lotNumber"]) for row in rows],
        )
    counted_before = await _scope_count(graph, scope, before)
    counted_after = await _scope_count(graph, scope, after)
    return SharingPreviewGrantee(
        firm_id=strawberry.ID(grantee_id),
        new_records_in_detail=None
        if counted_before is None or counted_after is None
        else counted_after - counted_before,
        lots_in_detail_now=None,
        lots_in_detail_after=None,
        lots_in_summary_after=None,
        sample_lot_numbers=[],
    )


@strawberry.type
class SharingPreviewQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="What a grant of your firm's data would open to its grantees, before you give it (admin)",
    )
    async def sharing_preview(self, info: Info, input: SharingGrantInput) -> SharingPreview:
        principal, decision = info.context.require_decision()
        require_admin(principal, what="preview a sharing grant")
        now = datetime.now(UTC)
        row = _grant_row(principal.firm_id, input, now)  # the grant's own checks, as grantSharing makes them
        graph = info.context.graph
        if row["toFirmId"] is not None and await info.context.loaders.firm.load(str(row["toFirmId"])) is None:
            raise NotFound(f"firm {row['toFirmId']!r} is not a member of the cluster", field="input.toFirmId")
        firm_count, grantee_ids = await _grantee_ids(graph, row, decision)
        grant = {"ownerFirmId": principal.firm_id, "scope": row["scope"], "level": row["level"]}
        return SharingPreview(
            scope=input.scope,
            level=input.level,
            firm_count=firm_count,
            grantees=[await _preview(graph, decision, grantee, grant, now) for grantee in grantee_ids],
        )
