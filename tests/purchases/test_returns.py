"""Returns: a sale returned in full nets to exactly zero of what it earned and
was paid with, whatever the mix of items and amounts; a return takes only what
is alive of the sale's points; it counts in the sale's tier window (issue 8)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.selectors import program_settings_get
from members import ledger
from members.checks import ledger_problems
from members.ledger import Source
from members.models import EntryKind, Member, MemberActivity, PointsAccount, PointsEntry
from members.points import points_earn, points_pay
from members.selectors import member_qualifying_value
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase, Return
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def buy(
    member: Member,
    reference: str,
    *lines: LineInput,
    at: datetime | None = None,
    now: datetime = NOW,
    points_to_redeem: int = 0,
) -> Purchase:
    recorded = purchase_record(
        sale=SaleInput(
            store=program_settings_get().main_store,
            reference=reference,
            member=member,
            occurred_at=at or now,
            items=list(lines),
            points_to_redeem=points_to_redeem,
        ),
        actor=Actor.system(),
        now=now,
    )
    return Purchase.objects.get(pk=recorded.record_id)


def give_back(purchase: Purchase, reference: str, *, now: datetime = NOW, **what) -> dict:
    return purchase_return(
        purchase=purchase, reference=reference, actor=Actor.system(), now=now, **what
    ).receipt


def account(member: Member) -> PointsAccount:
    return PointsAccount.objects.get(member=member)


def tea(price: str, quantity: int = 1) -> LineInput:
    return LineInput(sku="TEA", quantity=quantity, unit_price=Decimal(price))


def gift_box(price: str, quantity: int = 1) -> LineInput:
    """A line that earns nothing (a gift box, a service charge)."""
    return LineInput(sku="BOX", quantity=quantity, unit_price=Decimal(price), earns=False)


def test_the_non_earning_item_then_the_rest_by_amount_reverses_all_100_points(shopper):
    """Issue 8: RM100 earning + RM200 not; the box back, then RM100: all 100
    points go, not 33."""
    purchase = buy(shopper, "R1", tea("100.00"), gift_box("200.00"))
    assert purchase.points_earned == 100
    first = give_back(purchase, "A", items=[ReturnItem(sku="BOX", quantity=1)])
    assert (first["amount"], first["points_reversed"]) == ("200.00", 0)
    rest = give_back(purchase, "B", amount=Decimal("100.00"))
    assert rest["points_reversed"] == 100
    assert account(shopper).balance == 0 and account(shopper).lifetime_earned == 0
    assert ledger_problems() == []


def test_three_returns_of_a_third_by_amount_leave_no_point_behind(shopper):
    """Issue 8: three RM100 returns of that RM300 sale kept 1 point."""
    purchase = buy(shopper, "R1", tea("100.00"), gift_box("200.00"))
    reversed_ = [
        give_back(purchase, ref, amount=Decimal("100.00"))["points_reversed"]
        for ref in ("A", "B", "C")
    ]
    assert reversed_ == [33, 33, 34]
    assert account(shopper).balance == 0
    assert sum(r.eligible_amount for r in Return.objects.all()) == Decimal("100.00")
    assert ledger_problems() == []


def test_a_part_return_by_amount_takes_its_share_of_what_is_left_and_no_more(shopper):
    purchase = buy(shopper, "R1", tea("100.00"), gift_box("200.00"))
    give_back(purchase, "A", items=[ReturnItem(sku="BOX", quantity=1)])
    # What is left (RM100) is all tea: half of it back is half the points.
    half = give_back(purchase, "B", amount=Decimal("50.00"))
    assert half["points_reversed"] == 50 and account(shopper).balance == 50


def test_items_after_an_amount_never_push_the_eligible_share_past_the_sale(shopper):
    """RM150 back by amount took RM50 of the tea's RM100; the tea itself then
    brings the eligible share to RM100, not RM150, and the rest is the box's."""
    purchase = buy(shopper, "R1", tea("100.00"), gift_box("200.00"))
    assert give_back(purchase, "A", amount=Decimal("150.00"))["points_reversed"] == 50
    assert (
        give_back(purchase, "B", items=[ReturnItem(sku="TEA", quantity=1)])["points_reversed"] == 50
    )
    last = give_back(purchase, "C", amount=Decimal("50.00"))
    assert last["points_reversed"] == 0
    assert sum(r.eligible_amount for r in Return.objects.all()) == Decimal("100.00")
    assert account(shopper).balance == 0 and ledger_problems() == []


def test_the_tier_bonus_nets_to_zero_too(shopper, tiers):
    shopper.tier = tiers["silver"]
    shopper.save()
    purchase = buy(shopper, "R1", tea("33.33", quantity=3), gift_box("10.00"))
    assert purchase.points_earned == 99 + 49
    for n in range(3):
        give_back(purchase, f"T{n}", items=[ReturnItem(sku="TEA", quantity=1)])
    give_back(purchase, "BOX", amount=Decimal("10.00"))
    assert account(shopper).balance == 0
    earned = PointsEntry.objects.filter(kind__in=["earn", "bonus"]).count()
    assert earned == 2 and ledger_problems() == []


def test_points_paid_come_back_in_full_over_uneven_parts(shopper):
    points_earn(
        member=shopper,
        points=1000,
        kind=EntryKind.BONUS,
        description="Opening",
        source=Source("test", "opening"),
        occurred_at=NOW,
        now=NOW,
        program=program_settings_get(),
    )
    purchase = buy(shopper, "R1", tea("10.00", quantity=3), points_to_redeem=7)
    refunded = [
        give_back(purchase, ref, amount=Decimal(amount))["points_refunded"]
        for ref, amount in (("A", "9.99"), ("B", "9.99"), ("C", "10.02"))
    ]
    assert sum(refunded) == 7 and refunded == [2, 2, 3]
    assert account(shopper).balance == 1000
    assert account(shopper).redeemed == 0 and ledger_problems() == []


def test_returning_a_sale_whose_points_expired_takes_nothing_from_fresh_points(shopper):
    """Issue 8: a sale backdated 400 days (expiry 365) earned 100 that expired
    at once; its return took 100 points that came from elsewhere."""
    old = buy(shopper, "OLD", tea("100.00"), at=NOW - timedelta(days=400))
    buy(shopper, "NEW", tea("100.00"))
    assert account(shopper).balance == 100
    receipt = give_back(old, "A", amount=Decimal("100.00"))
    assert account(shopper).balance == 100 and account(shopper).expired == 100
    assert (receipt["points_reversed"], receipt["clawback"], receipt["points_expired"]) == (
        0,
        0,
        100,
    )
    assert ledger_problems() == []


def test_a_return_takes_the_sales_own_points_not_older_ones(shopper):
    older = buy(shopper, "OLDER", tea("100.00"), at=NOW - timedelta(days=100))
    sale = buy(shopper, "SALE", tea("100.00"))
    give_back(sale, "A", amount=Decimal("100.00"))
    kept = PointsEntry.objects.get(kind="earn", source_id=str(older.pk))
    gone = PointsEntry.objects.get(kind="earn", source_id=str(sale.pk))
    assert (kept.remaining, gone.remaining) == (100, 0)


def test_spent_points_come_off_the_balance_and_expired_ones_stay_expired(shopper):
    later = NOW + timedelta(days=400)
    sale = buy(shopper, "SALE", tea("100.00"))
    points_pay(
        member=shopper, points=30, description="Reward", source=Source("reward", "1"), now=NOW
    )
    # The 70 left of the sale's lot expire; a new sale brings 50 fresh points.
    ledger.points_expire_due(as_of=later)
    buy(shopper, "FRESH", tea("50.00"), now=later)
    assert account(shopper).balance == 50 and account(shopper).expired == 70
    half = give_back(sale, "A", amount=Decimal("50.00"), now=later)
    # Half the sale is 50 points: 50 of the 70 that expired, nothing taken.
    assert (half["points_reversed"], half["points_expired"]) == (0, 50)
    rest = give_back(sale, "B", amount=Decimal("50.00"), now=later)
    # The other 20 expired too; the 30 spent come off the balance.
    assert (rest["points_reversed"], rest["points_expired"], rest["clawback"]) == (30, 20, 0)
    assert account(shopper).balance == 20 and ledger_problems() == []


def test_spent_points_past_the_balance_are_a_clawback_owed(shopper):
    sale = buy(shopper, "SALE", tea("100.00"))
    points_pay(
        member=shopper, points=80, description="Reward", source=Source("reward", "1"), now=NOW
    )
    receipt = give_back(sale, "A", items=[ReturnItem(sku="TEA", quantity=1)])
    assert (receipt["points_reversed"], receipt["clawback"]) == (20, 80)
    assert account(shopper).clawback_owed == 80 and ledger_problems() == []


def test_a_return_counts_in_the_tier_window_of_the_sale_it_returns(shopper):
    """Issue 8: a year-old sale returned today lowered the qualifying value for
    another year."""
    program = program_settings_get()
    sale = buy(shopper, "OLD", tea("500.00"), at=NOW - timedelta(days=300))
    give_back(sale, "A", amount=Decimal("500.00"))
    activity = MemberActivity.objects.get(source_type="return")
    assert activity.occurred_at == sale.occurred_at
    # 100 days on, the sale and its return have both left the 365-day window.
    later = NOW + timedelta(days=100)
    assert member_qualifying_value(member_id=shopper.pk, now=later, program=program) == 0
