"""Opaque, per-caller stable ids for records a caller may not see in detail."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Redactor:
    """Derives an opaque id from the caller's firm and an internal reference, keyed by a hub secret.

    The same hidden lot gets the same id for the same firm on every request, so a coordinator can tell
    hidden parties apart, while two firms cannot match their opaque ids against each other.
    """

    key: bytes
    firm_id: str

    def opaque(self, kind: str, reference: str) -> str:
        """An id such as ``redacted:lot:3f9a...`` for one hidden record."""
        digest = hmac.new(self.key, f"{self.firm_id}\x1f{kind}\x1f{reference}".encode(), hashlib.sha256)
        return f"redacted:{kind}:{digest.hexdigest()[:24]}"
