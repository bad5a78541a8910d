"""GS1 identifiers: check digits, padding, LGTIN parsing, and the errors a user sees."""

from __future__ import annotations

import pytest

from graph_schema.errors import InvalidIdentifier
from graph_schema.identifiers import (
    gs1_check_digit,
    gtin_of_lot,
    lgtin_for,
    normalize_gtin,
    parse_lgtin,
    validate_gln,
)


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("880123456789", 3),  # 8*3+8+0*3+1+2*3+3+4*3+5+6*3+7+8*3+9 = 127 -> 3
        ("629104150021", 3),  # GS1's own worked example: 6291041500213
        ("9638507", 4),  # GTIN-8 96385074
    ],
)
def test_check_digit_matches_gs1_mod10(body: str, digit: int) -> None:
    assert gs1_check_digit(body) == digit


def test_leading_zeros_do_not_change_the_check_digit() -> None:
    assert gs1_check_digit("0880123456789") == gs1_check_digit("880123456789")


def test_gln_with_correct_check_digit_is_accepted() -> None:
    assert validate_gln("6291041500213") == "6291041500213"


def test_gln_with_wrong_check_digit_names_expected_digit() -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        validate_gln("6291041500214", field="siteGln")
    assert raised.value.field == "siteGln"
    assert "check digit 4, expected 3" in raised.value.message


@pytest.mark.parametrize("bad", ["", "629104150021", "62910415002133", "62910415002x3", " 6291041500213"])
def test_gln_rejects_wrong_length_or_characters(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_gln(bad)


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("8801234567893", "08801234567893"),  # GTIN-13 padded to 14
        ("08801234567893", "08801234567893"),
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
    ],
)
def test_gtin_is_padded_to_14_digits(given: str, normalized: str) -> None:
    assert normalize_gtin(given) == normalized


def test_gtin_with_bad_check_digit_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier, match="expected 3"):
        normalize_gtin("8801234567890")


def test_lgtin_round_trips_through_its_gtin() -> None:
    lot = lgtin_for("08801234567893", "L20260903-01")
    assert lot == "urn:epc:class:lgtin:8801234.056789.L20260903-01"
    assert gtin_of_lot(lot) == "08801234567893"
    parsed = parse_lgtin(lot)
    assert (parsed.company_prefix, parsed.item_reference, parsed.lot) == ("8801234", "056789", "L20260903-01")


def test_lgtin_from_the_epcis_standard_examples() -> None:
    assert gtin_of_lot("urn:epc:class:lgtin:4012345.012345.998877") == "04012345123456"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("8801234.056789.L1", "must be an LGTIN class URI"),
        ("urn:epc:id:sgtin:8801234.056789.1", "must be an LGTIN class URI"),
        ("urn:epc:class:lgtin:8801234.05678.L1", "13 digits"),
        ("urn:epc:class:lgtin:8801234.056789.", "not a valid LGTIN"),
        ("urn:epc:class:lgtin:8801234.056789.ABCDEFGHIJKLMNOPQRSTU", "not a valid LGTIN"),
        ("urn:epc:class:lgtin:8801234.056789.L 1", "not a valid LGTIN"),
    ],
)
def test_bad_lgtin_says_what_is_wrong(bad: str, fragment: str) -> None:
    with pytest.raises(InvalidIdentifier, match=fragment) as raised:
        parse_lgtin(bad, field="lotId")
    assert raised.value.field == "lotId"
