"""Starlette authentication: a bearer token in, a Principal on the request out."""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection

from auth.issuer import BuiltinIssuer, InvalidToken
from auth.principal import Principal

log = logging.getLogger(__name__)


class PrincipalUser(BaseUser):
    """The authenticated caller as Starlette sees it."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return f"{self.principal.subject}@{self.principal.firm_id}"

    @property
    def identity(self) -> str:
        return self.principal.subject


class BearerTokenBackend(AuthenticationBackend):
    """Verifies ``Authorization: Bearer`` tokens; no header means an anonymous request."""

    def __init__(self, issuer: Callable[[], BuiltinIssuer]) -> None:
        self.issuer = issuer  # resolved per request: the app's lifespan opens the issuer's keys

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        try:
            principal = self.issuer().verify(token.strip())
        except InvalidToken as error:
            log.info("rejected a bearer token: %s", error)
            raise AuthenticationError("the bearer token is invalid or expired") from None
        return AuthCredentials(["authenticated", *sorted(principal.scopes)]), PrincipalUser(principal)
