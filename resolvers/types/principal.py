"""Me: the caller as the hub understood its token."""

from __future__ import annotations

import strawberry

from auth.principal import Principal
from resolvers.context import Info
from resolvers.types.firm import Firm, load_firm


@strawberry.type(name="Principal", description="The caller: the firm it acts for, its roles and OAuth scopes")
class Me:
    subject: str
    firm_id: strawberry.ID
    roles: list[str]
    scopes: list[str]

    @classmethod
    def from_principal(cls, principal: Principal) -> Me:
        return cls(
            subject=principal.subject,
            firm_id=strawberry.ID(principal.firm_id),
            roles=sorted(str(role) for role in principal.roles),
            scopes=sorted(principal.scopes),
        )

    @strawberry.field
    async def firm(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.firm_id))
