"""Redeeming rewards and cancelling redemptions (rewards.services)."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from members.checks import ledger_problems
from members.errors import InsufficientPoints, MemberInactive
from members.models import MemberStatus, PointsAccount, PointsEntry
from members.services import member_update
from rewards.errors import (
    LimitReached,
    OutOfStock,
    RedeemConfirmationExpired,
    RedeemConfirmationStale,
    RedemptionNotCancellable,
    RewardUnavailable,
)
from rewards.gift_cards import gift_card_charge
from rewards.models import (
    GiftCardStatus,
    Redemption,
    RedemptionStatus,
    RewardKind,
    Voucher,
    VoucherStatus,
)
from rewards.selectors import (
    REDEEM_TOKEN_MAX_AGE,
    CauseTotal,
    donation_totals,
    redemption_token_get,
)
from rewards.services import (
    redemption_cancel,
    redemption_confirm,
    redemption_create,
    reward_archive,
    voucher_use,
)
from tests.factories import MemberFactory, StoreFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def balance(member) -> int:
    return PointsAccount.objects.get(member=member).balance


def test_redeeming_debits_points_takes_stock_and_issues_one_voucher_per_unit(rich_shopper):
    reward = make_reward(stock=10, voucher_valid_days=30)
    now = timezone.now()

    redemption = redemption_create(
        member=rich_shopper, reward=reward, quantity=2, actor=SYSTEM, now=now
    )

    assert redemption.points == 1000 and redemption.status == RedemptionStatus.COMPLETED
    assert balance(rich_shopper) == 1000
    reward.refresh_from_db()
    assert reward.stock == 8
    vouchers = list(redemption.vouchers.all())
    assert len(vouchers) == 2 and len({v.code for v in vouchers}) == 2
    for voucher in vouchers:
        assert voucher.status == VoucherStatus.ISSUED and voucher.member == rich_shopper
        assert voucher.value == Decimal("10.00") and voucher.expires_at == now + timedelta(days=30)
    entry = PointsEntry.objects.get(member=rich_shopper, kind="redeem")
    assert (entry.points, entry.source_type, entry.source_id) == (
        -1000,
        "redemption",
        str(redemption.pk),
    )
    assert ledger_problems() == []


def test_a_limit_of_one_refuses_the_second_redemption(rich_shopper):
    reward = make_reward(per_member_limit=1)
    redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)

    with pytest.raises(LimitReached):
        redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)
    assert balance(rich_shopper) == 1500


def test_a_cancelled_redemption_no_longer_counts_towards_the_limit(rich_shopper):
    reward = make_reward(per_member_limit=1)
    first = redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)
    redemption_cancel(redemption=first, actor=SYSTEM)

    second = redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)
    assert second.status == RedemptionStatus.COMPLETED


def test_a_quantity_above_the_limit_is_refused(rich_shopper):
    reward = make_reward(per_member_limit=2, points_cost=100)
    with pytest.raises(LimitReached):
        redemption_create(member=rich_shopper, reward=reward, quantity=3, actor=SYSTEM)


@pytest.mark.parametrize(
    "window",
    [
        {"available_from": timedelta(days=1)},
        {"available_until": timedelta(seconds=0)},
        {"available_from": timedelta(days=-10), "available_until": timedelta(days=-1)},
    ],
)
def test_outside_its_window_a_reward_is_unavailable(rich_shopper, window):
    now = timezone.now()
    reward = make_reward(**{name: now + delta for name, delta in window.items()})
    with pytest.raises(RewardUnavailable):
        redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM, now=now)
    assert balance(rich_shopper) == 2000


def test_a_reward_for_other_tiers_is_unavailable_and_for_the_members_tier_is_not(
    rich_shopper, tiers
):
    gold_only = make_reward(tiers=[tiers["gold"]])
    with pytest.raises(RewardUnavailable):
        redemption_create(member=rich_shopper, reward=gold_only, actor=SYSTEM)

    bronze_and_gold = make_reward(tiers=[tiers["bronze"], tiers["gold"]])
    assert redemption_create(member=rich_shopper, reward=bronze_and_gold, actor=SYSTEM)


def test_an_inactive_or_archived_reward_is_unavailable(rich_shopper):
    inactive = make_reward(active=False)
    archived = reward_archive(actor=SYSTEM, reward=make_reward())
    for reward in (inactive, archived):
        with pytest.raises(RewardUnavailable):
            redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)


def test_insufficient_points_change_nothing(shopper):
    fund(shopper, 400)
    reward = make_reward(stock=3, points_cost=500)

    with pytest.raises(InsufficientPoints):
        redemption_create(member=shopper, reward=reward, actor=SYSTEM)

    reward.refresh_from_db()
    assert reward.stock == 3
    assert balance(shopper) == 400
    assert not Redemption.objects.exists() and not Voucher.objects.exists()
    assert not PointsEntry.objects.filter(kind="redeem").exists()


def test_asking_for_more_than_the_stock_is_out_of_stock_and_changes_nothing(rich_shopper):
    reward = make_reward(stock=1, points_cost=100)
    with pytest.raises(OutOfStock):
        redemption_create(member=rich_shopper, reward=reward, quantity=2, actor=SYSTEM)
    reward.refresh_from_db()
    assert reward.stock == 1 and balance(rich_shopper) == 2000

    redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)
    with pytest.raises(OutOfStock):
        redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)


def test_a_blocked_member_cannot_redeem(rich_shopper):
    member_update(actor=SYSTEM, member=rich_shopper, status=MemberStatus.BLOCKED)
    with pytest.raises(MemberInactive):
        redemption_create(member=rich_shopper, reward=make_reward(), actor=SYSTEM)


def test_a_quantity_of_zero_is_invalid(rich_shopper):
    with pytest.raises(ValidationFailed):
        redemption_create(member=rich_shopper, reward=make_reward(), quantity=0, actor=SYSTEM)


def test_a_gift_card_reward_issues_a_card_of_its_value_to_the_member(rich_shopper):
    reward = make_reward(kind=RewardKind.GIFT_CARD, value=Decimal("25.00"), points_cost=800)
    redemption = redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)

    card = redemption.gift_cards.get()
    assert card.member == rich_shopper and card.balance == Decimal("25.00")
    assert card.entries.get().kind == "issue"
    assert not redemption.vouchers.exists()


def test_donations_issue_nothing_and_are_tallied_per_cause(rich_shopper):
    flood = make_reward(kind=RewardKind.DONATION, value=None, cause="Flood relief", points_cost=100)
    school = make_reward(kind=RewardKind.DONATION, value=None, cause="School meals", points_cost=50)
    redemption_create(member=rich_shopper, reward=flood, quantity=3, actor=SYSTEM)
    cancelled = redemption_create(member=rich_shopper, reward=school, actor=SYSTEM)
    redemption_create(member=rich_shopper, reward=school, quantity=2, actor=SYSTEM)
    redemption_cancel(redemption=cancelled, actor=SYSTEM)

    assert not Voucher.objects.exists()
    assert donation_totals() == [
        CauseTotal(cause="Flood relief", points=300, donors=1),
        CauseTotal(cause="School meals", points=100, donors=1),
    ]


def test_cancelling_refunds_the_points_restocks_and_cancels_the_vouchers(rich_shopper):
    reward = make_reward(stock=5)
    redemption = redemption_create(member=rich_shopper, reward=reward, quantity=2, actor=SYSTEM)

    redemption_cancel(redemption=redemption, actor=SYSTEM, reason="Changed mind")

    redemption.refresh_from_db()
    reward.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED
    assert redemption.cancel_reason == "Changed mind"
    assert reward.stock == 5 and balance(rich_shopper) == 2000
    assert set(redemption.vouchers.values_list("status", flat=True)) == {"cancelled"}
    refund = PointsEntry.objects.get(member=rich_shopper, kind="refund")
    assert (refund.points, refund.source_id) == (1000, str(redemption.pk))
    assert ledger_problems() == []


def test_a_redemption_with_a_used_voucher_cannot_be_cancelled(rich_shopper):
    redemption = redemption_create(
        member=rich_shopper, reward=make_reward(), quantity=2, actor=SYSTEM
    )
    voucher_use(code=redemption.vouchers.first().code, actor=SYSTEM)

    with pytest.raises(RedemptionNotCancellable):
        redemption_cancel(redemption=redemption, actor=SYSTEM)
    assert balance(rich_shopper) == 1000
    assert redemption.vouchers.filter(status="issued").count() == 1


def test_a_redemption_is_cancelled_once(rich_shopper):
    redemption = redemption_create(member=rich_shopper, reward=make_reward(), actor=SYSTEM)
    redemption_cancel(redemption=redemption, actor=SYSTEM)
    with pytest.raises(RedemptionNotCancellable):
        redemption_cancel(redemption=redemption, actor=SYSTEM)
    assert balance(rich_shopper) == 2000


def test_cancelling_a_gift_card_redemption_voids_an_untouched_card_but_not_a_charged_one(
    rich_shopper,
):
    reward = make_reward(kind=RewardKind.GIFT_CARD, value=Decimal("20.00"), points_cost=300)
    untouched = redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)
    charged = redemption_create(member=rich_shopper, reward=reward, actor=SYSTEM)
    gift_card_charge(
        code=charged.gift_cards.get().code,
        amount=Decimal("1.00"),
        reference="R1",
        store=StoreFactory(),
        actor=SYSTEM,
    )

    redemption_cancel(redemption=untouched, actor=SYSTEM)
    card = untouched.gift_cards.get()
    assert card.status == GiftCardStatus.VOID and card.balance == 0
    assert card.entries.filter(kind="void", amount=Decimal("-20.00")).exists()
    with pytest.raises(RedemptionNotCancellable):
        redemption_cancel(redemption=charged, actor=SYSTEM)
    assert balance(rich_shopper) == 1700


# --- The portal's confirmation (redemption_confirm) ------------------------------------------


def test_a_confirmation_redeems_once_and_a_second_submission_gets_the_first(rich_shopper):
    reward = make_reward(points_cost=300)
    token = redemption_token_get(member=rich_shopper, reward=reward)

    first = redemption_confirm(member=rich_shopper, reward=reward, token=token, actor=SYSTEM)
    second = redemption_confirm(member=rich_shopper, reward=reward, token=token, actor=SYSTEM)

    assert not first.replayed and second.replayed
    assert second.redemption.pk == first.redemption.pk
    assert Redemption.objects.filter(member=rich_shopper).count() == 1
    assert balance(rich_shopper) == 1700
    assert ledger_problems() == []


def test_a_confirmation_spent_by_another_reward_is_stale_and_redeems_nothing(rich_shopper):
    reward, other = make_reward(points_cost=300), make_reward(points_cost=500)
    token = redemption_token_get(member=rich_shopper, reward=reward)
    redemption_create(member=rich_shopper, reward=other, actor=SYSTEM)

    with pytest.raises(RedeemConfirmationStale):
        redemption_confirm(member=rich_shopper, reward=reward, token=token, actor=SYSTEM)

    assert not Redemption.objects.filter(reward=reward).exists()
    assert balance(rich_shopper) == 1500
    fresh = redemption_token_get(member=rich_shopper, reward=reward)
    assert not redemption_confirm(
        member=rich_shopper, reward=reward, token=fresh, actor=SYSTEM
    ).replayed


def test_a_forged_foreign_or_old_confirmation_has_expired_and_redeems_nothing(
    rich_shopper, monkeypatch
):
    reward, other_reward = make_reward(points_cost=300), make_reward(points_cost=300)
    other_member = MemberFactory(user=None, email="other@example.com")
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - REDEEM_TOKEN_MAX_AGE - 1)
    old = redemption_token_get(member=rich_shopper, reward=reward)
    monkeypatch.undo()
    tokens = [
        "",
        "forged",
        old,
        redemption_token_get(member=other_member, reward=reward),
        redemption_token_get(member=rich_shopper, reward=other_reward),
    ]

    for token in tokens:
        with pytest.raises(RedeemConfirmationExpired):
            redemption_confirm(member=rich_shopper, reward=reward, token=token, actor=SYSTEM)

    assert not Redemption.objects.exists()
    assert balance(rich_shopper) == 2000


def test_a_confirmation_the_member_cannot_afford_raises_and_leaves_the_token_unspent(shopper):
    fund(shopper, 200)
    reward = make_reward(points_cost=300)
    token = redemption_token_get(member=shopper, reward=reward)

    with pytest.raises(InsufficientPoints):
        redemption_confirm(member=shopper, reward=reward, token=token, actor=SYSTEM)
    fund(shopper, 100)

    assert not redemption_confirm(member=shopper, reward=reward, token=token, actor=SYSTEM).replayed
    assert balance(shopper) == 0
