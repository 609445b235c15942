"""What a sale earns: a pure calculation, no database (DESIGN.md §4).

`sale_awards` turns the amounts of a sale and the member's tier into a list of
awards, each its own ledger entry with its source. The campaigns engine adds
its awards to the same list.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.utils.functional import Promise

from loyalty.money import CENT
from members.history import Text


@dataclass(frozen=True)
class Award:
    source: str  # "base", "tier", later "campaign:<id>"
    points: int
    label: str | Promise  # a Text or a merchant's name: read in the reader's language
    kind: str  # ledger entry kind: "earn" or "bonus"


def floor_points(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def base_points(*, eligible_amount: Decimal, earn_points: int, earn_per_amount: Decimal) -> int:
    """floor(eligible / earn_per_amount × earn_points): 1 point per RM1 on RM100.99 is 100."""
    if eligible_amount <= 0:
        return 0
    return floor_points(eligible_amount * earn_points / earn_per_amount)


def sale_awards(
    *,
    eligible_amount: Decimal,
    earn_points: int,
    earn_per_amount: Decimal,
    tier_name: str | None,
    tier_multiplier: Decimal,
) -> list[Award]:
    """Base points are floored first, then multiplied by the tier and floored:
    a Silver member (×1.5) earns 150 on RM100.99 — 100 base and 50 tier bonus."""
    base = base_points(
        eligible_amount=eligible_amount, earn_points=earn_points, earn_per_amount=earn_per_amount
    )
    awards = [Award("base", base, Text("earn.purchase"), "earn")] if base else []
    bonus = floor_points(base * tier_multiplier) - base
    if bonus > 0 and tier_name:
        label = Text("earn.tier", tier=tier_name, multiplier=tier_multiplier)
        awards.append(Award("tier", bonus, label, "bonus"))
    return awards


def split_discount(gross: list[Decimal], discount: Decimal) -> list[Decimal]:
    """Share a sale's discount over its lines in proportion to their amounts,
    in cents that add up exactly (the last cent goes to the largest line)."""
    total = sum(gross, Decimal("0"))
    if not gross or discount <= 0 or total <= 0:
        return [Decimal("0.00")] * len(gross)
    shares = [(discount * amount / total).quantize(CENT, rounding=ROUND_DOWN) for amount in gross]
    leftover = discount - sum(shares, Decimal("0"))
    largest = max(range(len(gross)), key=lambda i: gross[i])
    shares[largest] += leftover
    return shares
