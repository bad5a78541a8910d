"""SharingGrant: one scope of an owner's data opened at one level to a firm, a role, or the whole cluster."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph_schema.db import Row
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm
from resolvers.types.values import FirmRole, SharingLevel, SharingScope, native_datetime


@strawberry.type(description="A sharing grant: the owner opens a scope at a level to one grantee, maybe until a date")
class SharingGrant:
    id: strawberry.ID
    scope: SharingScope
    level: SharingLevel
    to_firm_id: strawberry.ID | None
    to_role: FirmRole | None
    to_cluster: bool
    until: datetime | None
    created_at: datetime | None
    _owner_firm_id: strawberry.Private[str]

    @classmethod
    def from_record(cls, row: Row) -> SharingGrant:
        return cls(
            id=strawberry.ID(row["id"]),
            scope=SharingScope(row["scope"]),
            level=SharingLevel(row["level"]),
            to_firm_id=strawberry.ID(row["toFirmId"]) if row.get("toFirmId") else None,
            to_role=FirmRole(row["toRole"]) if row.get("toRole") else None,
            to_cluster=bool(row.get("toCluster")),
            until=native_datetime(row.get("until")),
            created_at=native_datetime(row.get("createdAt")),
            _owner_firm_id=row["ownerFirmId"],
        )

    @strawberry.field(description="The firm whose data the grant opens")
    async def owner(self, info: Info) -> Firm | None:
        return await load_firm(info, self._owner_firm_id)
