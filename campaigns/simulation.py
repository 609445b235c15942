"""The back-test of one campaign over past sales (issue 10): pure, like the
engine, so it reads nothing itself. The sales come as the engine's
`SaleContext`s, in the order they were recorded; building them from recorded
purchases belongs to the purchases app (layer 5, above campaigns), which
hands them to `campaign_simulate`.

The campaign is run as the live sale flow runs it: its audience, stores,
window, hold-out (held-out members get nothing), budget and per-member cap
(kept in memory, in the order of the sales). It is evaluated alone: other
campaigns that would have been live are not stacked against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from campaigns.engine import (
    BUDGET,
    CAP,
    CampaignSnapshot,
    LimitLeft,
    SaleContext,
    cap_period_key,
    sale_evaluate,
)
from loyalty.money import CENT


@dataclass(frozen=True)
class DayFigures:
    day: date
    purchases: int
    points: int


@dataclass(frozen=True)
class Simulation:
    purchases_matched: int
    members_reached: int
    points: int
    cost: Decimal  # points × the program's point_value
    by_day: tuple[DayFigures, ...] = field(default=())


def campaign_simulate(
    *, campaign: CampaignSnapshot, sales: Iterable[SaleContext], point_value: Decimal
) -> Simulation:
    budget_used = 0
    cap_used: dict[tuple[int, str], int] = {}
    members: set[int] = set()
    days: dict[date, list[int]] = {}
    matched = 0
    for sale in sales:
        lefts = []
        if campaign.budget_points is not None:
            lefts.append(LimitLeft(max(0, campaign.budget_points - budget_used), BUDGET))
        key = (sale.member.member_id, cap_period_key(campaign.cap_period, sale.at))
        if campaign.per_member_cap is not None:
            lefts.append(LimitLeft(max(0, campaign.per_member_cap - cap_used.get(key, 0)), CAP))
        limits = {campaign.id: min(lefts, key=lambda left: left.points)} if lefts else None
        points = sale_evaluate(sale, [campaign], limits_left=limits).points
        if points <= 0:
            continue
        matched += 1
        budget_used += points
        cap_used[key] = cap_used.get(key, 0) + points
        members.add(sale.member.member_id)
        figures = days.setdefault(sale.at.date(), [0, 0])
        figures[0] += 1
        figures[1] += points
    total = sum(figures[1] for figures in days.values())
    return Simulation(
        purchases_matched=matched,
        members_reached=len(members),
        points=total,
        cost=(Decimal(total) * point_value).quantize(CENT),
        by_day=tuple(DayFigures(day, n, p) for day, (n, p) in sorted(days.items())),
    )
