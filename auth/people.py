"""People's accounts at the built-in issuer: for member firms without an identity provider of their own.

A person signs in to the portal with a username and password (and a TOTP code when enrolled) at the issuer's
authorization endpoint. Passwords are hashed with Argon2id (argon2-cffi); each hash carries its parameters, so
raising them later rehashes an account's password at its next sign-in. An unknown username costs one hash like
a wrong password, so the answer's timing does not tell which usernames exist.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Final

import anyio
import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select
from zxcvbn import zxcvbn

from auth.principal import Role

PERSON_SUBJECT_PREFIX: Final = "person:"  # the built-in issuer's tokens for a person: sub is person:<account id>
MAX_USERNAME_LENGTH: Final = 64
MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 256  # Argon2 takes any length; a bound keeps the form and the hashing small
_USERNAME: Final = re.compile(r"[\w.@+-]{3,64}")
_PASSWORD_SCORE: Final = 3  # zxcvbn's "safely unguessable" (about 10^8 guesses or more)
TOTP_DIGITS: Final = 6
TOTP_PERIOD_SECONDS: Final = 30


class PersonAccount(SQLModel, table=True):
    """One person who signs in at the built-in issuer, acting for one firm with its roles."""

    __tablename__ = "person_account"

    id: str = Field(primary_key=True, max_length=32)
    username: str = Field(unique=True, index=True, max_length=MAX_USERNAME_LENGTH)  # normalised (see normalise)
    firm_id: str = Field(index=True, max_length=100)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    password_hash: str = Field(max_length=300)  # Argon2id's encoded hash, its parameters included
    totp_secret: str | None = Field(default=None, max_length=64)  # base32; None: no second factor
    totp_last_step: int | None = None  # the time step of the last code accepted: a code is good once
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[Role]:
        """The account's roles (a role no longer known to the hub is left out)."""
        known = {role.value for role in Role}
        return frozenset(Role(role) for role in self.roles if role in known)

    @property
    def subject(self) -> str:
        """The ``sub`` of this person's tokens."""
        return f"{PERSON_SUBJECT_PREFIX}{self.id}"


def person_of(subject: str) -> str | None:
    """The account id a built-in issuer's token subject names (None: not a person's token)."""
    return subject.removeprefix(PERSON_SUBJECT_PREFIX) if subject.startswith(PERSON_SUBJECT_PREFIX) else None


def normalise(username: str) -> str:
    """The form a username is stored and looked up in: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def username_problem(username: str) -> str | None:
    """What is wrong with a username for a new account, or None."""
    if not _USERNAME.fullmatch(normalise(username)):
        return (
            f"a username is 3 to {MAX_USERNAME_LENGTH} letters, digits or the characters . _ @ + - "
            f"(got {len(username)} characters)"
        )
    return None


def password_problem(password: str, *, username: str, firm_id: str) -> str | None:
    """Why a password is too weak for an account, or None: length bounds and zxcvbn's guessability estimate."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must be at least {MIN_PASSWORD_LENGTH} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must be at most {MAX_PASSWORD_LENGTH} characters long"
    folded = password.casefold()
    if normalise(username) in folded or (firm_id and firm_id.casefold() in folded):
        return "the password must not contain the username or the firm's id"
    estimate = zxcvbn(password, user_inputs=[username, firm_id])  # judges the first 72 characters
    if int(estimate["score"]) < _PASSWORD_SCORE:
        warning = str(estimate["feedback"].get("warning") or "").rstrip(".")
        hint = f" ({warning})" if warning else ""
        return f"the password is too easy to guess{hint}: use a longer passphrase of unrelated words"
    return None


@dataclass(frozen=True)
class PasswordHashing:
    """Argon2id with the hub's parameters (raised in the settings; older hashes are redone at sign-in)."""

    time_cost: int = 3
    memory_kib: int = 65_536
    parallelism: int = 1  # the hub checks several sign-ins at once: one lane each keeps them from contending

    @cached_property
    def hasher(self) -> PasswordHasher:
        """argon2-cffi's hasher with these parameters."""
        return PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism, type=Type.ID
        )

    @cached_property
    def decoy(self) -> str:
        """A hash no password matches, checked for unknown usernames so that they cost as long as a wrong password."""
        return self.hasher.hash(secrets.token_urlsafe(32))


class AccountError(ValueError):
    """An account could not be made or changed; the message says why."""


def _roles(roles: Iterable[Role | str]) -> list[str]:
    values = sorted({Role(role).value for role in roles})  # ValueError names an unknown role
    if not values:
        raise AccountError("an account needs at least one role")
    if Role.DEVICE.value in values:
        raise AccountError("the device role is for a Smart HACCP gateway's client credentials, not for a person")
    return values


def _insert(engine: Engine, account: PersonAccount) -> None:
    with Session(engine) as session:
        if session.exec(select(PersonAccount).where(PersonAccount.username == account.username)).first() is not None:
            raise AccountError(f"there is already an account named {account.username!r}")
        session.add(account)
        session.commit()
        session.refresh(account)


async def create_account(
    engine: Engine,
    *,
    username: str,
    password: str,
    firm_id: str,
    roles: Iterable[Role | str],
    hashing: PasswordHashing,
) -> PersonAccount:
    """A new account for a person of a firm; AccountError when the username is taken or the password weak."""
    firm_id = firm_id.strip()
    if not firm_id or len(firm_id) > 100:
        raise AccountError("an account needs the id of the firm the person acts for (at most 100 characters)")
    problem = username_problem(username) or password_problem(password, username=username, firm_id=firm_id)
    if problem is not None:
        raise AccountError(problem)
    role_values = _roles(roles)
    digest = await anyio.to_thread.run_sync(hashing.hasher.hash, password)
    account = PersonAccount(
        id=secrets.token_hex(16),
        username=normalise(username),
        firm_id=firm_id,
        roles=role_values,
        password_hash=digest,
        created_at=datetime.now(UTC),
    )
    await anyio.to_thread.run_sync(_insert, engine, account)
    return account


def _list(engine: Engine, firm_id: str | None) -> list[PersonAccount]:
    with Session(engine) as session:
        query = select(PersonAccount)
        if firm_id is not None:
            query = query.where(PersonAccount.firm_id == firm_id)
        return list(session.exec(query.order_by(col(PersonAccount.firm_id), col(PersonAccount.username))))


async def list_accounts(engine: Engine, *, firm_id: str | None = None) -> list[PersonAccount]:
    """Every account (of one firm when given), by firm and username."""
    return await anyio.to_thread.run_sync(_list, engine, firm_id)


def _by_username(session: Session, username: str) -> PersonAccount | None:
    return session.exec(select(PersonAccount).where(PersonAccount.username == normalise(username))).first()


def _disable(engine: Engine, username: str) -> PersonAccount | None:
    with Session(engine) as session:
        account = _by_username(session, username)
        if account is None or account.disabled_at is not None:
            return None
        account.disabled_at = datetime.now(UTC)
        session.add(account)
        session.commit()
        session.refresh(account)
        return account


async def disable_account(engine: Engine, username: str) -> PersonAccount | None:
    """Refuse the account's sign-ins from now on; None when there is no such enabled account."""
    return await anyio.to_thread.run_sync(_disable, engine, username)


def _enrol_totp(engine: Engine, username: str, secret: str) -> PersonAccount | None:
    with Session(engine) as session:
        account = _by_username(session, username)
        if account is None:
            return None
        account.totp_secret = secret
        account.totp_last_step = None
        session.add(account)
        session.commit()
        session.refresh(account)
        return account


async def enrol_totp(engine: Engine, username: str, *, issuer_name: str) -> str | None:
    """Give the account a new TOTP secret (replacing any before); its otpauth:// URI, or None: no such account."""
    secret = pyotp.random_base32()
    account = await anyio.to_thread.run_sync(_enrol_totp, engine, username, secret)
    if account is None:
        return None
    return totp_of(secret).provisioning_uri(name=account.username, issuer_name=issuer_name)


def totp_of(secret: str) -> pyotp.TOTP:
    """The TOTP generator of a base32 secret, with the hub's digits and period."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD_SECONDS)


def _find(engine: Engine, username: str) -> PersonAccount | None:
    with Session(engine) as session:
        return _by_username(session, username)


def _rehash(engine: Engine, account_id: str, old_hash: str, new_hash: str) -> None:
    with engine.begin() as connection:  # only if the hash is still the one checked: a password change wins
        connection.execute(
            update(PersonAccount)
            .where(col(PersonAccount.id) == account_id, col(PersonAccount.password_hash) == old_hash)
            .values(password_hash=new_hash)
        )


def _check_password(engine: Engine, username: str, password: str, hashing: PasswordHashing) -> PersonAccount | None:
    account = _find(engine, username)
    stored = account.password_hash if account is not None else hashing.decoy
    try:
        hashing.hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None:  # the decoy matched: it cannot, but never sign anyone in through it
        return None
    if hashing.hasher.check_needs_rehash(stored):
        _rehash(engine, account.id, stored, hashing.hasher.hash(password))
    return account


async def check_password(
    engine: Engine, *, username: str, password: str, hashing: PasswordHashing
) -> PersonAccount | None:
    """The account whose username and password these are (disabled or not: the caller says so), or None.

    Costs one Argon2 check whether or not the username exists; a hash made with other parameters than
    ``hashing``'s is redone with them.
    """
    if len(username) > MAX_USERNAME_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        return None
    return await anyio.to_thread.run_sync(_check_password, engine, username, password, hashing)


def _accept_step(engine: Engine, account_id: str, step: int) -> bool:
    with engine.begin() as connection:  # atomic over every hub process: the same code is accepted once
        result = connection.execute(
            update(PersonAccount)
            .where(
                col(PersonAccount.id) == account_id,
                (col(PersonAccount.totp_last_step).is_(None)) | (col(PersonAccount.totp_last_step) < step),
            )
            .values(totp_last_step=step)
        )
        return result.rowcount == 1


def totp_step(secret: str, code: str, *, at: float) -> int | None:
    """The time step (this one, or one either side for clock drift) whose code ``code`` is, or None."""
    if not (len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()):
        return None
    totp = totp_of(secret)
    now_step = int(at) // TOTP_PERIOD_SECONDS
    for step in (now_step - 1, now_step, now_step + 1):
        if secrets.compare_digest(totp.at(step * TOTP_PERIOD_SECONDS), code):
            return step
    return None


async def check_totp(engine: Engine, account: PersonAccount, code: str, *, at: float) -> bool:
    """Whether ``code`` is the account's current TOTP code and was not accepted before."""
    if account.totp_secret is None:
        return False
    step = totp_step(account.totp_secret, code.strip(), at=at)
    if step is None:
        return False
    return await anyio.to_thread.run_sync(_accept_step, engine, account.id, step)


def _get(engine: Engine, account_id: str) -> PersonAccount | None:
    with Session(engine) as session:
        return session.get(PersonAccount, account_id)


async def active_account(engine: Engine, account_id: str) -> PersonAccount | None:
    """The account if it exists and is not disabled."""
    account = await anyio.to_thread.run_sync(_get, engine, account_id)
    return account if account is not None and account.disabled_at is None else None


def describe(accounts: Sequence[PersonAccount]) -> list[str]:
    """One line per account, for ``hub users list``."""
    lines = []
    for account in accounts:
        state = f"disabled {account.disabled_at:%Y-%m-%d %H:%M}" if account.disabled_at else "active"
        totp = "totp" if account.totp_secret else "password only"
        lines.append(
            f"{account.username}\t{account.firm_id}\t{','.join(account.roles)}\t{totp}\t{state}\t"
            f"created {account.created_at:%Y-%m-%d %H:%M}"
        )
    return lines
