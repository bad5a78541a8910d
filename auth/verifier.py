"""One entry point for every bearer token: the built-in issuer's, or a trusted identity provider's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import httpx

from auth.federation import FederatedIssuer, TrustedIssuer, read_unverified
from auth.issuer import BuiltinIssuer, InvalidToken
from auth.principal import Principal


class TokenVerifier:
    """Sends each token to the issuer its ``iss`` names; the claim is only trusted once that issuer verified it."""

    def __init__(self, *, builtin: BuiltinIssuer | None, federated: Iterable[FederatedIssuer] = ()) -> None:
        self.builtin = builtin
        self.federated: dict[str, FederatedIssuer] = {}
        for issuer in federated:
            url = issuer.config.issuer
            if url in self.federated:
                raise ValueError(f"trusted issuer {url} is listed twice")
            if builtin is not None and url == builtin.issuer:
                raise ValueError(f"trusted issuer {url} is the hub's own built-in issuer")
            self.federated[url] = issuer
        # a firm with its own identity provider signs in through that one only: a shared IdP naming it is refused
        self._own_issuers: dict[str, set[str]] = {}
        for url, issuer in self.federated.items():
            if issuer.config.firm_id is not None:
                self._own_issuers.setdefault(issuer.config.firm_id, set()).add(url)

    @classmethod
    def create(
        cls,
        *,
        builtin: BuiltinIssuer | None,
        trusted: Sequence[TrustedIssuer],
        http: httpx.AsyncClient,
        leeway_seconds: int = 30,
        jwks_ttl_seconds: float = 600.0,
        refetch_interval_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> TokenVerifier:
        """A verifier for the built-in issuer (None when switched off) and the configured trusted issuers."""
        return cls(
            builtin=builtin,
            federated=[
                FederatedIssuer.create(
                    config,
                    http=http,
                    leeway_seconds=leeway_seconds,
                    jwks_ttl_seconds=jwks_ttl_seconds,
                    refetch_interval_seconds=refetch_interval_seconds,
                    clock=clock,
                )
                for config in trusted
            ],
        )

    async def verify(self, token: str) -> Principal:
        """The principal a token proves, or InvalidToken saying what is wrong with it."""
        claimed_issuer = read_unverified(token).claims.get("iss")
        if not isinstance(claimed_issuer, str):
            raise InvalidToken("the token has no iss claim")
        if self.builtin is not None and claimed_issuer == self.builtin.issuer:
            return self.builtin.verify(token)
        federated = self.federated.get(claimed_issuer)
        if federated is None:
            raise InvalidToken(f"issuer {claimed_issuer!r} is not trusted")
        principal = await federated.verify(token)
        own_issuers = self._own_issuers.get(principal.firm_id)
        if own_issuers is not None and principal.issuer not in own_issuers:
            raise InvalidToken(
                f"{principal.issuer} named firm {principal.firm_id!r}, which signs in only through its own issuer"
            )
        return principal
