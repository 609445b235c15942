"""Money in the program currency (DESIGN.md §4): `Decimal` with 2 places.

The one definition of the cent every amount is rounded to (`CENT`), of the
precision every amount field takes (`MONEY`, the `numeric(12,2)` of the
amount columns), and of how people read an amount (`money_format`). Every app
may import it: it is the lowest layer and knows nothing of them.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings

CENT = Decimal("0.01")
# Keyword arguments of every form and serializer field that takes an amount.
MONEY = {"max_digits": 12, "decimal_places": 2}

SYMBOLS = {"MYR": "RM"}


def currency_symbol(currency: str | None = None) -> str:
    """What stands before an amount: 'RM' for MYR, else the ISO code."""
    code = currency or settings.LOYALTY_CURRENCY
    return SYMBOLS.get(code, code)


def money_format(amount: Decimal | int | str | None, currency: str | None = None) -> str:
    """'RM 9,860.00' (and '-RM 5.00' below zero); '' for no amount. A value
    that is not a number is shown as it is.

    The program's currency (`LOYALTY_CURRENCY`) is shown by its everyday
    symbol where it has one (RM for ringgit), else by its ISO code; thousands
    are grouped with commas and cents always shown. Not locale-aware:
    Malaysian English and Malay write amounts the same way."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)).quantize(CENT)
    except InvalidOperation:
        return str(amount)
    sign = "-" if value < 0 else ""
    symbol = currency_symbol(currency)
    number = format(abs(value), ",.2f")
    return f"{sign}{symbol} {number}"
