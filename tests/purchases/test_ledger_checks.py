"""ledger_check sees the return defects of issue 8: each bad state is built as
the old code left it, and the check names the member and the sale."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from loyalty.actors import Actor
from members import ledger
from members.checks import ledger_problems
from members.ledger import Source
from members.models import EntryKind, MemberActivity, PointsAccount
from purchases.models import Purchase, Return
from purchases.returns import purchase_return
from tests.purchases.test_returns import NOW, account, buy, gift_box, tea

pytestmark = pytest.mark.django_db


def old_return(purchase: Purchase, reference: str, amount: str, *, reversed_: int) -> Return:
    """A return as the old code wrote it: its row, and `reversed_` points taken
    from the member's balance, oldest lots first, whatever their sale."""
    record = Return.objects.create(
        purchase=purchase,
        reference=reference,
        amount=Decimal(amount),
        eligible_amount=Decimal("0.00"),
        points_reversed=reversed_,
        fingerprint=reference,
    )
    if reversed_:
        ledger.points_debit(
            member_id=purchase.member_id,
            points=reversed_,
            kind=EntryKind.REVERSE,
            now=NOW,
            source=Source("purchase", str(purchase.pk)),
        )
        PointsAccount.objects.filter(member_id=purchase.member_id).update(
            lifetime_earned=account(purchase.member).lifetime_earned - reversed_
        )
    return record


def test_a_sale_returned_in_full_that_kept_67_points_is_named(shopper):
    purchase = buy(shopper, "R1", tea("100.00"), gift_box("200.00"))
    old_return(purchase, "A", "200.00", reversed_=0)
    old_return(purchase, "B", "100.00", reversed_=33)
    problems = ledger_problems()
    assert any(
        f"{shopper.public_id}: sale {purchase.pk} (R1): returned in full but nets +67" in p
        for p in problems
    ), problems
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert "returned in full but nets +67" in err.getvalue()


def test_three_thirds_that_kept_1_point_are_named(shopper):
    purchase = buy(shopper, "R1", tea("100.00"), gift_box("200.00"))
    for reference in ("A", "B", "C"):
        old_return(purchase, reference, "100.00", reversed_=33)
    assert any("returned in full but nets +1" in p for p in ledger_problems())


def test_a_return_that_took_fresh_points_for_expired_ones_is_named(shopper):
    old = buy(shopper, "OLD", tea("100.00"), at=NOW - timedelta(days=400))
    buy(shopper, "NEW", tea("100.00"))
    old_return(old, "A", "100.00", reversed_=100)
    problems = ledger_problems()
    assert any(
        f"sale {old.pk} (OLD): its returns took back 100 points and 100 of its 100 expired" in p
        for p in problems
    ), problems


def test_a_return_counted_today_for_an_old_sale_is_named(shopper):
    sale = buy(shopper, "OLD", tea("100.00"), at=NOW - timedelta(days=300))
    record = purchase_return(
        purchase=sale, reference="A", actor=Actor.system(), now=NOW, amount=Decimal("10.00")
    )
    MemberActivity.objects.filter(source_type="return").update(occurred_at=NOW)
    problems = ledger_problems()
    assert any(
        f"return {record.record_id} counts at" in p and "not at its sale" in p for p in problems
    ), problems


def test_a_clawback_owed_that_no_return_explains_is_named(shopper):
    sale = buy(shopper, "R1", tea("100.00"))
    purchase_return(
        purchase=sale, reference="A", actor=Actor.system(), now=NOW, amount=Decimal("1")
    )
    assert ledger_problems() == []
    PointsAccount.objects.filter(member=shopper).update(clawback_owed=5)
    problems = ledger_problems()
    assert any(f"{shopper.public_id}: clawback owed 5" in p for p in problems), problems
