"""The back-test (campaigns.simulation): the campaign over past sales, with its
budget, caps and hold-out as live."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from campaigns.simulation import campaign_simulate
from tests.campaigns.factories import MONDAY, SATURDAY, line, sale, snap


def test_weekend_multiplier_over_a_week_of_sales():
    weekend = snap(1, "multiplier", {"factor": "2.00", "days_of_week": [5, 6]})
    sales = [sale(line(amount="80.00"), member_id=m, at=SATURDAY + timedelta(days=d))
             for d in range(3) for m in (1, 2)]  # fmt: skip
    result = campaign_simulate(campaign=weekend, sales=sales, point_value=Decimal("0.01"))
    assert (result.purchases_matched, result.members_reached, result.points) == (4, 2, 320)
    assert result.cost == Decimal("3.20")
    assert [(d.day.isoformat(), d.purchases, d.points) for d in result.by_day] == [
        ("2026-12-05", 2, 160),
        ("2026-12-06", 2, 160),
    ]


def test_budget_and_cap_apply_in_the_order_of_the_sales():
    bonus = snap(1, "spend_bonus", {"min_spend": "10.00", "points": 100}, budget_points=250,
                 per_member_cap=100, cap_period="day")  # fmt: skip
    sales = [sale(member_id=1, at=MONDAY), sale(member_id=1, at=MONDAY),
             sale(member_id=2, at=MONDAY), sale(member_id=3, at=MONDAY)]  # fmt: skip
    result = campaign_simulate(campaign=bonus, sales=sales, point_value=Decimal("0.01"))
    assert (result.purchases_matched, result.points) == (3, 250)


def test_held_out_members_get_nothing_as_live():
    bonus = snap(1, "spend_bonus", {"min_spend": "1.00", "points": 10}, holdout_percent=50)
    sales = [sale(member_id=m) for m in range(100)]
    result = campaign_simulate(campaign=bonus, sales=sales, point_value=Decimal("0.01"))
    assert 35 <= result.members_reached <= 65
