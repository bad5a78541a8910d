"""Trusted issuers: member firms' own OpenID Connect providers, their keys found by discovery and cached.

Only the issuer's published keys verify its tokens: headers that point elsewhere for keys (``jku``, ``x5u``,
``jwk``, ``x5c``) are never followed, and only asymmetric algorithms are accepted, so a public key can never
be turned into an HMAC secret.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import JWKRegistry, Key
from joserfc.util import urlsafe_b64decode
from pydantic import BaseModel, ConfigDict, Field, field_validator

from auth.issuer import MAX_TOKEN_BYTES, InvalidToken
from auth.principal import Principal, Role

log = logging.getLogger(__name__)

ALGORITHMS: Final = ("RS256", "PS256", "ES256", "EdDSA")
_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})
_MIN_RSA_BITS: Final = 2048
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
# discovery documents and key sets are a few kilobytes; a cap keeps a broken or hostile IdP from filling memory
MAX_DOCUMENT_BYTES: Final = 256 * 1024
_ROLE_VALUES: Final = frozenset(role.value for role in Role)


class _FederationJWSRegistry(jws.JWSRegistry):
    """The algorithms a trusted issuer may sign with, and nothing else."""

    # joserfc keeps a registry's algorithms in class attributes: fresh ones here leave its global registry as is
    algorithms: dict[str, JWSAlgModel] = {}  # noqa: RUF012
    recommended: list[str] = []  # noqa: RUF012
    # an x5c header (ignored here, but some IdPs send it) is a whole certificate: far over joserfc's 512
    # bytes; the token as a whole stays capped by MAX_TOKEN_BYTES
    max_header_length = 4096


def _registered_algorithm(name: str) -> JWSAlgModel:
    algorithm = jws.JWSRegistry.algorithms[name]
    if algorithm.security_warning:
        # RFC 9864 deprecates the name "EdDSA" in favour of "Ed25519", but identity providers still sign
        # with it; the warning is about the name, not the signature, so it is not repeated per token
        algorithm = copy.copy(algorithm)
        algorithm.security_warning = None
    return algorithm


for _name in ALGORITHMS:
    _FederationJWSRegistry.register(_registered_algorithm(_name))

#: Checks every token of a trusted issuer: only ALGORITHMS; unknown header names are tolerated (``crit`` is not).
JWS_REGISTRY: Final = _FederationJWSRegistry(algorithms=ALGORITHMS, strict_check_header=False)


def _check_url(value: str, *, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute https URL, got {value!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"{what} must use https (plain http only on a loopback address), got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not have a query or fragment, got {value!r}")
    return value


class TrustedIssuer(BaseModel):
    """An identity provider the hub accepts tokens from, and how its tokens name the firm, roles and scopes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str  # the exact ``iss`` of its tokens, and the base of its discovery document
    audience: str = Field(min_length=1)
    # a firm's own IdP: every token is that firm's. Unset: a shared IdP whose tokens name the firm in firm_claim
    firm_id: str | None = Field(default=None, min_length=1)
    firm_claim: str = Field(default="firm_id", min_length=1)
    roles_claim: str = Field(default="roles", min_length=1)
    scope_claim: str = Field(default="scope", min_length=1)
    default_roles: list[Role] = Field(default_factory=lambda: [Role.VIEWER])  # when a token has no roles claim
    jwks_uri: str | None = None  # default: from the discovery document
    # the member portal signs people in here (authorization code with PKCE) when a public client id is given
    portal_client_id: str | None = Field(default=None, min_length=1)
    portal_scope: str = Field(default="openid", min_length=1)  # what the portal asks the provider for
    portal_label: str | None = Field(default=None, min_length=1)  # the sign-in button's name (default: the firm)

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_url(cls, value: str) -> str:
        return _check_url(value, what="a trusted issuer")

    @field_validator("jwks_uri")
    @classmethod
    def _jwks_uri_is_a_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, what="a jwks_uri")

    @property
    def discovery_url(self) -> str:
        """Where the issuer's OpenID configuration is (OpenID Connect Discovery 1.0, section 4)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class KeysUnavailable(InvalidToken):
    """The issuer's keys could not be fetched, so none of its tokens can be checked right now."""


@dataclass(frozen=True)
class UnverifiedToken:
    """A token's header and claims as written, before anything about them is trusted."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]


def read_unverified(token: str) -> UnverifiedToken:
    """Split a compact JWS into its header and claims without checking anything but its shape."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken(f"token too large ({len(token)} bytes, at most {MAX_TOKEN_BYTES})")
    try:
        compact = jws.extract_compact(token.encode("ascii"), registry=JWS_REGISTRY)
        claims = json.loads(compact.payload)
    except (JoseError, ValueError) as error:  # UnicodeEncodeError and JSONDecodeError are ValueErrors
        raise InvalidToken(f"not a compact JWS: {error}") from None
    if not isinstance(claims, dict):
        raise InvalidToken("the token's payload is not a JSON object")
    return UnverifiedToken(header=compact.headers(), claims=claims)


def _import_keys(jwks: Mapping[str, Any], *, source: str) -> list[Key]:
    """The usable signature keys of a JWK set; symmetric, weak or malformed entries are skipped."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError(f"{source} is not a JWK set")
    keys: list[Key] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in _KEY_TYPES or entry.get("use", "sig") != "sig":
            continue
        try:
            if entry["kty"] == "RSA" and len(urlsafe_b64decode(str(entry.get("n", "")).encode())) * 8 < _MIN_RSA_BITS:
                log.warning("skipped a weak RSA key %r of %s", entry.get("kid"), source)
                continue
            keys.append(JWKRegistry.import_key(entry))
        except (JoseError, ValueError, TypeError, KeyError) as error:
            log.warning("skipped an unusable key %r of %s: %s", entry.get("kid"), source, error)
    return keys


async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != httpx.codes.OK:
                raise KeysUnavailable(f"{url} answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise KeysUnavailable(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as error:
        raise KeysUnavailable(f"could not fetch {url}: {type(error).__name__}: {error}") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise KeysUnavailable(f"{url} did not send JSON") from None
    if not isinstance(document, dict):
        raise KeysUnavailable(f"{url} did not send a JSON object")
    return document


@dataclass
class IssuerKeys:
    """One issuer's signature keys: fetched by discovery, kept for a while, fetched again for a new key id.

    A refetch for an unknown key id happens at most once per ``refetch_interval_seconds``: tokens with made-up
    key ids then cost nothing but a dictionary lookup, and cannot make the hub hammer the identity provider.
    """

    config: TrustedIssuer
    http: httpx.AsyncClient
    ttl_seconds: float = 600.0
    refetch_interval_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _by_kid: dict[str, Key] = field(default_factory=dict, init=False)
    _all: list[Key] = field(default_factory=list, init=False)
    _fresh_until: float = field(default=-math.inf, init=False)
    _next_refetch: float = field(default=-math.inf, init=False)
    _retry_at: float = field(default=-math.inf, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def key_for(self, kid: str | None) -> Key:
        """The issuer's key with this id (or its only key, for a token without a key id)."""
        if self.clock() < self._fresh_until and (key := self._find(kid)) is not None:
            return key  # the hot path: no lock, no I/O
        async with self._lock:
            now = self.clock()
            fetched = False
            if now >= self._fresh_until and now >= self._retry_at:
                fetched = await self._refresh_after_expiry(now)
            elif not self._all:
                raise KeysUnavailable(f"the keys of {self.config.issuer} could not be fetched; trying again shortly")
            key = self._find(kid)
            if key is None and kid is not None and not fetched and now >= self._next_refetch:
                self._next_refetch = now + self.refetch_interval_seconds
                log.info("unknown key id %r from %s: fetching its keys again", kid, self.config.issuer)
                await self._refresh(now)
                key = self._find(kid)
        if key is None:
            if kid is None:
                raise InvalidToken(f"the token names no key id and {self.config.issuer} publishes several keys")
            raise InvalidToken(f"key id {kid!r} is not among the keys of {self.config.issuer}")
        return key

    @property
    def current(self) -> list[Key]:
        """The keys as last fetched: a new list after every fetch (the same object until then)."""
        return self._all

    def _find(self, kid: str | None) -> Key | None:
        if kid is not None:
            return self._by_kid.get(kid)
        return self._all[0] if len(self._all) == 1 else None

    async def _refresh_after_expiry(self, now: float) -> bool:
        try:
            await self._refresh(now)
        except KeysUnavailable as error:
            # a down IdP is asked again only after a pause, however many tokens arrive meanwhile
            self._retry_at = now + self.refetch_interval_seconds
            if not self._all:
                raise
            log.warning("keeping the cached keys of %s for now: %s", self.config.issuer, error)
            return False
        return True

    async def _refresh(self, now: float) -> None:
        jwks_uri = self.config.jwks_uri or await self._discover()
        keys = _import_keys(await _get_json(self.http, jwks_uri), source=jwks_uri)
        if not keys:
            raise KeysUnavailable(f"{jwks_uri} has no usable signature keys")
        self._all = keys
        self._by_kid = {key.kid: key for key in keys if key.kid}
        self._fresh_until = now + self.ttl_seconds

    async def _discover(self) -> str:
        url = self.config.discovery_url
        document = await _get_json(self.http, url)
        # OpenID Connect Discovery 1.0, 4.3: a document for another issuer must not be used
        if document.get("issuer") != self.config.issuer:
            raise KeysUnavailable(f"{url} describes issuer {document.get('issuer')!r}, not {self.config.issuer!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise KeysUnavailable(f"{url} has no jwks_uri")
        try:
            return _check_url(jwks_uri, what="the discovered jwks_uri")
        except ValueError as error:
            raise KeysUnavailable(str(error)) from None


def _strings(value: object) -> list[str]:
    """A claim holding names, either space-separated (OAuth's scope) or as a JSON array."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


@dataclass
class FederatedIssuer:
    """Verifies the tokens of one trusted issuer and turns them into principals."""

    config: TrustedIssuer
    keys: IssuerKeys
    leeway_seconds: int = 30

    @classmethod
    def create(
        cls,
        config: TrustedIssuer,
        *,
        http: httpx.AsyncClient,
        leeway_seconds: int = 30,
        jwks_ttl_seconds: float = 600.0,
        refetch_interval_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> FederatedIssuer:
        """A verifier for one trusted issuer, its keys fetched on first use through the shared HTTP client."""
        keys = IssuerKeys(
            config,
            http,
            ttl_seconds=jwks_ttl_seconds,
            refetch_interval_seconds=refetch_interval_seconds,
            clock=clock,
        )
        return cls(config=config, keys=keys, leeway_seconds=leeway_seconds)

    async def verify(self, token: str) -> Principal:
        """The principal a token of this issuer proves, or InvalidToken saying what is wrong with it."""
        unverified = read_unverified(token)
        header = unverified.header
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"algorithm {alg!r} is not accepted (only {', '.join(ALGORITHMS)})")
        if "b64" in header:
            raise InvalidToken("an unencoded payload (b64) is not a JWT")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's kid is not a string")
        key = await self.keys.key_for(kid)
        try:
            claims = jwt.decode(token, key, algorithms=[alg], registry=JWS_REGISTRY).claims
            jwt.JWTClaimsRegistry(
                leeway=self.leeway_seconds,
                iss={"essential": True, "value": self.config.issuer},
                aud={"essential": True, "value": self.config.audience},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(claims)
        except (JoseError, ValueError) as error:
            raise InvalidToken(f"token of {self.config.issuer} rejected: {error}") from None
        return Principal(
            subject=claims["sub"],
            firm_id=self._firm_of(claims),
            roles=self._roles_of(claims),
            scopes=frozenset(_strings(claims.get(self.config.scope_claim))),
            issuer=self.config.issuer,
            expires_at=float(claims["exp"]),
        )

    def _firm_of(self, claims: Mapping[str, Any]) -> str:
        claimed = claims.get(self.config.firm_claim)
        pinned = self.config.firm_id
        if pinned is not None:
            # a firm's own IdP speaks for that firm only: a token naming another one is forged or misrouted
            if claimed is not None and claimed != pinned:
                raise InvalidToken(f"{self.config.issuer} speaks for firm {pinned!r}, but its token names {claimed!r}")
            return pinned
        if not isinstance(claimed, str) or not claimed.strip():
            raise InvalidToken(f"token of {self.config.issuer} has no {self.config.firm_claim} claim")
        return claimed

    def _roles_of(self, claims: Mapping[str, Any]) -> frozenset[Role]:
        if self.config.roles_claim not in claims:
            return frozenset(self.config.default_roles)
        return frozenset(Role(name) for name in _strings(claims[self.config.roles_claim]) if name in _ROLE_VALUES)
