"""ledger_check holds every gift card's balance against its own entries."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.actors import Actor
from members.checks import ledger_problems
from rewards.gift_cards import gift_card_charge, gift_card_issue, gift_card_refund
from rewards.models import GiftCard, GiftCardEntry
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def card() -> GiftCard:
    card = gift_card_issue(actor=Actor.system(), amount=Decimal("100.10"))
    store = StoreFactory()
    for reference, amount in (("R1", "33.37"), ("R2", "0.01")):
        gift_card_charge(
            code=card.code,
            amount=Decimal(amount),
            reference=reference,
            store=store,
            actor=Actor.system(),
        )
    gift_card_refund(
        code=card.code, amount=Decimal("10.00"), reference="R1", store=store, actor=Actor.system()
    )
    assert ledger_problems() == []
    return card


def test_a_card_whose_balance_its_entries_do_not_add_up_to_is_named(card):
    GiftCard.objects.filter(pk=card.pk).update(balance=Decimal("99.00"))
    assert ledger_problems() == [f"gift card {card.pk}: balance 99.00, its entries add up to 76.72"]


def test_an_entry_whose_balance_after_is_not_the_running_total_is_named(card):
    charge = GiftCardEntry.objects.get(gift_card=card, reference="R2")
    GiftCardEntry.objects.filter(pk=charge.pk).update(balance_after=Decimal("66.00"))
    assert ledger_problems() == [
        f"gift card {card.pk}: entry {charge.pk} says balance 66.00 after it, "
        "its entries add up to 66.72"
    ]
