"""Phones (members.identifiers.normalise_phone): parsed and validated by
phonenumbers, stored in E.164; a local form is read in the program's region."""

from __future__ import annotations

import phonenumbers
import pytest
from django.utils import translation
from hypothesis import assume, given
from hypothesis import strategies as st

from members.identifiers import PhoneInvalid, normalise_phone


@pytest.fixture(autouse=True)
def _english():
    """The reasons are compared in English, whatever an earlier test left active."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("012-345 6789", "+60123456789"),
        ("0123456789", "+60123456789"),
        ("60123456789", "+60123456789"),
        ("+60 12-345 6789", "+60123456789"),
        ("0060 12 345 6789", "+60123456789"),
        ("(03) 2161 2345", "+60321612345"),
        ("011-1234 5678", "+601112345678"),
        ("+65 9123 4567", "+6591234567"),
        ("0065 9123 4567", "+6591234567"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("  +62 (812) 3456 7890 ", "+6281234567890"),
    ],
)
def test_malaysian_local_and_international_forms_and_foreign_numbers_keep_their_country(
    typed, stored
):
    assert normalise_phone(typed) == stored


def test_a_local_form_is_read_in_the_programs_region(settings):
    settings.LOYALTY_REGION = "SG"
    assert normalise_phone("9123 4567") == "+6591234567"
    assert normalise_phone("+60 12-345 6789") == "+60123456789"
    settings.LOYALTY_REGION = "ID"
    assert normalise_phone("0812-3456-7890") == "+6281234567890"
    with pytest.raises(PhoneInvalid):
        normalise_phone("0812-3456-7890", region="MY")


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_no_phone_is_none(empty):
    assert normalise_phone(empty) is None


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("not a phone", "use digits, spaces, dashes and a leading + only"),
        ("012-345 6789 ext 12", "use digits, spaces, dashes and a leading + only"),
        ("CRM-77", "use digits, spaces, dashes and a leading + only"),
        ("123", "it is too short"),
        ("+6512", "it is too short"),
        ("0123456789012345678", "it is too long"),
        ("+999 1234567", "no country has this country code"),
        ("+65 1234 5678", "no number in use in its country has these digits"),
        ("9123 4567", "no number in use in Malaysia has these digits"),
        ("1" * 41, "use digits, spaces, dashes and a leading + only"),
    ],
)
def test_what_is_not_a_valid_number_is_refused_with_its_reason(typed, reason):
    with pytest.raises(PhoneInvalid) as refused:
        normalise_phone(typed)
    assert reason in refused.value.reason
    assert refused.value.message.startswith("Enter a valid phone number: ")


def test_the_reason_reads_in_malay_with_the_regions_malay_name():
    with translation.override("ms"):
        with pytest.raises(PhoneInvalid) as refused:
            normalise_phone("9123 4567")
        message = refused.value.message
    assert "Malaysia" in refused.value.reason
    assert message.startswith("Masukkan nombor telefon yang sah: ")


@st.composite
def valid_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    """A valid number of any region phonenumbers knows: the region's example
    of some type with its last digits redrawn, kept when still valid."""
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    kind = draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE,
                phonenumbers.PhoneNumberType.TOLL_FREE,
            ]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assume(example is not None)
    national = str(example.national_number)
    tail = draw(st.integers(min_value=0, max_value=min(3, len(national) - 1)))
    digits = draw(st.text("0123456789", min_size=tail, max_size=tail))
    number = phonenumbers.parse(
        f"+{example.country_code}{national[: len(national) - tail]}{digits}", None
    )
    assume(phonenumbers.is_valid_number(number))
    return number


@given(number=valid_numbers(), region=st.sampled_from(["MY", "SG", "ID", "US"]))
def test_any_valid_e164_number_round_trips_unchanged(number, region):
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert normalise_phone(e164, region=region) == e164
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalise_phone(international, region=region) == e164
