"""Amounts as people read them: `{{ amount|money }}` → "RM 9,860.00".

The program's currency (`LOYALTY_CURRENCY`) is shown by its everyday symbol
where it has one (RM for ringgit), else by its ISO code; thousands are
grouped with commas and cents always shown. Not locale-aware: Malaysian
English and Malay write amounts the same way.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings

register = template.Library()

SYMBOLS = {"MYR": "RM"}


def currency_symbol(currency: str | None = None) -> str:
    """What stands before an amount: 'RM' for MYR, else the ISO code."""
    code = currency or settings.LOYALTY_CURRENCY
    return SYMBOLS.get(code, code)


def money_format(amount: Decimal | int | str | None, currency: str | None = None) -> str:
    """'RM 9,860.00' (and '-RM 5.00' below zero); '' for no amount. A value
    that is not a number is shown as it is."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return str(amount)
    sign = "-" if value < 0 else ""
    symbol = currency_symbol(currency)
    number = format(abs(value), ",.2f")
    return f"{sign}{symbol} {number}"


@register.filter
def money(amount: Decimal | int | str | None) -> str:
    return money_format(amount)
