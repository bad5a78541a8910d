"""Starlette authentication: a bearer token in, a Principal on the request out."""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection

from auth.issuer import InvalidToken
from auth.members import MemberFirms
from auth.principal import Principal
from auth.verifier import TokenVerifier
from graph_schema.db import Graph, GraphUnavailable

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


class AuthenticationUnavailable(AuthenticationError):
    """The token could not be checked because a store it depends on is down: a 503, not the caller's fault."""


class BearerTokenBackend(AuthenticationBackend):
    """Verifies ``Authorization: Bearer`` tokens; no header means an anonymous request."""

    def __init__(self, verifier: Callable[[], TokenVerifier], *, members: MemberFirms | None = None) -> None:
        self.verifier = verifier  # resolved per request: the app's lifespan opens the issuers
        self.members = members or MemberFirms()

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        hub = conn.app.state.hub
        principal = await self.principal_for(token.strip(), Graph(hub.driver, database=hub.settings.neo4j_database))
        return AuthCredentials(["authenticated", *sorted(principal.scopes)]), PrincipalUser(principal)

    async def principal_for(self, token: str, graph: Graph) -> Principal:
        """The principal a bearer token proves, for a member firm; AuthenticationError otherwise.

        Also used for websockets, whose token arrives in the ``connection_init`` message.
        """
        try:
            principal = await self.verifier().verify(token)
        except InvalidToken as error:
            log.info("rejected a bearer token: %s", error)
            raise AuthenticationError("the bearer token is invalid or expired") from None
        # a trusted issuer vouches for who the caller is, not for the firm being a member of this cluster
        try:
            member = await self.members.is_member(graph, principal.firm_id)
        except GraphUnavailable as error:
            raise AuthenticationUnavailable(error.message) from None
        if not member:
            log.info("rejected a token of %s for firm %r: not a member", principal.issuer, principal.firm_id)
            raise AuthenticationError("the bearer token is for a firm that is not a member of the cluster")
        return principal
