"""The bounds of every number and text the program accepts, defined once.

API serializers, back-office and portal forms, and the services all take their
bounds from here (the models carry them as validators, so ModelForms,
ModelSerializers and `full_clean` in the services see the same ones). Each bound
is chosen so that the value itself fits its column AND every value derived from
it fits too:

- Money: one amount (a unit price, a discount, a gift card, a reward's value)
  and a whole sale's subtotal are at most `MONEY_MAX`, one digit short of the
  `numeric(12, 2)` columns, so every sum within one sale (subtotal, total,
  eligible amount, shares of a discount) fits its column. A member's lifetime
  spend adds sales up, so its column is wider (`LIFETIME_SPEND_DIGITS`).
- Points: earning is bounded through the settings that make it:
  `EARN_RATE_MAX` points per unit of currency and a tier multiplier of at most
  `TIER_MULTIPLIER_MAX`, so the largest sale earns at most
  `MONEY_MAX × EARN_RATE_MAX × TIER_MULTIPLIER_MAX` < `POINTS_MAX` points; no
  sale needs to be refused for what it earns. Every single points figure (an
  adjustment, points paid at the till, a reward's cost) is at most
  `POINTS_MAX` too. Balances, lifetime counters and ledger entries are 64-bit:
  a balance reaches 2^63 only after millions of maximal sales. `POINTS_MAX`
  also stays below 2^53, so JavaScript clients read every figure exactly.
- Days: every period (expiry, validity, retention, tier window) is at most
  `DAYS_MAX`, a century, so a date derived from it (now + days, a backdated
  sale + pending + expiry, now - window) stays far inside the calendar
  (Python's and PostgreSQL's dates end at year 9999). Pending points wait at
  most `PENDING_DAYS_MAX`: that wait is the return window.
- Counts (stock, per-member limits, quantities, positions) fit a 32-bit
  signed column (`COUNT_MAX`).
- Text: every string is bounded by its column; emails by `EMAIL_MAX_LENGTH`
  (the column's 254, below the 320 that Django's validator allows).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

MONEY_MAX = Decimal("999999999.99")
MONEY_DIGITS = 12  # the money columns: numeric(12, 2)
LIFETIME_SPEND_DIGITS = 20  # numeric(20, 2): 10^8 maximal sales

POINTS_MAX = 999_999_999_999
EARN_RATE_MAX = 100  # points per unit of currency, before the tier multiplier
EARN_POINTS_MAX = 1_000_000  # points per `earn_per_amount`, within the rate above
TIER_MULTIPLIER_MAX = Decimal("10.00")
# What one point pays at the till: a point worth more than RM1,000 is a typo.
POINT_VALUE_MAX = Decimal("1000.00")

DAYS_MAX = 36_500
PENDING_DAYS_MAX = 365
EXPIRY_WARNING_DAYS_MAX = 365

COUNT_MAX = 2_147_483_647
QUANTITY_MAX = 100_000  # of one line of a sale
SALE_LINES_MAX = 500

EMAIL_MAX_LENGTH = 254

# JSON bodies nest a few levels (a sale's items); anything deeper is not ours.
JSON_DEPTH_MAX = 32


def days_validators(minimum: int = 1, maximum: int = DAYS_MAX) -> list:
    return [MinValueValidator(minimum), MaxValueValidator(maximum)]


def points_validators(minimum: int = 0) -> list:
    return [MinValueValidator(minimum), MaxValueValidator(POINTS_MAX)]


def money_validators(minimum: Decimal = Decimal("0.00")) -> list:
    return [MinValueValidator(minimum), MaxValueValidator(MONEY_MAX)]


def count_validators(minimum: int = 0) -> list:
    return [MinValueValidator(minimum), MaxValueValidator(COUNT_MAX)]


def sale_points_max() -> int:
    """The most one sale can earn with the bounds above (≤ POINTS_MAX)."""
    return int(MONEY_MAX * EARN_RATE_MAX * TIER_MULTIPLIER_MAX)


def text_problem(value: str) -> str | None:
    """Why no column can store `value` (a NUL byte, a lone surrogate), or None."""
    if "\x00" in value:
        return str(_("Null characters are not allowed."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return str(_("Surrogate characters are not allowed."))
    return None
