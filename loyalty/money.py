"""Money in the program currency (DESIGN.md §4): `Decimal` with 2 places.

The one definition of the cent every amount is rounded to (`CENT`), of the
precision every amount field takes (`MONEY`, the `numeric(12,2)` of the
amount columns), and of how people read an amount (`money_format`). Every app
may import it: it is the lowest layer and knows nothing of them.

Amounts people read (pages, emails, SMS, web push) go through
`money_format`; amounts machines read (the API, CSV exports) stay plain
decimals ("9860.00") and never come here.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale, localedata
from babel.core import get_global
from babel.numbers import format_currency
from django.conf import settings
from django.utils import translation

CENT = Decimal("0.01")
# Keyword arguments of every form and serializer field that takes an amount.
MONEY = {"max_digits": 12, "decimal_places": 2}


@lru_cache(maxsize=32)
def money_locale(language: str, region: str) -> Locale:
    """The Babel locale amounts are written in for a reader of `language`:
    the language as written in the program's region where CLDR has it
    (en → en_MY, ms → ms_MY, en → en_SG), else the language alone."""
    base = translation.to_locale(language).split("_")[0]
    name = f"{base}_{region}"
    return Locale.parse(name if localedata.exists(name) else base)


def currency_decimals(currency: str) -> int:
    """How many decimals an amount in `currency` is written with: the
    currency's cash digits in CLDR, what people pay and read on a receipt
    (MYR 2, JPY 0, IDR 0: ISO gives the rupiah two decimals, but it has had
    no sen in circulation for decades)."""
    fractions = get_global("currency_fractions")
    return fractions.get(currency, fractions["DEFAULT"])[2]


def money_format(
    amount: Decimal | int | str | None,
    currency: str | None = None,
    *,
    language: str | None = None,
) -> str:
    """An amount as a reader of `language` (the active language by default)
    reads it, by Babel from CLDR: 'RM9,860.00' (and '-RM5.00' below zero) in
    ringgit for English and Malay in Malaysia, 'JP¥9,860' in yen, 'IDR9,860'
    in rupiah; '' for no amount. A value that is not a number is shown as it
    is.

    The currency is the program's (`LOYALTY_CURRENCY`) unless given; the
    locale is the reader's language in the program's region
    (`money_locale`); the amount is rounded half up to the currency's
    decimals (`currency_decimals`)."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    if not value.is_finite():
        return str(amount)
    code = currency or settings.LOYALTY_CURRENCY
    locale = money_locale(
        language or translation.get_language() or settings.LANGUAGE_CODE,
        settings.LOYALTY_REGION,
    )
    decimals = currency_decimals(code)
    value = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    pattern = copy.copy(locale.currency_formats["standard"])
    pattern.frac_prec = (decimals, decimals)
    return format_currency(value, code, format=pattern, locale=locale, currency_digits=False)
