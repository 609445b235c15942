"""Amounts as people read them (loyalty.money and the `money` template filter):
Babel's CLDR formats for the program's currency, in the reader's language as
written in the program's region, with the currency's own decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.template import Context, Template
from django.utils import translation

from loyalty.money import currency_decimals, money_format


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("9860"), "RM9,860.00"),
        (Decimal("1234567.5"), "RM1,234,567.50"),
        ("0.5", "RM0.50"),
        (12, "RM12.00"),
        (Decimal("-5"), "-RM5.00"),
        ("0.005", "RM0.01"),
        (None, ""),
        ("", ""),
    ],
)
@pytest.mark.parametrize("language", ["en", "ms"])
def test_ringgit_read_as_rm_with_grouping_and_sen_in_english_and_malay(amount, shown, language):
    assert money_format(amount, "MYR", language=language) == shown


@pytest.mark.parametrize("language", ["en", "ms"])
def test_yen_has_no_decimals(language):
    assert currency_decimals("JPY") == 0
    assert money_format(Decimal("9860.00"), "JPY", language=language) == "JP¥9,860"
    assert money_format(Decimal("1234.50"), "JPY", language=language) == "JP¥1,235"


@pytest.mark.parametrize("language", ["en", "ms"])
def test_rupiah_is_written_in_whole_rupiah(language):
    assert currency_decimals("IDR") == 0
    assert money_format(Decimal("150000.00"), "IDR", language=language) == "IDR150,000"


def test_in_indonesia_rupiah_read_with_dots_for_thousands_in_english_and_malay(settings):
    settings.LOYALTY_REGION = "ID"
    assert money_format(Decimal("150000"), "IDR", language="en") == "Rp150.000"
    assert money_format(Decimal("150000"), "IDR", language="ms") == "Rp150.000"


def test_malay_and_english_differ_where_cldr_says_so(settings):
    """In Malaysia a US dollar is 'US$' in English, 'USD' in Malay; in Brunei
    Malay groups with dots and English (no en_BN) with commas."""
    assert money_format(Decimal("12.5"), "USD", language="en") == "US$12.50"
    assert money_format(Decimal("12.5"), "USD", language="ms") == "USD12.50"
    settings.LOYALTY_REGION = "BN"
    assert money_format(Decimal("1234.5"), "BND", language="ms") == "$\xa01.234,50"
    assert money_format(Decimal("1234.5"), "BND", language="en") == "BND1,234.50"


def test_the_active_language_is_the_readers_by_default(settings):
    settings.LOYALTY_REGION = "BN"
    with translation.override("ms"):
        assert money_format(Decimal("1234.5"), "BND") == "$\xa01.234,50"
    with translation.override("en"):
        assert money_format(Decimal("1234.5"), "BND") == "BND1,234.50"


def test_something_that_is_not_a_number_is_shown_as_it_is():
    assert money_format("n/a") == "n/a"
    assert money_format("NaN") == "NaN"


def test_the_filter_uses_the_programs_currency(settings):
    settings.LOYALTY_CURRENCY = "MYR"
    rendered = Template("{% load money %}{{ amount|money }}").render(
        Context({"amount": Decimal("9860.00")})
    )
    assert rendered == "RM9,860.00"
    settings.LOYALTY_CURRENCY = "JPY"
    assert Template("{% load money %}{{ 3|money }}").render(Context()) == "JP¥3"


def test_a_currency_babel_does_not_know_is_refused_at_start(settings):
    settings.LOYALTY_CURRENCY = "RM"
    with pytest.raises(SystemCheckError, match=r"loyalty\.E004"):
        call_command("check")
    settings.LOYALTY_CURRENCY = "IDR"
    call_command("check")


def test_a_region_phonenumbers_does_not_know_is_refused_at_start(settings):
    settings.LOYALTY_REGION = "XX"
    with pytest.raises(SystemCheckError, match=r"loyalty\.E005"):
        call_command("check")
    settings.LOYALTY_REGION = "SG"
    call_command("check")
