"""A member's purchases and returns in their data document (members.privacy)."""

from __future__ import annotations

from typing import Any

from members.models import Member
from members.privacy import rows
from purchases.models import Purchase, PurchaseLine, Return


def member_purchases_export(member: Member) -> list[dict[str, Any]]:
    purchases = rows(
        Purchase.objects.filter(member=member).order_by("occurred_at", "id"),
        "id",
        "store__code",
        "reference",
        "occurred_at",
        "subtotal",
        "discount_total",
        "total",
        "points_earned",
        "points_redeemed",
    )
    ids = [p["id"] for p in purchases]
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in rows(
        PurchaseLine.objects.filter(purchase_id__in=ids).order_by("id"),
        "purchase_id",
        "sku",
        "name",
        "category",
        "quantity",
        "unit_price",
        "returned_quantity",
    ):
        lines.setdefault(line.pop("purchase_id"), []).append(line)
    returns: dict[int, list[dict[str, Any]]] = {}
    for back in rows(
        Return.objects.filter(purchase_id__in=ids).order_by("created_at", "id"),
        "purchase_id",
        "reference",
        "created_at",
        "amount",
        "points_reversed",
        "points_refunded",
    ):
        returns.setdefault(back.pop("purchase_id"), []).append(back)
    for purchase in purchases:
        pk = purchase.pop("id")
        purchase["store"] = purchase.pop("store__code")
        purchase["lines"] = lines.get(pk, [])
        purchase["returns"] = returns.get(pk, [])
    return purchases
