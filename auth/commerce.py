"""Who may run sales channels and read the demand view: decided from the caller's firm roles, here only."""

from __future__ import annotations

from typing import Final

from auth.decisions import Decision
from auth.principal import Principal
from graph_schema.errors import Forbidden
from graph_schema.model import FirmRole

CHANNEL_OPERATORS: Final = frozenset({FirmRole.RETAILER, FirmRole.MARKETER})
# The anchor plans production for the cluster; retailers and marketers plan what they sell.
DEMAND_READERS: Final = frozenset({FirmRole.ANCHOR, FirmRole.RETAILER, FirmRole.MARKETER})


def require_channel_operator(principal: Principal, decision: Decision, *, what: str) -> None:
    """Sales channels are run by retailers and marketers, through their admins and editors."""
    if not decision.firm_roles & CHANNEL_OPERATORS:
        raise Forbidden(f"only a RETAILER or MARKETER firm may {what}")
    if not principal.can_edit:
        raise Forbidden(f"to {what} you need the admin or editor role")


def require_demand_reader(decision: Decision) -> None:
    """The demand view is for the anchor, retailers and marketers."""
    if not decision.firm_roles & DEMAND_READERS:
        raise Forbidden("the demand view is for ANCHOR, RETAILER and MARKETER firms")
