"""API clients of the built-in issuer: a member firm's machine credentials for the client_credentials grant.

A client's secret is shown once, when the client is created; the SQL store keeps only a salted scrypt hash of
it, with the KDF's parameters beside it so that they can be raised later without invalidating old clients.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import anyio
from sqlalchemy import JSON
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from auth.principal import Role

# scrypt at n=2**14, r=8 costs 16 MiB and some 40 ms: cheap enough per token request, dear for a guesser
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_SCRYPT_MAX_N: Final = 2**20  # a stored row cannot ask for more than this (1 GiB at r=8 would be a DoS)
_HASH_BYTES: Final = 32
_SALT_BYTES: Final = 16
MAX_CLIENT_ID_LENGTH: Final = 64
MAX_SECRET_LENGTH: Final = 256
# RFC 6749, section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class ApiClient(SQLModel, table=True):
    """One set of client credentials: which firm it acts for, with which roles and scopes."""

    __tablename__ = "api_client"

    client_id: str = Field(primary_key=True, max_length=MAX_CLIENT_ID_LENGTH)
    secret_hash: str = Field(max_length=2 * _HASH_BYTES)  # hex
    secret_salt: str = Field(max_length=2 * _SALT_BYTES)  # hex
    secret_kdf: str = Field(max_length=64)  # e.g. "scrypt:n=16384,r=8,p=1"
    firm_id: str = Field(index=True, max_length=100)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    description: str = Field(default="", max_length=500)
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[Role]:
        """The client's roles (a role no longer known to the hub is left out)."""
        known = {role.value for role in Role}
        return frozenset(Role(role) for role in self.roles if role in known)

    @property
    def scope_set(self) -> frozenset[str]:
        """The scopes the client may ask for."""
        return frozenset(self.scopes)


def is_scope_token(value: str) -> bool:
    """True for one OAuth scope token (printable ASCII without space, quote or backslash)."""
    return _SCOPE_TOKEN.fullmatch(value) is not None


def _kdf_name(n: int, r: int, p: int) -> str:
    return f"scrypt:n={n},r={r},p={p}"


def _parse_kdf(name: str) -> tuple[int, int, int]:
    algorithm, _, parameters = name.partition(":")
    values = dict(part.split("=", 1) for part in parameters.split(",") if "=" in part)
    if algorithm != "scrypt" or set(values) != {"n", "r", "p"}:
        raise ValueError(f"unknown secret KDF {name!r}")
    n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
    if not (2 <= n <= _SCRYPT_MAX_N and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError(f"secret KDF parameters out of range: {name!r}")
    return n, r, p


def _hash_secret(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=n, r=r, p=p, dklen=_HASH_BYTES, maxmem=256 * r * n + 1024 * 1024
    )


# hashed in place of a missing client's secret, so that an unknown client_id costs as long as a wrong secret
_DUMMY_SALT: Final = bytes(_SALT_BYTES)


def _create(engine: Engine, client: ApiClient) -> None:
    with Session(engine) as session:
        session.add(client)
        session.commit()


async def create_client(
    engine: Engine,
    *,
    firm_id: str,
    roles: Iterable[Role | str],
    scopes: Iterable[str] = (),
    description: str = "",
) -> tuple[str, str]:
    """A new client for a firm: returns its client id and its secret, which is not stored and cannot be shown again."""
    firm_id = firm_id.strip()
    if not firm_id or len(firm_id) > 100:
        raise ValueError("a client needs the id of the firm it acts for (at most 100 characters)")
    role_values = sorted({Role(role).value for role in roles})  # ValueError names an unknown role
    if not role_values:
        raise ValueError("a client needs at least one role")
    scope_values = sorted(set(scopes))
    bad = [scope for scope in scope_values if not is_scope_token(scope)]
    if bad:
        raise ValueError(f"not valid OAuth scopes (printable ASCII, no spaces or quotes): {bad}")
    if len(description) > 500:
        raise ValueError("the description is limited to 500 characters")
    client_id = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = await anyio.to_thread.run_sync(_hash_secret, secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    client = ApiClient(
        client_id=client_id,
        secret_hash=digest.hex(),
        secret_salt=salt.hex(),
        secret_kdf=_kdf_name(_SCRYPT_N, _SCRYPT_R, _SCRYPT_P),
        firm_id=firm_id,
        roles=role_values,
        scopes=scope_values,
        description=description,
        created_at=datetime.now(UTC),
    )
    await anyio.to_thread.run_sync(_create, engine, client)
    return client_id, secret


def _authenticate(engine: Engine, client_id: str, secret: str) -> ApiClient | None:
    with Session(engine) as session:
        client = session.get(ApiClient, client_id)
    if client is None:
        _hash_secret(secret, _DUMMY_SALT, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
        return None
    expected = bytes.fromhex(client.secret_hash)
    actual = _hash_secret(secret, bytes.fromhex(client.secret_salt), *_parse_kdf(client.secret_kdf))
    if not hmac.compare_digest(expected, actual) or client.revoked_at is not None:
        return None
    return client


async def authenticate_client(engine: Engine, client_id: str, secret: str) -> ApiClient | None:
    """The client whose id and secret these are, or None (unknown, wrong secret, or revoked)."""
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH or not secret or len(secret) > MAX_SECRET_LENGTH:
        return None
    return await anyio.to_thread.run_sync(_authenticate, engine, client_id, secret)


CLIENT_SUBJECT_PREFIX = "client:"  # the built-in issuer's tokens for an API client: sub is client:<client id>


def client_of(subject: str) -> str | None:
    """The API client id a built-in issuer's token subject names (None: not a client's token)."""
    return subject.removeprefix(CLIENT_SUBJECT_PREFIX) if subject.startswith(CLIENT_SUBJECT_PREFIX) else None


def _is_active(engine: Engine, client_id: str) -> bool:
    with Session(engine) as session:
        client = session.get(ApiClient, client_id)
    return client is not None and client.revoked_at is None


async def client_is_active(engine: Engine, client_id: str) -> bool:
    """Whether the client exists and is not revoked (a connection its token opened may stay open)."""
    return await anyio.to_thread.run_sync(_is_active, engine, client_id)


def _active(engine: Engine, client_id: str) -> ApiClient | None:
    with Session(engine) as session:
        client = session.get(ApiClient, client_id)
    return client if client is not None and client.revoked_at is None else None


async def active_client(engine: Engine, client_id: str) -> ApiClient | None:
    """The client if it exists and is not revoked, its secret not checked (the caller has done that already)."""
    return await anyio.to_thread.run_sync(_active, engine, client_id)


def _revoke(engine: Engine, client_id: str) -> bool:
    with Session(engine) as session:
        client = session.get(ApiClient, client_id)
        if client is None or client.revoked_at is not None:
            return False
        client.revoked_at = datetime.now(UTC)
        session.add(client)
        session.commit()
        return True


async def revoke_client(engine: Engine, client_id: str) -> bool:
    """Refuse the client's credentials from now on; False when there is no such active client.

    Access tokens it already obtained stay valid until they expire (at most the issuer's token lifetime).
    """
    return await anyio.to_thread.run_sync(_revoke, engine, client_id)
