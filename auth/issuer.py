"""The built-in token issuer: for firms without an identity provider and for local use.

Its signing keys (ES256) are generated on first use and kept in the state folder, owner-only. This module
mints and verifies its own tokens; the federated issuers, the OAuth endpoints and key rotation build on it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from auth.principal import Principal, Role

ALGORITHM: Final = "ES256"
FIRM_CLAIM: Final = "firm_id"
ROLES_CLAIM: Final = "roles"
MAX_TOKEN_BYTES: Final = 8192


class InvalidToken(Exception):
    """A bearer token that does not prove who the caller is; the message says why, for the logs."""


@dataclass(frozen=True)
class BuiltinIssuer:
    """Signs and verifies the hub's own access tokens."""

    issuer: str
    audience: str
    keys: KeySet
    ttl_seconds: int = 3600
    leeway_seconds: int = 30

    @classmethod
    def load(cls, *, key_file: Path, issuer: str, audience: str, ttl_seconds: int) -> BuiltinIssuer:
        """Open the issuer, generating its first signing key if the key file does not exist yet."""
        if key_file.exists():
            keys = KeySet.import_key_set(json.loads(key_file.read_text()))
        else:
            key = ECKey.generate_key(
                "P-256", parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": ALGORITHM}, private=True
            )
            keys = KeySet([key])
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key_file.write_text(json.dumps(keys.as_dict(private=True)))
            key_file.chmod(0o600)
        return cls(issuer=issuer, audience=audience, keys=keys, ttl_seconds=ttl_seconds)

    def mint(self, *, subject: str, firm_id: str, roles: Iterable[Role], scopes: Iterable[str] = ()) -> str:
        """A signed access token for a firm's principal."""
        now = int(time.time())
        key = self.keys.keys[-1]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_hex(12),
            FIRM_CLAIM: firm_id,
            ROLES_CLAIM: sorted(str(role) for role in roles),
            "scope": " ".join(sorted(scopes)),
        }
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, claims, self.keys)

    def verify(self, token: str) -> Principal:
        """The principal a token proves, or InvalidToken saying what is wrong with it."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        try:
            decoded = jwt.decode(token, self.keys, algorithms=[ALGORITHM])
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
        )
