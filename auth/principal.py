"""The caller: one firm, its roles and OAuth scopes, as established from a verified token."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a principal may do for its firm."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    RECALL_COORDINATOR = "recall_coordinator"
    AUDITOR = "auditor"
    DEVICE = "device"  # a Smart HACCP gateway: may post CCP readings for its firm and do nothing else


@dataclass(frozen=True)
class Principal:
    """An authenticated caller acting for one member firm."""

    subject: str
    firm_id: str
    roles: frozenset[Role]
    scopes: frozenset[str] = field(default_factory=frozenset)
    issuer: str = ""
    expires_at: float | None = None  # the token's exp (seconds since the epoch): a websocket is closed then

    @property
    def can_edit(self) -> bool:
        """May write its firm's records (admins and editors)."""
        return bool(self.roles & {Role.ADMIN, Role.EDITOR})

    @property
    def is_device(self) -> bool:
        """A Smart HACCP gateway's credentials: confined to posting CCP readings."""
        return Role.DEVICE in self.roles

    @property
    def is_admin(self) -> bool:
        """Administers its firm's membership data."""
        return Role.ADMIN in self.roles
