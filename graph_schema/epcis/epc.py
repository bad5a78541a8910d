"""GS1 keys in EPCIS: EPC URNs (TDS 2.x) and GS1 Digital Link URIs, checked and put in one canonical form.

Both spellings name the same thing: ``urn:epc:id:sgtin:4012345.012345.12`` is
``https://id.gs1.org/01/04012345123456/21/12``. A URN carries the GS1 Company Prefix length (the dot), a Digital
Link does not; the URN built from a Digital Link therefore assumes a company prefix of
``DEFAULT_COMPANY_PREFIX_LENGTH`` digits. Matching never depends on that guess: lots match on GTIN + lot number,
sites on the 13-digit GLN, and the constrained Digital Link (``Gs1Id.digital_link``) is prefix-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

from graph_schema.errors import InvalidIdentifier
from graph_schema.identifiers import gs1_check_digit

# GS1 Company Prefixes are 6-12 digits; Digital Link does not say which, so URNs built from one assume 7 digits
# (the most common length, and the one graph_schema.identifiers.lgtin_for defaults to).
DEFAULT_COMPANY_PREFIX_LENGTH: Final = 7
DL_HOST: Final = "https://id.gs1.org"

# TDS: serials, lots, asset references use GS1 AI encodable character set 82; in URNs some are %-escaped.
_CS82: Final = r"(?:[!'()*+,\-.0-9:;=A-Z_a-z]|%[0-9A-Fa-f]{2})"
_CP: Final = r"(\d{6,12})"


def _text(max_len: int) -> str:
    return rf"({_CS82}{{1,{max_len}}})"


# urn:epc:id / class / idpat bodies, per scheme: the regex of the part after "urn:epc:<kind>:<scheme>:".
_URN_BODIES: Final[dict[str, re.Pattern[str]]] = {
    "id:sgtin": re.compile(rf"{_CP}\.(\d{{1,7}})\.{_text(20)}"),
    "id:sscc": re.compile(rf"{_CP}\.(\d{{5,11}})"),
    "id:sgln": re.compile(rf"{_CP}\.(\d{{0,6}})\.{_text(20)}"),
    "id:pgln": re.compile(rf"{_CP}\.(\d{{0,6}})"),
    "id:grai": re.compile(rf"{_CP}\.(\d{{0,6}})\.{_text(16)}"),
    "id:giai": re.compile(rf"{_CP}\.{_text(24)}"),
    "id:gsrn": re.compile(rf"{_CP}\.(\d{{5,11}})"),
    "id:gsrnp": re.compile(rf"{_CP}\.(\d{{5,11}})"),
    "id:gdti": re.compile(rf"{_CP}\.(\d{{0,6}})\.{_text(17)}"),
    "id:cpi": re.compile(rf"{_CP}\.((?:[0-9A-Z\-#/]|%2[3dDfF]){{1,24}})\.(\d{{1,12}})"),
    "id:sgcn": re.compile(rf"{_CP}\.(\d{{0,6}})\.(\d{{1,12}})"),
    "id:ginc": re.compile(rf"{_CP}\.{_text(24)}"),
    "id:gsin": re.compile(rf"{_CP}\.(\d{{4,10}})"),
    "id:itip": re.compile(rf"{_CP}\.(\d{{1,7}})\.(\d{{2}})\.(\d{{2}})\.{_text(20)}"),
    "id:upui": re.compile(rf"{_CP}\.(\d{{1,7}})\.{_text(28)}"),
    "class:lgtin": re.compile(rf"{_CP}\.(\d{{1,7}})\.{_text(20)}"),
    "idpat:sgtin": re.compile(rf"{_CP}\.(\d{{1,7}})\.\*"),
    "idpat:grai": re.compile(rf"{_CP}\.(\d{{0,6}})\.\*"),
    "idpat:gdti": re.compile(rf"{_CP}\.(\d{{0,6}})\.\*"),
    "idpat:sgcn": re.compile(rf"{_CP}\.(\d{{0,6}})\.\*"),
    "idpat:cpi": re.compile(rf"{_CP}\.((?:[0-9A-Z\-#/]|%2[3dDfF]){{1,24}})\.\*"),
    "idpat:itip": re.compile(rf"{_CP}\.(\d{{1,7}})\.(\d{{2}})\.(\d{{2}})\.\*"),
}

# Expected total digit counts of company prefix + reference, per scheme (TDS 2.x).
_PREFIX_PLUS_REF: Final[dict[str, int]] = {
    "sgtin": 13,
    "lgtin": 13,
    "itip": 13,
    "upui": 13,
    "sscc": 17,
    "sgln": 12,
    "pgln": 12,
    "grai": 12,
    "gdti": 12,
    "sgcn": 12,
    "gsrn": 17,
    "gsrnp": 17,
    "gsin": 16,
}

# The TDS schemes that carry no GS1 key (gid, usdod, adi, bic, imovn) are accepted as written.
_OTHER_EPC: Final = re.compile(r"urn:epc:(?:id|idpat):(?:gid|usdod|adi|bic|imovn):\S+")


@dataclass(frozen=True, slots=True)
class Gs1Id:
    """One identifier of an EPCIS event, parsed."""

    given: str  # as written
    scheme: str  # sgtin, lgtin, sgtin-class, sscc, sgln, pgln, grai, ... or "uri" for a non-GS1 URI
    canonical: str  # the EPC URN (built with the default prefix length from a Digital Link), or the URI as given
    digital_link: str | None  # constrained canonical Digital Link on id.gs1.org (CBV 2.0 8.9 rule 18); None if none
    gtin: str | None = None  # 14 digits
    lot: str | None = None
    serial: str | None = None
    gln: str | None = None  # 13 digits, for sgln (the site, without extension) and pgln

    @property
    def is_class(self) -> bool:
        """True for an EPC class (a lot or a whole product) rather than one instance."""
        return self.scheme in ("lgtin", "sgtin-class") or self.scheme.endswith("-pattern")


class _Malformed(Exception):
    """Why an identifier is wrong, before the field it sits in is known (so parses can be cached per value)."""


def _fail(value: str, field: str, why: str) -> _Malformed:
    return _Malformed(f"'{value}' {why}")


def _with_check(body: str) -> str:
    return body + str(gs1_check_digit(body))


def _gtin_of(prefix: str, item_ref: str) -> str:
    return _with_check(item_ref[0] + prefix + item_ref[1:])


def _split(key: str, length: int) -> tuple[str, str]:
    return key[:length], key[length:]


def _require_length(scheme: str, prefix: str, ref: str, value: str, field: str) -> None:
    expected = _PREFIX_PLUS_REF.get(scheme)
    if expected is not None and len(prefix) + len(ref) != expected:
        raise _fail(
            value,
            field,
            f"is not a valid {scheme.upper()} URN: company prefix and reference must have {expected} digits "
            f"together, they have {len(prefix) + len(ref)}",
        )


def _parse_urn(value: str, field: str) -> Gs1Id:
    _, _, rest = value.partition("urn:epc:")
    kind, _, rest = rest.partition(":")
    scheme, _, body = rest.partition(":")
    pattern = _URN_BODIES.get(f"{kind}:{scheme}")
    if pattern is None:
        if _OTHER_EPC.fullmatch(value):
            return Gs1Id(given=value, scheme="uri", canonical=value, digital_link=None)
        raise _fail(value, field, "is not a known EPC URN (expected e.g. 'urn:epc:id:sgtin:...')")
    match = pattern.fullmatch(body)
    if match is None:
        raise _fail(value, field, f"is not a well-formed {kind}:{scheme} EPC URN")
    parts = match.groups()
    prefix = parts[0]
    ref = parts[1] if len(parts) > 1 else ""
    base = "sgtin" if scheme in ("sgtin",) else scheme
    if kind == "class":
        base = "lgtin"
    _require_length(base, prefix, ref, value, field)
    return _from_parts(kind, scheme, parts, value)


def _from_parts(kind: str, scheme: str, parts: tuple[str, ...], value: str) -> Gs1Id:
    prefix = parts[0]
    if scheme in ("sgtin", "itip", "upui") or (kind == "class" and scheme == "lgtin"):
        gtin = _gtin_of(prefix, parts[1])
        if kind == "class":
            lot = parts[2]
            return Gs1Id(value, "lgtin", value, f"{DL_HOST}/01/{gtin}/10/{lot}", gtin=gtin, lot=lot)
        if scheme == "sgtin" and kind == "idpat":
            return Gs1Id(value, "sgtin-class", value, f"{DL_HOST}/01/{gtin}", gtin=gtin)
        if scheme == "sgtin":
            serial = parts[2]
            return Gs1Id(value, "sgtin", value, f"{DL_HOST}/01/{gtin}/21/{serial}", gtin=gtin, serial=serial)
        if scheme == "upui":
            return Gs1Id(value, "upui", value, f"{DL_HOST}/01/{gtin}/235/{parts[2]}", gtin=gtin, serial=parts[2])
        itip = gtin + parts[2] + parts[3]
        if kind == "idpat":
            return Gs1Id(value, "itip-pattern", value, f"{DL_HOST}/8006/{itip}", gtin=gtin)
        return Gs1Id(value, "itip", value, f"{DL_HOST}/8006/{itip}/21/{parts[4]}", gtin=gtin, serial=parts[4])
    if scheme == "sscc":
        ref = parts[1]
        sscc = _with_check(ref[0] + prefix + ref[1:])
        return Gs1Id(value, "sscc", value, f"{DL_HOST}/00/{sscc}", serial=sscc)
    if scheme in ("sgln", "pgln"):
        gln = _with_check(prefix + parts[1])
        if scheme == "pgln":
            return Gs1Id(value, "pgln", value, f"{DL_HOST}/417/{gln}", gln=gln)
        extension = parts[2]
        link = f"{DL_HOST}/414/{gln}" if extension == "0" else f"{DL_HOST}/414/{gln}/254/{extension}"
        return Gs1Id(value, "sgln", value, link, gln=gln)
    if scheme in ("grai", "gdti", "sgcn"):
        key = _with_check(prefix + parts[1])
        ai = {"grai": "8003", "gdti": "253", "sgcn": "255"}[scheme]
        head = "0" + key if scheme == "grai" else key
        if kind == "idpat":
            return Gs1Id(value, f"{scheme}-pattern", value, f"{DL_HOST}/{ai}/{head}")
        return Gs1Id(value, scheme, value, f"{DL_HOST}/{ai}/{head}{parts[2]}", serial=parts[2])
    if scheme in ("gsrn", "gsrnp", "gsin"):
        key = _with_check(prefix + parts[1])
        ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402"}[scheme]
        return Gs1Id(value, scheme, value, f"{DL_HOST}/{ai}/{key}", serial=key)
    if scheme in ("giai", "ginc"):
        ai = "8004" if scheme == "giai" else "401"
        return Gs1Id(value, scheme, value, f"{DL_HOST}/{ai}/{prefix}{parts[1]}", serial=prefix + parts[1])
    # cpi
    if kind == "idpat":
        return Gs1Id(value, "cpi-pattern", value, f"{DL_HOST}/8010/{prefix}{parts[1]}")
    return Gs1Id(value, "cpi", value, f"{DL_HOST}/8010/{prefix}{parts[1]}/8011/{parts[2]}", serial=parts[2])


# Digital Link primary keys: AI -> (regex of the value, qualifier AIs that may follow, in order).
_DL_KEYS: Final[dict[str, tuple[re.Pattern[str], tuple[str, ...]]]] = {
    "01": (re.compile(r"\d{8}|\d{12,14}"), ("22", "10", "21", "235")),
    "00": (re.compile(r"\d{18}"), ()),
    "253": (re.compile(rf"\d{{13}}{_CS82}{{0,17}}"), ()),
    "255": (re.compile(r"\d{13,25}"), ()),
    "401": (re.compile(rf"{_CS82}{{1,30}}"), ()),
    "402": (re.compile(r"\d{17}"), ()),
    "414": (re.compile(r"\d{13}"), ("254", "7040")),
    "417": (re.compile(r"\d{13}"), ("7040",)),
    "8003": (re.compile(rf"0\d{{13}}{_CS82}{{0,16}}"), ()),
    "8004": (re.compile(rf"{_CS82}{{1,30}}"), ("7040",)),
    "8006": (re.compile(r"\d{18}"), ("22", "10", "21")),
    "8010": (re.compile(r"(?:[0-9A-Z\-#/]|%2[3dDfF]){1,30}"), ("8011",)),
    "8017": (re.compile(r"\d{18}"), ("8019",)),
    "8018": (re.compile(r"\d{18}"), ("8019",)),
}
_ALWAYS_CHECKED: Final = frozenset({"01", "00", "414", "417"})
# A path whose last segments are "<known key AI>/<value>[/<qualifier AI>/<value>]..." is a Digital Link.
_DL_PATH: Final = re.compile(
    r"(?:/[^/]*)*?/(?P<ai>01|00|253|255|401|402|414|417|8003|8004|8006|8010|8017|8018)/(?P<value>[^/]+)"
    r"(?P<quals>(?:/\d{2,4}/[^/]+)*)/?"
)


def looks_like_digital_link(value: str) -> bool:
    """True when ``value`` is an http(s) URI whose path ends with a GS1 key (any host, per GS1 Digital Link)."""
    if not value.startswith(("https://", "http://")):
        return False
    return _DL_PATH.fullmatch(urlsplit(value).path) is not None


def _check_digit_ok(digits: str) -> bool:
    return int(digits[-1]) == gs1_check_digit(digits[:-1])


def _parse_digital_link(value: str, field: str, prefix_length: int) -> Gs1Id:
    match = _DL_PATH.fullmatch(urlsplit(value).path)
    if match is None:  # pragma: no cover - callers check looks_like_digital_link first
        raise _fail(value, field, "is not a GS1 Digital Link URI")
    ai, key = match["ai"], match["value"]
    key_pattern, allowed = _DL_KEYS[ai]
    qualifiers: dict[str, str] = {}
    segments = [s for s in match["quals"].split("/") if s]
    for position in range(0, len(segments), 2):
        qualifiers[segments[position]] = segments[position + 1]
    unknown = [q for q in qualifiers if q not in allowed]
    if unknown:
        raise _fail(value, field, f"has qualifier AI {unknown[0]}, which does not follow AI {ai} in GS1 Digital Link")
    if key_pattern.fullmatch(key) is None:
        raise _fail(value, field, f"has a malformed value '{key}' for GS1 Application Identifier ({ai})")
    digits_to_check = {"01": key, "00": key, "414": key, "417": key, "402": key, "8017": key, "8018": key}
    if ai in ("253", "255"):
        digits_to_check[ai] = key[:13]
    if ai == "8003":
        digits_to_check[ai] = key[1:14]
    if ai == "8006":
        digits_to_check[ai] = key[:14]
    checked = digits_to_check.get(ai)
    if checked is not None and not _check_digit_ok(checked):
        expected = gs1_check_digit(checked[:-1])
        raise _fail(value, field, f"has a wrong check digit in ({ai}) '{checked}': {checked[-1]}, expected {expected}")
    length = prefix_length
    if ai == "01":
        gtin = key.zfill(14)
        cp, item = gtin[1 : 1 + length], gtin[0] + gtin[1 + length : 13]
        if "21" in qualifiers:
            serial = qualifiers["21"]
            return Gs1Id(
                value, "sgtin", f"urn:epc:id:sgtin:{cp}.{item}.{serial}", f"{DL_HOST}/01/{gtin}/21/{serial}",
                gtin=gtin, serial=serial,
            )  # fmt: skip
        if "235" in qualifiers:
            tpx = qualifiers["235"]
            return Gs1Id(
                value, "upui", f"urn:epc:id:upui:{cp}.{item}.{tpx}", f"{DL_HOST}/01/{gtin}/235/{tpx}",
                gtin=gtin, serial=tpx,
            )  # fmt: skip
        if "10" in qualifiers:
            lot = qualifiers["10"]
            return Gs1Id(
                value, "lgtin", f"urn:epc:class:lgtin:{cp}.{item}.{lot}", f"{DL_HOST}/01/{gtin}/10/{lot}",
                gtin=gtin, lot=lot,
            )  # fmt: skip
        return Gs1Id(value, "sgtin-class", f"urn:epc:idpat:sgtin:{cp}.{item}.*", f"{DL_HOST}/01/{gtin}", gtin=gtin)
    if ai == "00":
        cp, ref = key[1 : 1 + length], key[0] + key[1 + length : 17]
        return Gs1Id(value, "sscc", f"urn:epc:id:sscc:{cp}.{ref}", f"{DL_HOST}/00/{key}", serial=key)
    if ai in ("414", "417"):
        cp, ref = _split(key[:12], length)
        if ai == "417":
            return Gs1Id(value, "pgln", f"urn:epc:id:pgln:{cp}.{ref}", f"{DL_HOST}/417/{key}", gln=key)
        extension = qualifiers.get("254")
        link = f"{DL_HOST}/414/{key}" + (f"/254/{extension}" if extension else "")
        return Gs1Id(value, "sgln", f"urn:epc:id:sgln:{cp}.{ref}.{extension or '0'}", link, gln=key)
    if ai in ("253", "255", "8003"):
        body = key[1:] if ai == "8003" else key
        cp, ref = _split(body[:12], length)
        serial = body[13:]
        scheme = {"253": "gdti", "255": "sgcn", "8003": "grai"}[ai]
        link = f"{DL_HOST}/{ai}/{key}"
        if not serial:
            return Gs1Id(value, f"{scheme}-pattern", f"urn:epc:idpat:{scheme}:{cp}.{ref}.*", link)
        return Gs1Id(value, scheme, f"urn:epc:id:{scheme}:{cp}.{ref}.{serial}", link, serial=serial)
    if ai in ("8017", "8018", "402"):
        scheme = {"8017": "gsrnp", "8018": "gsrn", "402": "gsin"}[ai]
        cp, ref = _split(key[:-1], length)
        return Gs1Id(value, scheme, f"urn:epc:id:{scheme}:{cp}.{ref}", f"{DL_HOST}/{ai}/{key}", serial=key)
    if ai in ("8004", "401"):
        scheme = "giai" if ai == "8004" else "ginc"
        cp, ref = _split(key, length)
        if not ref:
            return Gs1Id(value, scheme, value, f"{DL_HOST}/{ai}/{key}", serial=key)
        return Gs1Id(value, scheme, f"urn:epc:id:{scheme}:{cp}.{ref}", f"{DL_HOST}/{ai}/{key}", serial=key)
    if ai == "8006":
        gtin = key[:14]
        cp, item = gtin[1 : 1 + length], gtin[0] + gtin[1 + length : 13]
        piece, total = key[14:16], key[16:18]
        if "21" in qualifiers:
            serial = qualifiers["21"]
            return Gs1Id(
                value, "itip", f"urn:epc:id:itip:{cp}.{item}.{piece}.{total}.{serial}",
                f"{DL_HOST}/8006/{key}/21/{serial}", gtin=gtin, serial=serial,
            )  # fmt: skip
        return Gs1Id(
            value, "itip-pattern", f"urn:epc:idpat:itip:{cp}.{item}.{piece}.{total}.*", f"{DL_HOST}/8006/{key}",
            gtin=gtin,
        )  # fmt: skip
    # 8010 component / part identifier
    cp, ref = _split(key, length)
    if "8011" in qualifiers:
        serial = qualifiers["8011"]
        return Gs1Id(
            value, "cpi", f"urn:epc:id:cpi:{cp}.{ref}.{serial}", f"{DL_HOST}/8010/{key}/8011/{serial}", serial=serial
        )
    return Gs1Id(value, "cpi-pattern", f"urn:epc:idpat:cpi:{cp}.{ref}.*", f"{DL_HOST}/8010/{key}")


@lru_cache(maxsize=131072)  # capture documents name the same products, lots and sites over and over
def _parse_cached(value: str, prefix_length: int) -> Gs1Id | str:
    try:
        if value.startswith("urn:epc:"):
            return _parse_urn(value, "")
        if looks_like_digital_link(value):
            return _parse_digital_link(value, "", prefix_length)
    except _Malformed as problem:
        if _tolerated(value):
            return Gs1Id(given=value, scheme="uri", canonical=value, digital_link=None)
        return str(problem)
    return Gs1Id(given=value, scheme="uri", canonical=value, digital_link=None)


def _tolerated(value: str) -> bool:
    """A malformed key that is not an error: a secondary key (GRAI, GIAI, GDTI, ...) on a resolver of one's own.

    The keys the hub maps (GTIN, SSCC, GLN, party GLN), URNs, and anything on id.gs1.org are always checked. On
    other hosts a path that only looks like a secondary key is taken as an ordinary URI: published valid EPCIS
    examples (openepcis) carry such GRAIs with wrong check digits, and the hub stores them as given.
    """
    if value.startswith("urn:") or urlsplit(value).hostname == "id.gs1.org":
        return False
    match = _DL_PATH.fullmatch(urlsplit(value).path)
    return match is not None and match["ai"] not in _ALWAYS_CHECKED


def parse_identifier(value: str, *, field: str, prefix_length: int = DEFAULT_COMPANY_PREFIX_LENGTH) -> Gs1Id:
    """Parse an EPC URN or a GS1 Digital Link URI (checking check digits); other absolute URIs pass as given."""
    if not isinstance(value, str) or not value:
        raise InvalidIdentifier(f"{field}: must be a non-empty URI", field=field)
    parsed = _parse_cached(value, prefix_length)
    if isinstance(parsed, str):
        raise InvalidIdentifier(f"{field}: {parsed}", field=field)
    return parsed


def to_digital_link(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link of an EPC URN or Digital Link (None when it is neither)."""
    try:
        return parse_identifier(value, field="id").digital_link
    except InvalidIdentifier:
        return None
