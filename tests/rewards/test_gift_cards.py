"""Gift cards: issuing, charging (whole, partial, once per reference), refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import Store
from rewards.errors import (
    DuplicateChargeReference,
    GiftCardInsufficientBalance,
    GiftCardNotFound,
    GiftCardNotUsable,
)
from rewards.gift_cards import gift_card_charge, gift_card_issue, gift_card_refund
from rewards.models import GiftCardEntry
from rewards.voucher_codes import normalise_code

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
D = Decimal


@pytest.fixture
def card(store):
    return gift_card_issue(actor=SYSTEM, amount=D("100.00"))


def _store(code: str = "main") -> Store:
    return Store.objects.get_or_create(code=code, defaults={"name": code})[0]


def charge(card, amount: str, reference: str, store: Store | None = None, **kwargs):
    return gift_card_charge(
        code=card.code,
        amount=D(amount),
        reference=reference,
        store=store or _store(),
        actor=SYSTEM,
        **kwargs,
    )


def entries_sum(card) -> Decimal:
    return sum(card.entries.values_list("amount", flat=True), D("0"))


def test_a_new_card_has_an_80_bit_code_and_an_issue_entry(card):
    assert normalise_code(card.code) == card.code and len(card.code.replace("-", "")) == 16
    assert card.balance == card.initial_amount == D("100.00")
    entry = card.entries.get()
    assert (entry.kind, entry.amount, entry.balance_after) == ("issue", D("100.00"), D("100.00"))


def test_charging_rm5_75_leaves_rm94_25(card):
    result = charge(card, "5.75", "R1")
    card.refresh_from_db()
    assert result.charged == D("5.75") and result.balance == card.balance == D("94.25")
    assert entries_sum(card) == card.balance


def test_an_overcharge_with_allow_partial_takes_the_whole_balance(card):
    result = charge(card, "115.00", "R1", allow_partial=True)
    card.refresh_from_db()
    assert result.charged == D("100.00") and card.balance == D("0.00")
    with pytest.raises(GiftCardInsufficientBalance):
        charge(card, "1.00", "R2", allow_partial=True)


def test_an_overcharge_without_allow_partial_is_refused_and_changes_nothing(card):
    with pytest.raises(GiftCardInsufficientBalance):
        charge(card, "100.01", "R1")
    card.refresh_from_db()
    assert card.balance == D("100.00") and card.entries.count() == 1


def test_the_same_charge_reference_twice_charges_once(card):
    first = charge(card, "30.00", "R1")
    again = charge(card, "30.00", "R1")
    card.refresh_from_db()
    assert again.replayed and again.entry == first.entry and again.charged == D("30.00")
    assert card.balance == D("70.00") and card.entries.filter(kind="charge").count() == 1

    with pytest.raises(DuplicateChargeReference):
        charge(card, "31.00", "R1")


def test_codes_are_found_in_lower_case_without_dashes(card):
    charge_result = gift_card_charge(
        code=card.code.lower().replace("-", ""),
        amount=D("1.00"),
        reference="R1",
        store=_store(),
        actor=SYSTEM,
    )
    assert charge_result.balance == D("99.00")
    with pytest.raises(GiftCardNotFound):
        charge(type("Card", (), {"code": "0000-0000-0000-0000"}), "1.00", "R2")


def test_an_expired_card_cannot_be_charged():
    now = timezone.now()
    card = gift_card_issue(actor=SYSTEM, amount=D("50.00"), expires_at=now + timedelta(days=1))
    with pytest.raises(GiftCardNotUsable):
        gift_card_charge(
            code=card.code,
            amount=D("1.00"),
            reference="R1",
            store=_store(),
            actor=SYSTEM,
            now=now + timedelta(days=2),
        )


@pytest.mark.parametrize("amount", ["0", "-1.00", "1.001"])
def test_amounts_must_be_positive_with_two_decimals(amount):
    with pytest.raises(ValidationFailed):
        gift_card_issue(actor=SYSTEM, amount=D(amount))


def test_a_refund_puts_back_at_most_what_its_charge_took(card):
    charge(card, "40.00", "R1")
    gift_card_refund(
        code=card.code, amount=D("15.00"), reference="R1", store=_store(), actor=SYSTEM
    )
    with pytest.raises(ValidationFailed):
        gift_card_refund(
            code=card.code, amount=D("25.01"), reference="R1", store=_store(), actor=SYSTEM
        )
    with pytest.raises(ValidationFailed):
        gift_card_refund(
            code=card.code, amount=D("1.00"), reference="unknown", store=_store(), actor=SYSTEM
        )
    card.refresh_from_db()
    assert card.balance == D("75.00") == entries_sum(card)
    assert GiftCardEntry.objects.filter(kind="refund").count() == 1
