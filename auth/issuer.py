"""The built-in token issuer: for firms without an identity provider and for local use.

Its signing keys (ES256) live in one key file in the state folder, owner-only: a JWK Set whose LAST key signs,
plus, beside it, when each superseded key was retired and until when it still verifies. ``rotate_keys`` adds a
new signing key; the old ones keep verifying (and stay in the published JWKS) until every token they signed has
expired, and are then dropped. A running issuer notices a rotation by the key file's stat changing, so nothing
has to restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, Key, KeySet

from auth.principal import Principal, Role

log = logging.getLogger(__name__)

ALGORITHM: Final = "ES256"
FIRM_CLAIM: Final = "firm_id"
ROLES_CLAIM: Final = "roles"
MAX_TOKEN_BYTES: Final = 8192
DEFAULT_TTL_SECONDS: Final = 3600
DEFAULT_LEEWAY_SECONDS: Final = 30
# a running issuer looks at the key file's stat at most this often when verifying (always when minting)
RELOAD_INTERVAL_SECONDS: Final = 1.0
# the key file's member beside "keys": kid -> {"retired_at", "not_after"}; an older hub reading the file sees
# an ordinary JWK Set and ignores it
_RETIREMENT: Final = "retirement"


class InvalidToken(Exception):
    """A bearer token that does not prove who the caller is; the message says why, for the logs."""


@dataclass(frozen=True)
class Retirement:
    """When a signing key was superseded, and the time after which no token it signed can still be valid."""

    retired_at: int
    not_after: int


@dataclass(frozen=True)
class KeyFile:
    """The key file's content: keys in signing order (the last one signs) and the superseded keys' retirement."""

    keys: tuple[Key, ...]
    retirement: Mapping[str, Retirement]

    def live(self, now: float) -> KeyFile:
        """Without the keys whose every token has expired by ``now``."""
        keys = tuple(key for key in self.keys if not self._expired(key.kid, now))
        return KeyFile(keys=keys, retirement={kid: r for kid, r in self.retirement.items() if r.not_after > now})

    def _expired(self, kid: str | None, now: float) -> bool:
        retirement = self.retirement.get(kid or "")
        return retirement is not None and retirement.not_after <= now

    def as_dict(self) -> dict[str, Any]:
        """The file's JSON object, private keys included."""
        return {
            "keys": [key.as_dict(private=True) for key in self.keys],
            _RETIREMENT: {
                kid: {"retired_at": r.retired_at, "not_after": r.not_after}
                for kid, r in sorted(self.retirement.items())
            },
        }


def read_key_file(key_file: Path, *, now: float | None = None) -> KeyFile:
    """The key file's keys that can still verify a token at ``now`` (default: the current time)."""
    data = json.loads(key_file.read_text())
    keys = tuple(KeySet.import_key_set(data).keys)
    if any(key.kid is None or not key.is_private or key.key_type != "EC" for key in keys):
        raise ValueError(f"{key_file} must hold private EC keys, each with a kid")
    raw = data.get(_RETIREMENT, {})
    if not isinstance(raw, dict):
        raise ValueError(f"{key_file}: {_RETIREMENT!r} must be an object")
    retirement = {
        str(kid): Retirement(retired_at=int(entry["retired_at"]), not_after=int(entry["not_after"]))
        for kid, entry in raw.items()
    }
    content = KeyFile(keys=keys, retirement=retirement).live(time.time() if now is None else now)
    if not content.keys or content.keys[-1].kid in content.retirement:
        raise ValueError(f"{key_file} has no current signing key")
    return content


def _new_signing_key() -> ECKey:
    return ECKey.generate_key(
        "P-256", parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": ALGORITHM}, private=True
    )


@contextlib.contextmanager
def _exclusive(key_file: Path) -> Iterator[None]:
    """Serialises writers of the key file (two ``hub keys rotate`` at once would otherwise lose a key)."""
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(key_file.with_name(key_file.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _write_key_file(key_file: Path, content: KeyFile) -> None:
    # written aside and renamed over: a reader sees the old file or the new one, never half of one; mkstemp
    # creates it owner-only, so private keys are never readable by others, not even for a moment
    descriptor, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=f".{key_file.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(content.as_dict(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, key_file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _open_key_file(key_file: Path) -> KeyFile:
    """The key file's live content, creating the file with a first signing key if there is none yet."""
    if key_file.exists():
        return read_key_file(key_file)
    with _exclusive(key_file):
        if key_file.exists():  # another process created it while this one waited for the lock
            return read_key_file(key_file)
        content = KeyFile(keys=(_new_signing_key(),), retirement={})
        _write_key_file(key_file, content)
        return content


def rotate_keys(
    key_file: Path,
    *,
    retire_after_seconds: int = DEFAULT_TTL_SECONDS + DEFAULT_LEEWAY_SECONDS,
    now: float | None = None,
) -> str:
    """Add a new signing key; the previous ones verify for ``retire_after_seconds`` more. Returns the new kid.

    ``retire_after_seconds`` should be the tokens' lifetime plus the clock leeway, so that every token signed
    by a superseded key expires before the key is dropped.
    """
    if retire_after_seconds < 0:
        raise ValueError("retire_after_seconds must not be negative")
    at = time.time() if now is None else now
    with _exclusive(key_file):
        current = read_key_file(key_file, now=at) if key_file.exists() else KeyFile(keys=(), retirement={})
        new_key = _new_signing_key()
        retirement = dict(current.retirement)
        retired_at = math.ceil(at)  # rounded up, so a key is never dropped early
        for key in current.keys:
            if key.kid not in retirement and key.kid is not None:
                retirement[key.kid] = Retirement(retired_at=retired_at, not_after=retired_at + retire_after_seconds)
        _write_key_file(key_file, KeyFile(keys=(*current.keys, new_key), retirement=retirement))
    assert new_key.kid is not None  # set by _new_signing_key
    return new_key.kid


def _stat_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    # a rename gives a new inode even when mtime's resolution would hide the change
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass
class _KeyFileWatch:
    """What a running issuer last read from its key file, and when it last looked."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    content: KeyFile | None = None
    signature: tuple[int, int, int] | None = None
    checked_at: float = -math.inf  # time.monotonic()


@dataclass(frozen=True)
class BuiltinIssuer:
    """Signs and verifies the hub's own access tokens.

    Without ``key_file`` its ``keys`` are fixed; with one, ``keys`` follows the file (see ``rotate_keys``).
    """

    issuer: str
    audience: str
    keys: KeySet
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS
    key_file: Path | None = None
    reload_interval_seconds: float = RELOAD_INTERVAL_SECONDS
    _watch: _KeyFileWatch = field(default_factory=_KeyFileWatch, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, *, key_file: Path, issuer: str, audience: str, ttl_seconds: int) -> BuiltinIssuer:
        """Open the issuer, generating its first signing key if the key file does not exist yet."""
        signature = _stat_signature(key_file)
        content = _open_key_file(key_file)
        opened = cls(
            issuer=issuer,
            audience=audience,
            keys=KeySet(list(content.keys)),
            ttl_seconds=ttl_seconds,
            key_file=key_file,
        )
        opened._watch.content, opened._watch.signature = content, signature
        return opened

    @property
    def signing_kid(self) -> str:
        """The kid of the key that signs new tokens (the key file's last key)."""
        kid = self._current_keys(force=True).keys[-1].kid
        assert kid is not None  # KeySet gives every key a kid
        return kid

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: every key that may still verify a token, never a private member."""
        return {"keys": [key.as_dict(private=False) for key in self._current_keys().keys]}

    def mint(
        self,
        *,
        subject: str,
        firm_id: str,
        roles: Iterable[Role],
        scopes: Iterable[str] = (),
        ttl_seconds: int | None = None,
        extra_claims: Mapping[str, str] | None = None,
    ) -> str:
        """A signed access token for a firm's principal (``ttl_seconds``: other than the issuer's lifetime)."""
        # a stat per token: nothing is signed with a key that a rotation has already superseded
        key = self._current_keys(force=True).keys[-1]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + (self.ttl_seconds if ttl_seconds is None else ttl_seconds),
            "jti": secrets.token_hex(12),
            FIRM_CLAIM: firm_id,
            ROLES_CLAIM: sorted(str(role) for role in roles),
            "scope": " ".join(sorted(scopes)),
        }
        claims = {**(extra_claims or {}), **claims}  # an extra claim never replaces a registered one
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, claims, key)

    def id_token(self, *, subject: str, client_id: str, ttl_seconds: int, claims: Mapping[str, str | list[str]]) -> str:
        """An OpenID Connect ID token for a client (its audience): who signed in, never a credential for the hub."""
        key = self._current_keys(force=True).keys[-1]
        now = int(time.time())
        registered = {
            "iss": self.issuer,
            "aud": client_id,
            "azp": client_id,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, {**claims, **registered}, key)

    def verify(self, token: str) -> Principal:
        """The principal a token proves, or InvalidToken saying what is wrong with it."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        try:
            try:
                decoded = jwt.decode(token, self._current_keys(), algorithms=[ALGORITHM])
            except InvalidKeyIdError:
                if self.key_file is None:
                    raise
                # signed by a key newer than the last look at the file (a rotation in the last second)
                decoded = jwt.decode(token, self._current_keys(force=True), algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                leeway=self.leeway_seconds,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                sub={"essential": True},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidToken(f"token rejected: {error}") from None
        claims = decoded.claims
        firm_id = claims.get(FIRM_CLAIM)
        if not isinstance(firm_id, str) or not firm_id:
            raise InvalidToken(f"token has no {FIRM_CLAIM} claim")
        raw_roles = claims.get(ROLES_CLAIM, [])
        roles = (
            frozenset(Role(r) for r in raw_roles if r in Role.__members__.values())
            if isinstance(raw_roles, list)
            else frozenset()
        )
        scope = claims.get("scope", "")
        return Principal(
            subject=str(claims["sub"]),
            firm_id=firm_id,
            roles=roles,
            scopes=frozenset(str(scope).split()) if scope else frozenset(),
            issuer=self.issuer,
            expires_at=float(claims["exp"]),
        )

    def key_set(self) -> KeySet:
        """The keys tokens are verified with now: a new object whenever the key file's set of keys changed."""
        return self._current_keys()

    def _current_keys(self, *, force: bool = False) -> KeySet:
        """The keys as the key file has them now: re-read when its stat changed, expired keys left out."""
        if self.key_file is None:
            return self.keys
        watch = self._watch
        checked_at = time.monotonic()
        if not force and checked_at - watch.checked_at < self.reload_interval_seconds:
            return self.keys
        with watch.lock:
            watch.checked_at = checked_at
            now = time.time()
            signature = _stat_signature(self.key_file)  # before reading: a change in between is seen next time
            if signature != watch.signature:
                watch.signature = signature  # a broken or missing file is reported once, not every second
                if signature is None:
                    log.error("the key file %s is gone; still using the keys read before", self.key_file)
                else:
                    try:
                        watch.content = read_key_file(self.key_file, now=now)
                    except (OSError, ValueError, KeyError, TypeError, JoseError) as error:
                        # a broken file must not take the hub down: it keeps the keys it has
                        log.error(
                            "could not read the key file %s (%s); still using the keys read before",
                            self.key_file,
                            error,
                        )
            content = (watch.content or KeyFile(keys=tuple(self.keys.keys), retirement={})).live(now)
            watch.content = content
            if content.keys and [key.kid for key in content.keys] != [key.kid for key in self.keys.keys]:
                # the identity (iss, aud, lifetimes) is fixed; only the key set follows the file
                object.__setattr__(self, "keys", KeySet(list(content.keys)))
        return self.keys
