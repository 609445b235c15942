"""Real threads against PostgreSQL: stock, vouchers and gift cards never give twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.actors import Actor
from members.checks import ledger_problems
from members.models import PointsEntry
from rewards.errors import GiftCardInsufficientBalance, OutOfStock, VoucherNotUsable
from rewards.gift_cards import gift_card_charge, gift_card_issue
from rewards.models import GiftCard, Redemption, Reward, Voucher
from rewards.selectors import redemption_token_get
from rewards.services import (
    StockEdit,
    redemption_confirm,
    redemption_create,
    reward_update,
    voucher_use,
)
from tests.factories import MemberFactory
from tests.members.test_ledger_concurrency import run_at_once
from tests.rewards.conftest import fund, make_reward

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SYSTEM = Actor.system()


def test_20_members_redeeming_a_reward_with_stock_5_leave_5_redemptions(program):
    members = [MemberFactory(user=None, email=f"race{i}@example.com") for i in range(20)]
    for member in members:
        fund(member, 1000)
    reward = make_reward(stock=5, points_cost=500)

    results = run_at_once(
        20, lambda i: redemption_create(member=members[i], reward=reward, actor=SYSTEM)
    )

    assert sum(isinstance(r, Redemption) for r in results) == 5
    assert sum(isinstance(r, OutOfStock) for r in results) == 15
    reward.refresh_from_db()
    assert reward.stock == 0
    assert PointsEntry.objects.filter(kind="redeem").count() == 5
    assert Voucher.objects.count() == 5
    assert ledger_problems() == []


def test_one_member_redeeming_20_times_at_once_pays_for_exactly_the_stock(program):
    member = MemberFactory(user=None, email="greedy@example.com")
    fund(member, 100_000)
    reward = make_reward(stock=5, points_cost=500)

    results = run_at_once(
        20, lambda i: redemption_create(member=member, reward=reward, actor=SYSTEM)
    )

    assert sum(isinstance(r, Redemption) for r in results) == 5
    reward.refresh_from_db()
    assert reward.stock == 0
    assert PointsEntry.objects.filter(member=member, kind="redeem").count() == 5
    assert ledger_problems() == []


def test_one_confirmation_submitted_8_times_at_once_redeems_once(program):
    member = MemberFactory(user=None, email="clicker@example.com")
    fund(member, 1000)
    reward = make_reward(points_cost=300)
    token = redemption_token_get(member=member, reward=reward)

    results = run_at_once(
        8,
        lambda i: redemption_confirm(member=member, reward=reward, token=token, actor=SYSTEM),
    )

    assert sum(not r.replayed for r in results) == 1
    assert {r.redemption.pk for r in results} == {Redemption.objects.get(member=member).pk}
    assert PointsEntry.objects.filter(member=member, kind="redeem").count() == 1
    assert ledger_problems() == []


def test_a_marketer_adding_10_units_while_8_members_redeem_loses_no_unit(program):
    members = [MemberFactory(user=None, email=f"restock{i}@example.com") for i in range(8)]
    for member in members:
        fund(member, 1000)
    reward = make_reward(stock=5, points_cost=100)

    def act(i: int) -> object:
        if i == 8:  # the edit page showed 5; the marketer typed 15
            return reward_update(actor=SYSTEM, reward=reward, stock_edit=StockEdit(seen=5, to=15))
        return redemption_create(member=members[i], reward=reward, actor=SYSTEM)

    results = run_at_once(9, act)

    assert isinstance(results[8], Reward)
    assert all(isinstance(r, Redemption | OutOfStock) for r in results[:8])
    redeemed = Redemption.objects.filter(reward=reward).count()
    assert redeemed == sum(isinstance(r, Redemption) for r in results) >= 5
    reward.refresh_from_db()
    # Every unit given stays taken, and the 10 added are all there.
    assert reward.stock == 5 + 10 - redeemed
    assert ledger_problems() == []


def test_one_voucher_used_by_10_tills_at_once_is_used_once(program):
    member = MemberFactory(user=None, email="voucher@example.com")
    fund(member, 1000)
    code = redemption_create(member=member, reward=make_reward(), actor=SYSTEM).vouchers.get().code

    results = run_at_once(
        10, lambda i: voucher_use(code=code, actor=SYSTEM, purchase_reference=f"R{i}")
    )

    assert sum(isinstance(r, Voucher) for r in results) == 1
    assert sum(isinstance(r, VoucherNotUsable) for r in results) == 9
    assert Voucher.objects.get(code=code).status == "used"


def test_rm100_card_charged_rm30_by_10_tills_at_once_takes_3_charges_and_leaves_rm10(store):
    card = gift_card_issue(actor=SYSTEM, amount=Decimal("100.00"))

    results = run_at_once(
        10,
        lambda i: gift_card_charge(
            code=card.code, amount=Decimal("30.00"), reference=f"R{i}", store=store, actor=SYSTEM
        ),
    )

    assert sum(isinstance(r, GiftCardInsufficientBalance) for r in results) == 7
    card = GiftCard.objects.get(pk=card.pk)
    assert card.balance == Decimal("10.00")
    assert card.entries.filter(kind="charge").count() == 3
    assert sum(card.entries.values_list("amount", flat=True)) == card.balance
