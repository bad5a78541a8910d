"""The permission decision: what a principal may see and do. The one place these rules live."""

from __future__ import annotations

from auth.principal import Principal, Role
from graph_schema.access import Viewer
from graph_schema.errors import Forbidden
from graph_schema.model import FirmRole


def viewer_for(principal: Principal) -> Viewer:
    """The visibility of a principal's requests, computed once per request.

    A firm sees its own records in full, the lots shipped to it and the shipments it is party to (one step
    back and one step forward). Sharing grants add firms here (the permissions issue).
    """
    return Viewer(firm_id=principal.firm_id, detail_firm_ids=frozenset({principal.firm_id}))


def require_editor(principal: Principal, *, firm_id: str, what: str) -> None:
    """Writes of a firm's records need that firm's admin or editor."""
    if principal.firm_id != firm_id:
        raise Forbidden(f"you act for firm {principal.firm_id!r} and cannot {what} for firm {firm_id!r}")
    if not principal.can_edit:
        raise Forbidden(f"to {what} you need the admin or editor role")


def require_cluster_operator(principal: Principal, *, operator_roles: list[str] | None, what: str) -> None:
    """Admitting members is for the cluster operator's (the AGENCY firm's) admin."""
    if operator_roles is None or FirmRole.AGENCY not in operator_roles or Role.ADMIN not in principal.roles:
        raise Forbidden(f"only an admin of the cluster operator (an AGENCY firm) may {what}")
