"""A member's redemptions, vouchers and gift cards in their data document
(members.privacy)."""

from __future__ import annotations

from typing import Any

from members.models import Member
from members.privacy import rows
from rewards.models import GiftCard, Redemption, Voucher


def member_rewards_export(member: Member) -> dict[str, Any]:
    return {
        "redemptions": rows(
            Redemption.objects.filter(member=member).order_by("created_at", "id"),
            "created_at",
            "reward__name",
            "quantity",
            "points",
            "status",
            "cancelled_at",
        ),
        "vouchers": rows(
            Voucher.objects.filter(member=member).order_by("issued_at", "id"),
            "code",
            "reward__name",
            "kind",
            "value",
            "status",
            "issued_at",
            "expires_at",
            "used_at",
        ),
        "gift_cards": rows(
            GiftCard.objects.filter(member=member).order_by("id"),
            "code",
            "initial_amount",
            "balance",
            "status",
        ),
    }
