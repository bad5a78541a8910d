"""GS1 identifiers: GLN (sites), GTIN (products), LGTIN class URIs (lots), with check-digit validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from graph_schema.errors import InvalidIdentifier

_DIGITS: Final = re.compile(r"\d+")
# urn:epc:class:lgtin:<company prefix>.<indicator + item reference>.<lot>
# GS1 TDS: prefix and item reference together are 13 digits; the lot is 1-20 characters of GS1 AI
# encodable character set 82 (here: the URI-safe subset, with %-escapes allowed).
_LGTIN: Final = re.compile(
    r"urn:epc:class:lgtin:(\d{6,12})\.(\d{1,7})\.((?:[!'()*+,\-.0-9:;=A-Z_a-z]|%[0-9A-Fa-f]{2}){1,20})"
)
LGTIN_PREFIX: Final = "urn:epc:class:lgtin:"


def gs1_check_digit(body: str) -> int:
    """Return the GS1 mod-10 check digit for the digits of ``body`` (everything but the check digit)."""
    total = 0
    # weights 3,1,3,1... from the rightmost digit of the body
    for position, char in enumerate(reversed(body)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def _check(value: str, *, kind: str, length: int, field: str) -> str:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise InvalidIdentifier(f"{kind} {value!r} must contain digits only", field=field)
    if len(value) != length:
        raise InvalidIdentifier(f"{kind} {value!r} must have {length} digits, it has {len(value)}", field=field)
    expected = gs1_check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise InvalidIdentifier(f"{kind} {value!r} has check digit {value[-1]}, expected {expected}", field=field)
    return value


@lru_cache(maxsize=65536)  # bulk loads name the same sites and products over and over
def validate_gln(value: str, *, field: str = "gln") -> str:
    """Return the GLN if it has 13 digits and a correct check digit, else raise InvalidIdentifier."""
    return _check(value, kind="GLN", length=13, field=field)


@lru_cache(maxsize=65536)
def normalize_gtin(value: str, *, field: str = "gtin") -> str:
    """Return the GTIN as 14 digits (GTIN-8/12/13 padded with zeros) after checking its check digit."""
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) in (8, 12, 13):
        value = value.zfill(14)
    return _check(value, kind="GTIN", length=14, field=field)


@dataclass(frozen=True)
class Lgtin:
    """A GS1 LGTIN class URI: one traceability lot of one product (FSMA 204 TLC is GTIN + lot)."""

    company_prefix: str
    item_reference: str  # indicator digit first, then the item reference
    lot: str

    @property
    def gtin(self) -> str:
        """The 14-digit GTIN this lot belongs to."""
        body = self.item_reference[0] + self.company_prefix + self.item_reference[1:]
        return body + str(gs1_check_digit(body))

    @property
    def uri(self) -> str:
        """The canonical ``urn:epc:class:lgtin:`` form."""
        return f"{LGTIN_PREFIX}{self.company_prefix}.{self.item_reference}.{self.lot}"


def parse_lgtin(value: str, *, field: str = "lotId") -> Lgtin:
    """Parse an LGTIN class URI, raising InvalidIdentifier with what is wrong."""
    if not isinstance(value, str) or not value.startswith(LGTIN_PREFIX):
        raise InvalidIdentifier(
            f"lot id {value!r} must be an LGTIN class URI such as 'urn:epc:class:lgtin:8801234.012345.LOT001'",
            field=field,
        )
    match = _LGTIN.fullmatch(value)
    if match is None:
        raise InvalidIdentifier(
            f"lot id {value!r} is not a valid LGTIN: expected '<company prefix>.<indicator+item reference>.<lot>' "
            "with 13 digits in prefix and item reference together and a lot of 1-20 URI-safe characters",
            field=field,
        )
    prefix, item_ref, lot = match.groups()
    if len(prefix) + len(item_ref) != 13:
        raise InvalidIdentifier(
            f"lot id {value!r}: company prefix and item reference must have 13 digits together, "
            f"they have {len(prefix) + len(item_ref)}",
            field=field,
        )
    return Lgtin(company_prefix=prefix, item_reference=item_ref, lot=lot)


def lgtin_for(gtin: str, lot: str, *, company_prefix_length: int = 7) -> str:
    """Build the LGTIN URI of ``lot`` of product ``gtin`` (a 14-digit GTIN) for a given company prefix length."""
    gtin = normalize_gtin(gtin)
    if not 6 <= company_prefix_length <= 12:
        raise InvalidIdentifier("company prefix length must be between 6 and 12", field="gtin")
    prefix = gtin[1 : 1 + company_prefix_length]
    item_reference = gtin[0] + gtin[1 + company_prefix_length : 13]
    return parse_lgtin(f"{LGTIN_PREFIX}{prefix}.{item_reference}.{lot}").uri


def gtin_of_lot(lot_id: str, *, field: str = "lotId") -> str:
    """Return the GTIN encoded in an LGTIN URI."""
    return parse_lgtin(lot_id, field=field).gtin
