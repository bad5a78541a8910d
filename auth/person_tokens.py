"""Authorization codes and refresh tokens of people signed in at the built-in issuer (the SQL store).

Both are random strings shown once; only their SHA-256 is stored, so a copy of the store cannot be replayed.
A code is good once, within ``CODE_TTL_SECONDS``, for the client, redirect URI and PKCE challenge it was issued
for. Refresh tokens rotate: each use gives a new one in the same family, and a token used twice (a stolen copy
racing the real client) revokes its whole family (OAuth 2.0 Security BCP, section 4.14.2). Every check is one
conditional UPDATE, so several hub processes agree on which use came first.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import anyio
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, col, select

CODE_TTL_SECONDS: Final = 60
MAX_REDIRECT_URI_LENGTH: Final = 2000
# RFC 7636, section 4.1: code_verifier = 43*128unreserved; S256's challenge is 43 base64url characters
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE: Final = re.compile(r"[A-Za-z0-9\-_]{43}")


class AuthorizationCode(SQLModel, table=True):
    """A code issued at the authorization endpoint, waiting to be exchanged at the token endpoint."""

    __tablename__ = "authorization_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(max_length=32, index=True)
    client_id: str = Field(max_length=100)
    redirect_uri: str = Field(max_length=MAX_REDIRECT_URI_LENGTH)
    code_challenge: str = Field(max_length=43)
    scope: str = Field(default="", max_length=200)
    nonce: str | None = Field(default=None, max_length=200)  # OpenID Connect: echoed in the ID token
    issued_at: datetime
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None


class RefreshToken(SQLModel, table=True):
    """One refresh token of a family; the family began with one sign-in and ends at its ``expires_at``."""

    __tablename__ = "refresh_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    family: str = Field(max_length=64, index=True)
    account_id: str = Field(max_length=32, index=True)
    client_id: str = Field(max_length=100)
    scope: str = Field(default="", max_length=200)
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_s256_challenge(value: str) -> bool:
    """A well-formed S256 code challenge (43 base64url characters)."""
    return _CHALLENGE.fullmatch(value) is not None


def s256(verifier: str) -> str:
    """The S256 challenge of a PKCE code verifier (RFC 7636, section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class GrantError(Exception):
    """A code or refresh token that gives nothing (``invalid_grant``); the message says why, for the caller."""


def _insert_code(engine: Engine, row: AuthorizationCode) -> None:
    with engine.begin() as connection:
        connection.execute(insert(AuthorizationCode).values(row.model_dump()))
        # codes long past are of no use, not even to detect a replay: kept a day, then dropped
        connection.execute(
            delete(AuthorizationCode).where(col(AuthorizationCode.expires_at) < row.issued_at - timedelta(days=1))
        )


async def issue_code(
    engine: Engine,
    *,
    account_id: str,
    client_id: str,
    redirect_uri: str,
    code_challenge: str,
    scope: str = "",
    nonce: str | None = None,
) -> str:
    """A new authorization code for a person, bound to the client, the redirect URI and the PKCE challenge."""
    code = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = AuthorizationCode(
        code_hash=_digest(code),
        account_id=account_id,
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        scope=scope,
        nonce=nonce,
        issued_at=now,
        expires_at=now + timedelta(seconds=CODE_TTL_SECONDS),
    )
    await anyio.to_thread.run_sync(_insert_code, engine, row)
    return code


def _revoke_family(connection: Connection, family: str, now: datetime) -> None:
    connection.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family) == family, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


@dataclass(frozen=True)
class Redeemed:
    """What a spent code was issued for."""

    account_id: str
    scope: str
    nonce: str | None


def _redeem(engine: Engine, code: str, client_id: str, redirect_uri: str, verifier: str) -> Redeemed:
    code_hash = _digest(code)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        claimed = connection.execute(
            update(AuthorizationCode)
            .where(col(AuthorizationCode.code_hash) == code_hash, col(AuthorizationCode.used_at).is_(None))
            .values(used_at=now)
        )
        replayed = claimed.rowcount != 1
        if replayed:
            # used before: whoever redeemed it first may be an attacker, so the tokens it gave are revoked
            # (RFC 6749, section 4.1.2); the family of a code's tokens is named by the code's hash
            _revoke_family(connection, code_hash, now)
    if replayed:  # raised once the revocation is committed
        raise GrantError("the authorization code is unknown or was used already")
    with Session(engine) as session:
        row = session.get(AuthorizationCode, code_hash)
    assert row is not None  # claimed above
    if row.expires_at.replace(tzinfo=UTC) <= now:
        raise GrantError("the authorization code has expired: sign in again")
    if row.client_id != client_id:
        raise GrantError("the authorization code was issued to another client")
    if row.redirect_uri != redirect_uri:
        raise GrantError("redirect_uri is not the one the authorization code was issued for")
    # the code is spent before the verifier is looked at: a wrong verifier cannot be retried with the same code
    if not secrets.compare_digest(s256(verifier), row.code_challenge):
        raise GrantError("code_verifier does not match the code_challenge of the authorization request")
    return Redeemed(account_id=row.account_id, scope=row.scope, nonce=row.nonce)


async def redeem_code(engine: Engine, *, code: str, client_id: str, redirect_uri: str, code_verifier: str) -> Redeemed:
    """What a code was issued for (its account, scope and nonce), the code spent; GrantError when it gives nothing."""
    if _VERIFIER.fullmatch(code_verifier) is None:
        raise GrantError("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)")
    if len(code) > 100 or len(redirect_uri) > MAX_REDIRECT_URI_LENGTH:
        raise GrantError("the authorization code is unknown or was used already")
    return await anyio.to_thread.run_sync(_redeem, engine, code, client_id, redirect_uri, code_verifier)


@dataclass(frozen=True)
class Refresh:
    """A refresh token handed out, and for whom."""

    token: str
    account_id: str
    expires_at: datetime
    scope: str = ""


def _insert_refresh(engine: Engine, row: RefreshToken) -> None:
    with Session(engine) as session:
        session.add(row)
        session.commit()


def _new_refresh(
    *, family: str, account_id: str, client_id: str, scope: str, expires_at: datetime
) -> tuple[str, RefreshToken]:
    token = secrets.token_urlsafe(32)
    row = RefreshToken(
        token_hash=_digest(token),
        family=family,
        account_id=account_id,
        client_id=client_id,
        scope=scope,
        issued_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    return token, row


async def start_refresh(
    engine: Engine, *, code: str, account_id: str, client_id: str, scope: str, ttl_seconds: int
) -> Refresh:
    """The first refresh token of a sign-in, in a family named after the code it was redeemed with."""
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    token, row = _new_refresh(
        family=_digest(code), account_id=account_id, client_id=client_id, scope=scope, expires_at=expires_at
    )
    await anyio.to_thread.run_sync(_insert_refresh, engine, row)
    return Refresh(token=token, account_id=account_id, expires_at=expires_at, scope=scope)


def _rotate(engine: Engine, token: str, client_id: str) -> Refresh:
    token_hash = _digest(token)
    now = datetime.now(UTC)
    with Session(engine) as session:
        row = session.get(RefreshToken, token_hash)
    if row is None or row.client_id != client_id:
        raise GrantError("the refresh token is unknown")
    if row.revoked_at is not None:
        raise GrantError("the refresh token was revoked (signed out, or used twice): sign in again")
    if row.expires_at.replace(tzinfo=UTC) <= now:
        raise GrantError("the refresh token has expired: sign in again")
    with engine.begin() as connection:
        claimed = connection.execute(
            update(RefreshToken)
            .where(
                col(RefreshToken.token_hash) == token_hash,
                col(RefreshToken.used_at).is_(None),
                col(RefreshToken.revoked_at).is_(None),
            )
            .values(used_at=now)
        )
        reused = claimed.rowcount != 1
        if reused:
            _revoke_family(connection, row.family, now)
        else:
            new_token, new_row = _new_refresh(
                family=row.family,
                account_id=row.account_id,
                client_id=client_id,
                scope=row.scope,
                expires_at=row.expires_at,
            )
            connection.execute(insert(RefreshToken).values(new_row.model_dump()))
    if reused:  # raised once the revocation is committed
        raise GrantError("the refresh token was used already; every token of this sign-in is revoked")
    return Refresh(
        token=new_token, account_id=row.account_id, expires_at=row.expires_at.replace(tzinfo=UTC), scope=row.scope
    )


async def rotate_refresh(engine: Engine, *, token: str, client_id: str) -> Refresh:
    """A new refresh token for one that is spent by this; GrantError when it gives nothing."""
    if len(token) > 100:
        raise GrantError("the refresh token is unknown")
    return await anyio.to_thread.run_sync(_rotate, engine, token, client_id)


def _revoke(engine: Engine, token: str, client_id: str) -> bool:
    with Session(engine) as session:
        row = session.get(RefreshToken, _digest(token))
    if row is None or row.client_id != client_id:
        return False
    with engine.begin() as connection:
        _revoke_family(connection, row.family, datetime.now(UTC))
    return True


async def revoke_refresh(engine: Engine, *, token: str, client_id: str) -> bool:
    """Sign-out: revoke the refresh token's whole family; False when the token is not known for this client."""
    if len(token) > 100:
        return False
    return await anyio.to_thread.run_sync(_revoke, engine, token, client_id)


def _revoke_account(engine: Engine, account_id: str) -> int:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        families = [
            family
            for (family,) in connection.execute(
                select(RefreshToken.family)
                .where(col(RefreshToken.account_id) == account_id, col(RefreshToken.revoked_at).is_(None))
                .distinct()
            )
        ]
        for family in families:
            _revoke_family(connection, family, now)
    return len(families)


async def revoke_account_tokens(engine: Engine, account_id: str) -> int:
    """Revoke every refresh token of an account (it was disabled); returns how many sign-ins were ended."""
    return await anyio.to_thread.run_sync(_revoke_account, engine, account_id)
