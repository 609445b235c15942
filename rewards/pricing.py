"""What a voucher takes off a sale: a pure calculation, no database.

Vouchers apply in the order the till lists them, each on what is left of the
sale after the till's own discount and the vouchers before it:

- discount_fixed: its value;
- discount_percent: its value in percent of the sale's total before vouchers;
- free_product: the unit price of a line of its SKU (one unit), or its value
  when the sale has no such line;
- experience: nothing (it is used, not priced).

No voucher takes more than is left, so the sale never goes below zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from loyalty.money import CENT
from rewards.models import RewardKind

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SaleLine:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Discount:
    """What one voucher takes off: `amount`, of which `line` (an index into the
    sale's lines) carries all of it for a free product, else None (shared)."""

    amount: Decimal
    line: int | None = None


def voucher_discounts(
    *,
    vouchers: list[tuple[str, Decimal | None, str]],
    lines: list[SaleLine],
    total_before: Decimal,
) -> list[Discount]:
    """One Discount per (kind, value, sku) of `vouchers`, in order.

    `total_before` is the sale's total after the till's discount.
    """
    left = max(total_before, ZERO)
    free_units: dict[int, int] = {}
    result = []
    for kind, value, sku in vouchers:
        line_index = None
        if kind == RewardKind.DISCOUNT_FIXED:
            amount = value or ZERO
        elif kind == RewardKind.DISCOUNT_PERCENT:
            percent = min(value or ZERO, Decimal("100"))
            amount = (total_before * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        elif kind == RewardKind.FREE_PRODUCT:
            line_index = next(
                (
                    i
                    for i, line in enumerate(lines)
                    if sku and line.sku == sku and free_units.get(i, 0) < line.quantity
                ),
                None,
            )
            if line_index is not None:
                free_units[line_index] = free_units.get(line_index, 0) + 1
                amount = lines[line_index].unit_price
            else:
                amount = value or ZERO
        else:
            amount = ZERO
        amount = min(amount.quantize(CENT), left)
        left -= amount
        result.append(Discount(amount=amount, line=line_index))
    return result
