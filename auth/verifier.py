"""One entry point for every bearer token: the built-in issuer's, or a trusted identity provider's."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import httpx

from auth.federation import FederatedIssuer, TrustedIssuer, read_unverified
from auth.issuer import BuiltinIssuer, InvalidToken
from auth.principal import Principal

# A verified token is remembered for up to this long (never past its exp plus the leeway), so an app that sends the
# same token with every request pays for its signature once, not on each: about a tenth of a request's CPU.
VERIFIED_TTL_SECONDS: Final = 60.0
VERIFIED_MAX_TOKENS: Final = 4096  # the oldest are forgotten first; a token forgotten is simply verified again


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    keys: object  # the issuer's key set its signature was checked with: once the set changes, it is checked again
    until: float  # on the verifier's monotonic clock


class TokenVerifier:
    """Sends each token to the issuer its ``iss`` names; the claim is only trusted once that issuer verified it.

    Tokens it verified are remembered (``VERIFIED_TTL_SECONDS``, ``VERIFIED_MAX_TOKENS``) while their issuer's key
    set is the one that verified them: a key rotated out, or a key set fetched again, ends every such entry, and
    a token is never accepted past its exp plus the leeway. Refused tokens are never remembered.
    """

    def __init__(
        self,
        *,
        builtin: BuiltinIssuer | None,
        federated: Iterable[FederatedIssuer] = (),
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.builtin = builtin
        self.leeway_seconds = leeway_seconds
        self._clock, self._wall_clock = clock, wall_clock
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
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
            leeway_seconds=leeway_seconds,
            clock=clock,
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
        known = self._verified.get(token)
        if known is not None:
            if known.until > self._clock() and known.keys is self._key_set(known.principal.issuer):
                return known.principal
            del self._verified[token]
        principal = await self._verify(token)
        self._remember(token, principal)
        return principal

    def _key_set(self, issuer: str) -> object:
        if self.builtin is not None and issuer == self.builtin.issuer:
            return self.builtin.key_set()
        federated = self.federated.get(issuer)
        return None if federated is None else federated.keys.current

    def _remember(self, token: str, principal: Principal) -> None:
        now = self._clock()
        until = now + VERIFIED_TTL_SECONDS
        if principal.expires_at is not None:
            until = min(until, now + principal.expires_at + self.leeway_seconds - self._wall_clock())
        keys = self._key_set(principal.issuer)
        if until <= now or keys is None:
            return
        self._verified[token] = _Verified(principal, keys, until)
        while len(self._verified) > VERIFIED_MAX_TOKENS:
            self._verified.popitem(last=False)

    async def _verify(self, token: str) -> Principal:
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
