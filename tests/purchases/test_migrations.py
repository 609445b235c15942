"""Data migrations of purchases: sales recorded before PurchaseGiftCard keep
their gift-card refunds."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from loyalty.actors import Actor
from purchases.models import Purchase, PurchaseGiftCard
from rewards.gift_cards import gift_card_issue
from rewards.models import GiftCardEntry
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db
backfill = importlib.import_module(
    "purchases.migrations.0003_backfill_purchase_gift_cards"
).backfill


def test_an_older_sale_paid_with_a_gift_card_gets_its_row_and_its_charge_a_store(pos_api, shopper):
    card = gift_card_issue(actor=Actor.system(), amount=Decimal("100.00"))
    body = sale("R1", ("SHOE", 2, "50.00"), gift_cards=[{"code": card.code, "amount": "60.00"}])
    bought = pos_api.post("/api/v1/purchases", body, format="json").json()
    url = f"/api/v1/purchases/{bought['id']}/returns"
    pos_api.post(url, {"reference": "RET1", "amount": "50.00"}, format="json")
    # As the sale was stored before: no row, a charge without its store.
    PurchaseGiftCard.objects.all().delete()
    GiftCardEntry.objects.filter(kind="charge").update(store=None)
    standalone = pos_api.post(
        f"/api/v1/gift-cards/{card.code}/charges",
        {"amount": "1.00", "reference": "X1"},
        format="json",
    )
    assert standalone.status_code == 201
    GiftCardEntry.objects.filter(reference="X1").update(store=None)

    backfill(apps, None)

    purchase = Purchase.objects.get(pk=bought["id"])
    row = purchase.gift_card_charges.get()
    assert (row.gift_card_id, row.amount, row.refunded) == (
        card.pk,
        Decimal("60.00"),
        Decimal("30.00"),
    )
    assert row.charge.store == purchase.store
    assert GiftCardEntry.objects.get(reference="X1").store == purchase.store  # the main store
    rest = pos_api.post(url, {"reference": "RET2", "amount": "50.00"}, format="json").json()
    assert rest["gift_cards_refunded"] == [
        {"code": card.code, "amount": "30.00", "balance": "99.00"}
    ]
    backfill(apps, None)
    assert PurchaseGiftCard.objects.count() == 1
