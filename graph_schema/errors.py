"""Domain errors with the stable codes clients rely on (``extensions.code``)."""

from __future__ import annotations

from typing import Final

BAD_USER_INPUT: Final = "BAD_USER_INPUT"
NOT_FOUND: Final = "NOT_FOUND"
FORBIDDEN: Final = "FORBIDDEN"
CONFLICT: Final = "CONFLICT"
UNAVAILABLE: Final = "UNAVAILABLE"
QUERY_TOO_COMPLEX: Final = "QUERY_TOO_COMPLEX"


class HubError(Exception):
    """An error whose message is safe to show to the caller, with a stable code and the offending field."""

    code: str = BAD_USER_INPUT

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidIdentifier(HubError):
    """A GS1 identifier (GLN, GTIN, LGTIN) that is malformed or fails its check digit."""

    code = BAD_USER_INPUT


class NotFound(HubError):
    """A referenced record does not exist (or is not visible to the caller)."""

    code = NOT_FOUND


class Forbidden(HubError):
    """The caller is authenticated but may not do this."""

    code = FORBIDDEN


class Conflict(HubError):
    """The record already exists with other content."""

    code = CONFLICT
