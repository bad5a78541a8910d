"""EPC URNs and GS1 Digital Link URIs: check digits, canonical forms, and the equivalence of both spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph_schema.epcis.epc import parse_identifier, to_digital_link
from graph_schema.epcis.vocabulary import BIZ_STEP, DISPOSITION, SOURCE_DESTINATION_TYPE
from graph_schema.errors import InvalidIdentifier
from graph_schema.identifiers import gs1_check_digit, lgtin_for

# Keys whose check digits are printed in GS1's own examples (GenSpecs, the EPCIS 2.0 standard's examples).
KNOWN_CHECK_DIGITS = [
    ("590123412345", 7),  # GTIN-13 5901234123457
    ("1061414107346", 4),  # GTIN-14 10614141073464
    ("061414107346", 7),  # GLN 0614141073467
    ("10614141234567890", 8),  # SSCC 106141412345678908
]


@pytest.mark.parametrize(("body", "digit"), KNOWN_CHECK_DIGITS)
def test_gs1_check_digits(body: str, digit: int) -> None:
    assert gs1_check_digit(body) == digit


@pytest.mark.parametrize(
    ("urn", "link", "gtin", "lot", "gln"),
    [
        (
            "urn:epc:id:sgtin:0614141.107346.2017",
            "https://id.gs1.org/01/10614141073464/21/2017",
            "10614141073464",
            None,
            None,
        ),
        (
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.gs1.org/01/04012345123456/10/998877",
            "04012345123456",
            "998877",
            None,
        ),
        ("urn:epc:idpat:sgtin:4012345.012345.*", "https://id.gs1.org/01/04012345123456", "04012345123456", None, None),
        ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234", None, None,
         "0614141073467"),
        ("urn:epc:id:sgln:0614141.07346.0", "https://id.gs1.org/414/0614141073467", None, None, "0614141073467"),
        ("urn:epc:id:pgln:0614141.00777", "https://id.gs1.org/417/0614141007776", None, None, "0614141007776"),
        ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908", None, None, None),
        ("urn:epc:id:grai:0614141.12345.400", "https://id.gs1.org/8003/00614141123452400", None, None, None),
        ("urn:epc:id:giai:0614141.12345400", "https://id.gs1.org/8004/061414112345400", None, None, None),
        ("urn:epc:id:gdti:0614141.00001.1618034", "https://id.gs1.org/253/06141410000121618034", None, None, None),
        ("urn:epc:id:gsrn:0614141.0000010253", "https://id.gs1.org/8018/061414100000102534", None, None, None),
    ],
)  # fmt: skip
def test_urn_and_digital_link_name_the_same_key(
    urn: str, link: str, gtin: str | None, lot: str | None, gln: str | None
) -> None:
    from_urn = parse_identifier(urn, field="epcList[0]")
    from_link = parse_identifier(link, field="epcList[0]")
    assert from_urn.digital_link == link
    assert from_link.digital_link == link
    assert from_link.canonical == urn  # these company prefixes have the default 7 digits
    assert (from_urn.gtin, from_urn.lot, from_urn.gln) == (gtin, lot, gln)
    assert (from_link.gtin, from_link.lot, from_link.gln) == (gtin, lot, gln)
    assert from_urn.scheme == from_link.scheme


@pytest.mark.parametrize(
    "link",
    [
        "https://id.gs1.org/01/10614141073464/21/2017",
        "https://brand.example.co.kr/01/10614141073464/21/2017",  # any host (GS1 Digital Link)
        "https://brand.example.co.kr/products/01/10614141073464/21/2017?linkType=gs1:pip",  # path prefix, query
        "https://id.gs1.org/01/10614141073464/10/LOT9/21/2017",  # lot and serial: the serial is finer
    ],
)
def test_digital_link_on_any_host_is_constrained_to_id_gs1_org(link: str) -> None:
    assert to_digital_link(link) == "https://id.gs1.org/01/10614141073464/21/2017"


def test_a_gtin_written_with_13_digits_is_padded() -> None:
    parsed = parse_identifier("https://id.gs1.org/01/8801234123457/10/A1", field="quantityList[0].epcClass")
    assert parsed.gtin == "08801234123457"
    assert parsed.canonical == lgtin_for("08801234123457", "A1")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("https://id.gs1.org/01/10614141073465/21/2017", "wrong check digit in (01) '10614141073465': 5, expected 4"),
        ("https://id.gs1.org/414/0614141073468", "wrong check digit in (414)"),
        ("https://brand.example/414/0614141073468", "wrong check digit in (414)"),  # GLNs are checked on any host
        ("https://id.gs1.org/00/106141412345678909", "wrong check digit in (00)"),
        ("https://id.gs1.org/01/123/21/2017", "malformed value '123' for GS1 Application Identifier (01)"),
        ("https://id.gs1.org/01/10614141073464/99/x", "qualifier AI 99"),
        ("urn:epc:id:sgtin:0614141.10734.2017", "must have 13 digits together, they have 12"),
        ("urn:epc:id:sgln:0614141.07346", "is not a well-formed id:sgln EPC URN"),
        ("urn:epc:id:sgtn:0614141.107346.2017", "is not a known EPC URN"),
        ("urn:epc:class:lgtin:0614141.107346", "is not a well-formed class:lgtin EPC URN"),
    ],
)
def test_bad_identifiers_are_errors_naming_the_field(value: str, words: str) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        parse_identifier(value, field="epcList[2]")
    assert raised.value.field == "epcList[2]"
    assert raised.value.message.startswith(f"epcList[2]: '{value}'")
    assert words in raised.value.message


def test_other_uris_pass_as_given() -> None:
    for value in ("http://transaction.acme.com/po/12345678", "urn:epc:id:gid:95100000.12345.400", "geo:50.9,6.9"):
        parsed = parse_identifier(value, field="bizTransactionList[0].bizTransaction")
        assert (parsed.scheme, parsed.canonical, parsed.digital_link) == ("uri", value, None)


_prefix_lengths = st.integers(min_value=6, max_value=12)
_serials = st.text(alphabet="0123456789ABCDEFGHJKabcxyz-_", min_size=1, max_size=20)


@given(
    prefix_length=_prefix_lengths,
    digits=st.text(alphabet="0123456789", min_size=13, max_size=13),
    serial=_serials,
)
def test_sgtin_round_trips_between_urn_and_digital_link(prefix_length: int, digits: str, serial: str) -> None:
    prefix, item_reference = digits[1 : 1 + prefix_length], digits[0] + digits[1 + prefix_length :]
    urn = f"urn:epc:id:sgtin:{prefix}.{item_reference}.{serial}"
    link = to_digital_link(urn)
    assert link is not None
    gtin = digits[0] + prefix + digits[1 + prefix_length :]
    assert link == f"https://id.gs1.org/01/{gtin}{gs1_check_digit(gtin)}/21/{serial}"
    back = parse_identifier(link, field="epcList[0]", prefix_length=prefix_length)
    assert back.canonical == urn
    assert back.gtin == parse_identifier(urn, field="epcList[0]").gtin


@given(prefix_length=_prefix_lengths, digits=st.text(alphabet="0123456789", min_size=12, max_size=12), ext=_serials)
def test_sgln_round_trips_and_gives_the_site_gln(prefix_length: int, digits: str, ext: str) -> None:
    urn = f"urn:epc:id:sgln:{digits[:prefix_length]}.{digits[prefix_length:]}.{ext}"
    parsed = parse_identifier(urn, field="readPoint.id")
    assert parsed.gln == digits + str(gs1_check_digit(digits))
    assert parsed.digital_link is not None
    back = parse_identifier(parsed.digital_link, field="readPoint.id", prefix_length=prefix_length)
    assert back.gln == parsed.gln
    assert back.canonical == urn


@given(prefix_length=_prefix_lengths, digits=st.text(alphabet="0123456789", min_size=13, max_size=13), lot=_serials)
def test_lgtin_from_digital_link_matches_lgtin_for(prefix_length: int, digits: str, lot: str) -> None:
    gtin = digits + str(gs1_check_digit(digits))
    link = f"https://example.com/01/{gtin}/10/{lot}"
    parsed = parse_identifier(link, field="quantityList[0].epcClass", prefix_length=prefix_length)
    assert parsed.canonical == lgtin_for(gtin, lot, company_prefix_length=prefix_length)
    assert (parsed.gtin, parsed.lot) == (gtin, lot)


@given(digits=st.text(alphabet="0123456789", min_size=13, max_size=13), wrong=st.integers(min_value=1, max_value=9))
def test_any_wrong_gtin_check_digit_is_rejected(digits: str, wrong: int) -> None:
    bad_digit = (gs1_check_digit(digits) + wrong) % 10
    with pytest.raises(InvalidIdentifier, match="wrong check digit"):
        parse_identifier(f"https://id.gs1.org/01/{digits}{bad_digit}/10/L1", field="quantityList[0].epcClass")


@pytest.mark.parametrize(
    ("vocabulary", "forms", "term"),
    [
        (BIZ_STEP, ["shipping", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping",
                    "cbv:BizStep-shipping"], "shipping"),
        (DISPOSITION, ["in_transit", "urn:epcglobal:cbv:disp:in_transit", "https://ref.gs1.org/cbv/Disp-in_transit"],
         "in_transit"),
        (SOURCE_DESTINATION_TYPE, ["owning_party", "urn:epcglobal:cbv:sdt:owning_party",
                                   "https://ref.gs1.org/cbv/SDT-owning_party"], "owning_party"),
    ],
)  # fmt: skip
def test_cbv_values_in_every_spelling_normalise_to_the_compact_term(
    vocabulary: object, forms: list[str], term: str
) -> None:
    from graph_schema.epcis.vocabulary import Vocabulary

    assert isinstance(vocabulary, Vocabulary)
    assert {vocabulary.normalise(form, {}) for form in forms} == {term}


def test_custom_vocabulary_values() -> None:
    assert BIZ_STEP.normalise("ext1:summarising", {"ext1": "http://example.com/ext1/"}) == (
        "http://example.com/ext1/summarising"
    )
    assert BIZ_STEP.normalise("https://example.com/bizStep/inspecting", {}) == "https://example.com/bizStep/inspecting"
    with pytest.raises(ValueError, match="'transforming' is not a CBV business step"):
        BIZ_STEP.normalise("urn:epcglobal:cbv:bizstep:transforming", {})
    with pytest.raises(ValueError, match="'transforming' is not a CBV business step"):
        BIZ_STEP.normalise("transforming", {})
