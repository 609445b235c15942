"""Amounts as people read them (loyalty.money and the `money` template filter): the
currency's symbol, grouped thousands, cents."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from loyalty.money import money_format


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("9860"), "RM 9,860.00"),
        (Decimal("1234567.5"), "RM 1,234,567.50"),
        ("0.5", "RM 0.50"),
        (12, "RM 12.00"),
        (Decimal("-5"), "-RM 5.00"),
        (None, ""),
    ],
)
def test_ringgit_read_as_rm_with_grouping_and_cents(amount, shown):
    assert money_format(amount, "MYR") == shown


def test_a_currency_without_a_symbol_shows_its_iso_code():
    assert money_format(Decimal("1000"), "SGD") == "SGD 1,000.00"


def test_the_filter_uses_the_programs_currency(settings):
    settings.LOYALTY_CURRENCY = "MYR"
    rendered = Template("{% load money %}{{ amount|money }}").render(
        Context({"amount": Decimal("9860.00")})
    )
    assert rendered == "RM 9,860.00"
    settings.LOYALTY_CURRENCY = "USD"
    assert Template("{% load money %}{{ 3|money }}").render(Context()) == "USD 3.00"
