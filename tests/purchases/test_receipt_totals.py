"""The receipt's amounts (API.md, "Purchases and returns"; docs/integration.md):
`discount_total` is the till's own discounts, the vouchers are taken off by
Setia and listed with their `discount`, and `total` is Σ quantity × unit_price
- discount_total - the vouchers' discounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.actors import Actor
from purchases.models import Purchase
from rewards.models import RewardKind
from rewards.services import redemption_create
from tests.purchases.conftest import sale
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db


def _voucher_code(member, **reward_fields) -> str:
    fund(member, 500)
    reward = make_reward(**reward_fields)
    return redemption_create(member=member, reward=reward, actor=Actor.system()).vouchers.get().code


def test_without_vouchers_the_total_is_the_lines_less_the_tills_discount(pos_api, shopper):
    body = sale("R1", ("TEA", 2, "30.00"), ("CUP", 1, "40.00"), member=shopper)
    body["discount_total"] = "15.50"
    receipt = pos_api.post("/api/v1/purchases", body, format="json").json()
    assert (receipt["total"], receipt["eligible_amount"], receipt["vouchers"]) == (
        "84.50",
        "84.50",
        [],
    )


def test_vouchers_come_off_after_the_tills_discount_and_once(pos_api, shopper):
    fixed = _voucher_code(shopper)  # RM10 off
    percent = _voucher_code(
        shopper, kind=RewardKind.DISCOUNT_PERCENT, value="10.00", name="10% off"
    )
    body = sale("R1", ("TEA", 1, "100.00"), member=shopper, vouchers=[percent, fixed])
    body["discount_total"] = "20.00"
    receipt = pos_api.post("/api/v1/purchases", body, format="json").json()
    discounts = [Decimal(v["discount"]) for v in receipt["vouchers"]]
    assert discounts == [Decimal("8.00"), Decimal("10.00")]  # 10% of 100 - 20, then RM10
    assert receipt["total"] == str(Decimal("100.00") - Decimal("20.00") - sum(discounts))
    assert (receipt["total"], receipt["eligible_amount"], receipt["points_earned"]) == (
        "62.00",
        "62.00",
        62,
    )
    assert Purchase.objects.get().total == Decimal("62.00")
