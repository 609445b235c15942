"""Real threads against PostgreSQL: sales of one member paying with one card,
whatever they contain, wait for each other instead of deadlocking."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.models import PointsAccount
from purchases.inputs import GiftCardInput, LineInput, SaleInput
from purchases.models import Purchase, PurchaseGiftCard
from purchases.services import purchase_record
from rewards.gift_cards import gift_card_issue
from rewards.models import GiftCard
from tests.factories import MemberFactory, StoreFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_16_earning_and_non_earning_sales_of_one_member_and_one_card_all_go_through():
    """Half the sales earn (they lock the points account to credit it), half
    earn nothing: all take the account, then the card, so none deadlocks."""
    store = StoreFactory(code="klcc")
    program_settings_update(
        actor=Actor.system(),
        earn_points=1,
        earn_per_amount=Decimal("1.00"),
        pending_days=0,
        expiry_days=365,
        main_store=store,
    )
    member = MemberFactory(user=None, email="race@example.com")
    card = gift_card_issue(actor=Actor.system(), amount=Decimal("100.00"))
    now = timezone.now()

    def sell(i: int) -> object:
        return purchase_record(
            sale=SaleInput(
                store=store,
                reference=f"R{i}",
                member=member,
                occurred_at=now,
                items=[LineInput("TEA", 1, Decimal("10.00"), earns=i % 2 == 0)],
                gift_cards=(GiftCardInput(card.code, Decimal("2.50")),),
            ),
            actor=Actor.system(),
        )

    results = run_at_once(16, sell)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("60.00")
    assert PurchaseGiftCard.objects.count() == Purchase.objects.count() == 16
    assert PointsAccount.objects.get(member=member).balance == 8 * 10
    assert ledger_problems() == []
