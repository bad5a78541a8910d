"""The built-in issuer over HTTP: discovery, its public keys, and the token endpoint (client_credentials only).

A small explicit endpoint rather than Authlib's AuthorizationServer: that one is built around framework
request/response adapters (there is none for Starlette) and grant classes for flows the hub does not offer,
while the one grant here is a few checks of RFC 6749 sections 2.3.1, 4.4 and 5. Tokens are signed by the
issuer with joserfc; client secrets are checked by ``auth.clients`` (scrypt, constant-time).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final, Protocol
from urllib.parse import parse_qsl, unquote_plus

import anyio
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from auth.clients import CLIENT_SUBJECT_PREFIX, active_client, authenticate_client, is_scope_token
from hub.state import HubState

log = logging.getLogger(__name__)

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/oauth/jwks"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 (a path, not a secret)
GRANT_TYPE: Final = "client_credentials"
MAX_FORM_BYTES: Final = 8192
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_BASIC_CHALLENGE: Final = 'Basic realm="food-cluster-hub", charset="UTF-8"'
_VERIFIED_SECONDS: Final = 300.0  # a secret found right is recognised by a fast keyed hash for this long
_MAX_VERIFIED: Final = 10_000


class AttemptLog(Protocol):
    """Where the token endpoint counts failed authentications: this process (``FailedAttempts``) or the SQL store
    shared by every hub process (``hub.sign_in_failures.SharedFailedAttempts``)."""

    async def wait_for(self, key: str) -> float | None:
        """Seconds until this key may try again, or None when it may try now."""
        ...

    async def failed(self, key: str) -> None:
        """Count one failed authentication of this key."""
        ...

    async def succeeded(self, key: str) -> None:
        """Forget this key's failures (a person who mistyped, then signed in, starts afresh)."""
        ...


class FailedAttempts:
    """A sliding window of failed client authentications per key: past ``limit``, the key is refused for a while.

    The token endpoint keys it by client id and source address, so that wrong secrets sent from elsewhere
    cannot lock the real client out. Client secrets are long and random, so this is less about guessing than
    about not hashing for whoever hammers the endpoint (``SecretChecks`` bounds the hashing of everyone
    together). It is per process and in memory: enough for one hub, and it forgets on restart.
    """

    def __init__(
        self,
        *,
        limit: int = 10,
        window_seconds: float = 300.0,
        max_tracked: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_tracked = max_tracked
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client_id: str) -> float | None:
        """Seconds until this client id may try again, or None when it may try now."""
        failures = self._failures.get(client_id)
        if failures is None:
            return None
        now = self.clock()
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        if not failures:
            del self._failures[client_id]
            return None
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window_seconds - now

    async def wait_for(self, key: str) -> float | None:
        """``retry_after`` as the token endpoint awaits it (``AttemptLog``)."""
        return self.retry_after(key)

    async def failed(self, key: str) -> None:
        """``record_failure`` as the token endpoint awaits it (``AttemptLog``)."""
        self.record_failure(key)

    async def succeeded(self, key: str) -> None:
        """Forget this key's failures (``AttemptLog``)."""
        self._failures.pop(key, None)

    def record_failure(self, client_id: str) -> None:
        """Count one failed authentication of this client id."""
        failures = self._failures.setdefault(client_id, deque(maxlen=self.limit))
        failures.append(self.clock())
        self._failures.move_to_end(client_id)
        while len(self._failures) > self.max_tracked:  # made-up ids must not grow this without bound
            self._failures.popitem(last=False)


class SecretChecks:
    """The ceiling on the token endpoint's secret hashing, for all callers together.

    scrypt is dear by design (16 MiB and some 40 ms a check): at most ``concurrent`` run at once, at most
    ``per_second`` start each second (a token bucket with a second's worth of burst), and at most
    ``max_waiting`` wait for a slot. Past either bound the request is refused at once (429 with Retry-After)
    rather than queued, so a flood of wrong secrets costs a bounded share of the CPU.
    """

    def __init__(
        self,
        *,
        concurrent: int = 4,
        per_second: float = 20.0,
        max_waiting: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.concurrent = concurrent
        self.per_second = per_second
        self.max_waiting = max_waiting
        self.clock = clock
        self._tokens = per_second
        self._at = clock()
        self._waiting = 0
        self._limiter: anyio.CapacityLimiter | None = None  # made on first use: it belongs to the serving loop

    def refusal(self) -> float | None:
        """Seconds to wait before a check may start, or None: then one has been taken from the budget."""
        now = self.clock()
        self._tokens = min(self.per_second, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._waiting >= self.max_waiting:
            return 1.0
        if self._tokens < 1:
            return (1 - self._tokens) / self.per_second
        self._tokens -= 1
        return None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the ``concurrent`` hashing slots, waited for."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrent)
        self._waiting += 1
        waiting = True
        try:
            async with self._limiter:
                self._waiting -= 1
                waiting = False
                yield
        finally:
            if waiting:
                self._waiting -= 1


class VerifiedSecrets:
    """Secrets found right lately, by a keyed SHA-256 (a per-process random key): a client that has proved its
    secret is recognised again without scrypt, so it gets its tokens even while a flood spends the budget."""

    def __init__(self, *, ttl_seconds: float = _VERIFIED_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._known: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def _digest(self, client_id: str, secret: str) -> bytes:
        return hmac.new(self._key, f"{client_id}\x00{secret}".encode(), hashlib.sha256).digest()

    def knows(self, client_id: str, secret: str) -> bool:
        """True when this client proved this very secret within the last ``ttl_seconds``."""
        known = self._known.get(client_id)
        if known is None or known[1] < self.clock():
            return False
        return hmac.compare_digest(known[0], self._digest(client_id, secret))

    def remember(self, client_id: str, secret: str) -> None:
        """Note a secret just proved by scrypt."""
        self._known[client_id] = (self._digest(client_id, secret), self.clock() + self.ttl_seconds)
        self._known.move_to_end(client_id)
        while len(self._known) > _MAX_VERIFIED:
            self._known.popitem(last=False)

    def forget(self, client_id: str) -> None:
        """Drop a client (its secret failed, or it is revoked)."""
        self._known.pop(client_id, None)


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error response."""

    def __init__(
        self, error: str, description: str, *, status_code: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = headers or {}

    def response(self) -> Response:
        """The JSON error, never cached; 401s challenge for HTTP Basic."""
        headers = {**_NO_STORE, **self.headers}
        if self.status_code == 401:
            headers["WWW-Authenticate"] = _BASIC_CHALLENGE
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status_code,
            headers=headers,
        )


def _invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status_code=401)


async def _read_form(request: Request) -> dict[str, str]:
    """The urlencoded body's parameters; empty ones count as absent (RFC 6749 section 3.1)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", f"the request body is limited to {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=20)
    except ValueError:
        raise OAuthError("invalid_request", "the request body is not valid form encoding") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"the parameter {name!r} is given more than once")
        form[name] = value
    return {name: value for name, value in form.items() if value}


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """The client id and secret, from HTTP Basic or the form, but not both (RFC 6749 section 2.3)."""
    in_form = "client_id" in form or "client_secret" in form
    if authorization is None:
        if "client_id" not in form or "client_secret" not in form:
            raise _invalid_client("authenticate with HTTP Basic, or send client_id and client_secret in the form")
        return form["client_id"], form["client_secret"]
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("the token endpoint takes client credentials by HTTP Basic, not a bearer token")
    if in_form:
        raise OAuthError("invalid_request", "send the client credentials by HTTP Basic or in the form, not both")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client("the HTTP Basic credentials are not valid base64") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _invalid_client("the HTTP Basic credentials must be client_id:client_secret")
    # RFC 6749 section 2.3.1: both are form-urlencoded before they are joined
    return unquote_plus(client_id), unquote_plus(secret)


def _granted_scopes(requested: str | None, allowed: frozenset[str]) -> frozenset[str]:
    if requested is None:
        return allowed
    wanted = frozenset(requested.split(" ")) - {""}
    malformed = sorted(scope for scope in wanted if not is_scope_token(scope))
    if malformed:
        raise OAuthError("invalid_scope", f"not valid scope tokens: {' '.join(malformed)}")
    refused = sorted(wanted - allowed)
    if refused:
        may = " ".join(sorted(allowed)) or "(none)"
        raise OAuthError(
            "invalid_scope", f"this client was not granted the scopes {' '.join(refused)}; it may ask for: {may}"
        )
    return wanted


class PersonGrants(Protocol):
    """The token endpoint's grants for people signed in through a public client (hub/sign_in.py)."""

    async def token(self, form: Mapping[str, str]) -> Response:
        """The answer to an ``authorization_code`` or ``refresh_token`` grant; OAuthError otherwise."""
        ...


PERSON_GRANT_TYPES: Final = ("authorization_code", "refresh_token")
AUTHORIZE_PATH: Final = "/oauth/authorize"
REVOKE_PATH: Final = "/oauth/revoke"


def oauth_routes(
    state: Callable[[], HubState],
    *,
    failed_attempts: AttemptLog | None = None,
    secret_checks: SecretChecks | None = None,
    person_grants: PersonGrants | None = None,
) -> list[Route]:
    """The issuer's discovery document, JWKS and token endpoint; none of them takes a bearer token.

    With ``person_grants``, the token endpoint also takes public clients' ``authorization_code`` and
    ``refresh_token`` grants, and discovery names the authorization and revocation endpoints.
    """
    attempts: AttemptLog = failed_attempts or FailedAttempts()
    checks = secret_checks or SecretChecks()
    verified = VerifiedSecrets()

    def base_url() -> str:
        return state().issuer.issuer.rstrip("/")

    async def discovery(request: Request) -> Response:
        issuer = state().issuer
        claims = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "firm_id", "roles", "scope"]
        document: dict[str, object] = {
            "issuer": issuer.issuer,
            "token_endpoint": base_url() + TOKEN_PATH,
            "jwks_uri": base_url() + JWKS_PATH,
            "grant_types_supported": [GRANT_TYPE],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "claims_supported": claims,
        }
        if person_grants is not None:
            document.update(
                {
                    "authorization_endpoint": base_url() + AUTHORIZE_PATH,
                    "revocation_endpoint": base_url() + REVOKE_PATH,
                    "response_types_supported": ["code"],
                    "response_modes_supported": ["query"],
                    "grant_types_supported": [GRANT_TYPE, *PERSON_GRANT_TYPES],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                    "revocation_endpoint_auth_methods_supported": ["none"],
                    "authorization_response_iss_parameter_supported": True,
                    "ui_locales_supported": ["ko", "en"],
                    "scopes_supported": ["openid", "profile", "offline_access"],
                    "claims_supported": [*claims, "preferred_username", "client_id"],
                }
            )
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

    async def jwks(request: Request) -> Response:
        # short-lived in caches: after a rotation, the new key should be found within a minute
        return JSONResponse(state().issuer.jwks(), headers={"Cache-Control": "public, max-age=60"})

    async def token(request: Request) -> Response:
        try:
            return await issue(request)
        except OAuthError as error:
            return error.response()

    async def issue(request: Request) -> Response:
        hub = state()
        form = await _read_form(request)
        if (
            person_grants is not None
            and form.get("grant_type") in PERSON_GRANT_TYPES
            and request.headers.get("authorization") is None
            and "client_secret" not in form
        ):  # a public client (the portal) for a person: no secret to check
            return await person_grants.token(form)
        client_id, secret = _client_credentials(request.headers.get("authorization"), form)
        source = f"{client_id}\x00{request.client.host if request.client else ''}"
        wait = await attempts.wait_for(source)
        if wait is not None:
            seconds = str(math.ceil(wait))
            raise OAuthError(
                "invalid_client",
                f"too many failed attempts for this client from your address; try again in {seconds} s",
                status_code=429,
                headers={"Retry-After": seconds},
            )
        if verified.knows(client_id, secret):
            client = await active_client(hub.sql_engine, client_id)  # revoked since: refused like any other
        else:
            budget = checks.refusal()
            if budget is not None:
                seconds = str(max(1, math.ceil(budget)))
                raise OAuthError(
                    "temporarily_unavailable",
                    f"the hub is checking as many client secrets as it can; try again in {seconds} s",
                    status_code=429,
                    headers={"Retry-After": seconds},
                )
            async with checks.slot():
                client = await authenticate_client(hub.sql_engine, client_id, secret)
        if client is None:
            await attempts.failed(source)
            verified.forget(client_id)
            log.warning("refused client credentials for client id %r", client_id[:64])
            raise _invalid_client("unknown client, wrong secret, or a revoked client")
        verified.remember(client_id, secret)
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", f"grant_type is missing; this endpoint takes {GRANT_TYPE}")
        if grant_type != GRANT_TYPE:
            raise OAuthError("unsupported_grant_type", f"only {GRANT_TYPE} is supported, not {grant_type!r}")
        scopes = _granted_scopes(form.get("scope"), client.scope_set)
        access_token = hub.issuer.mint(
            subject=f"{CLIENT_SUBJECT_PREFIX}{client.client_id}",
            firm_id=client.firm_id,
            roles=client.role_set,
            scopes=scopes,
        )
        log.info("issued a token to client %s of firm %s", client.client_id, client.firm_id)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": hub.issuer.ttl_seconds,
                "scope": " ".join(sorted(scopes)),
            },
            headers=_NO_STORE,
        )

    return [
        Route(DISCOVERY_PATH, discovery, methods=["GET"]),
        Route(JWKS_PATH, jwks, methods=["GET"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
    ]


class OpenRoutesBackend(AuthenticationBackend):
    """Leaves requests for the given routes anonymous and hands every other request to ``inner``.

    The token endpoint takes ``Authorization: Basic`` client credentials, which the bearer backend would reject
    before the endpoint ever saw them; discovery and JWKS are public.
    """

    def __init__(self, inner: AuthenticationBackend, routes: Sequence[BaseRoute]) -> None:
        self.inner = inner
        self.routes = list(routes)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if any(route.matches(conn.scope)[0] is not Match.NONE for route in self.routes):
            return None
        return await self.inner.authenticate(conn)
