"""Strawberry permission classes: every Query and Mutation field carries one."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from resolvers.context import UNAUTHENTICATED, Info


class IsAuthenticated(BasePermission):
    """The request carries a verified token naming a member firm."""

    message = "sign in: send 'Authorization: Bearer <token>' with the request"
    error_extensions = {"code": UNAUTHENTICATED}  # noqa: RUF012 (strawberry reads this class attribute)

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal is not None and info.context.viewer is not None


AUTHENTICATED: list[type[BasePermission]] = [IsAuthenticated]
