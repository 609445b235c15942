"""The locks of the sale flow, taken through the apps' own locks modules in
the global order of rewards.locks (PostgreSQL; SQLite serialises write
transactions on its own).

A sale locks everything it will touch at once, before it checks anything:
whatever the sale contains (points earned or not, paid with points, vouchers,
gift cards), the order is the same, so two sales of one member paying with
one card wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from members.locks import account_lock
from members.models import PointsAccount
from purchases.models import PurchaseGiftCard
from rewards import locks as reward_locks
from rewards.models import GiftCard, Voucher


@dataclass(frozen=True)
class SaleRows:
    """The rows a sale works on: its member's points account, its vouchers and
    its gift cards by (normalised) code. A code that matches nothing is absent."""

    account: PointsAccount | None = None
    vouchers: dict[str, Voucher] = field(default_factory=dict)
    gift_cards: dict[str, GiftCard] = field(default_factory=dict)


def sale_lock(
    *, member_id: int | None, voucher_codes: Iterable[str], gift_card_codes: Iterable[str]
) -> SaleRows:
    """Lock a sale's rows, each kind by primary key: the member's points
    account (even when the sale moves no points: its tier review and activity
    are written under it), then the vouchers, then the gift cards."""
    voucher_codes, gift_card_codes = list(voucher_codes), list(gift_card_codes)
    return SaleRows(
        account=account_lock(member_id=member_id) if member_id is not None else None,
        vouchers=reward_locks.vouchers_lock(codes=voucher_codes) if voucher_codes else {},
        gift_cards=reward_locks.gift_cards_lock(codes=gift_card_codes) if gift_card_codes else {},
    )


def purchase_gift_cards_lock(*, purchase_id: int) -> list[PurchaseGiftCard]:
    """The gift-card charges of a sale, locked in id order (a return refunds
    them); lock their cards after these (rewards.locks.gift_cards_lock_by_id)."""
    return list(
        PurchaseGiftCard.objects.select_for_update().filter(purchase_id=purchase_id).order_by("pk")
    )
