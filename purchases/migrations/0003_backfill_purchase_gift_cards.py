"""Give the sales recorded before PurchaseGiftCard existed their rows, and the
charges made without a store their store, so returns find every card by key
and the (card, store, reference) index covers every charge.

Before, a charge was unique per (card, reference), so giving a NULL store its
store cannot clash. The stored receipts are read here once, for the last time.
"""

import json
from decimal import Decimal

from django.db import migrations
from django.db.models import Sum


def backfill(apps, schema_editor):
    Purchase = apps.get_model("purchases", "Purchase")
    PurchaseGiftCard = apps.get_model("purchases", "PurchaseGiftCard")
    GiftCardEntry = apps.get_model("rewards", "GiftCardEntry")
    ProgramSettings = apps.get_model("loyalty", "ProgramSettings")
    linked = set(PurchaseGiftCard.objects.values_list("charge_id", flat=True))
    purchases = Purchase.objects.filter(response__contains='"gift_cards": [{').only(
        "pk", "store_id", "reference", "response"
    )
    for purchase in purchases.iterator(chunk_size=500):
        for charged in json.loads(purchase.response or "{}").get("gift_cards") or []:
            charge = GiftCardEntry.objects.filter(
                gift_card__code=charged["code"], kind="charge", reference=purchase.reference
            ).first()
            if charge is None or charge.pk in linked:
                continue
            if charge.store_id is None:
                charge.store_id = purchase.store_id
                charge.save(update_fields=["store"])
            refunded = GiftCardEntry.objects.filter(
                gift_card_id=charge.gift_card_id, kind="refund", reference=purchase.reference
            ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
            PurchaseGiftCard.objects.create(
                purchase_id=purchase.pk,
                gift_card_id=charge.gift_card_id,
                charge_id=charge.pk,
                amount=-charge.amount,
                refunded=min(refunded, -charge.amount),
            )
            linked.add(charge.pk)
    main_store_id = (
        ProgramSettings.objects.values_list("main_store_id", flat=True).first()
    )
    if main_store_id is not None:
        GiftCardEntry.objects.filter(kind="charge", store__isnull=True).update(
            store_id=main_store_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("purchases", "0002_gift_card_charges_per_store"),
        ("rewards", "0002_gift_card_charges_per_store"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
