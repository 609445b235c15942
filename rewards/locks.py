"""The one place that locks rewards rows (PostgreSQL; SQLite serialises write
transactions on its own), and where the global lock order is written down.

The lock order, for every flow of every app (DESIGN.md §4):

1. the purchase row: a sale's own (claimed by inserting it, so a replay waits
   there holding nothing else) or the one a return gives back
   (`purchases.locks`);
2. a redemption (cancelling it);
3. the member's points account (`members.locks`; the ledger takes it anyway),
   and after it the member row itself (a tier change);
4. vouchers, by primary key;
5. the reward (its stock);
6. a sale's gift-card charges (`PurchaseGiftCard`, a return's refunds,
   `purchases.locks`);
7. gift cards, by primary key;
8. a referral row (campaigns.Referral: a sale or a return of the friend, after
   its cards; the settling takes both members' accounts, in id order, first);
9. campaign budget rows, by primary key (campaigns.locks).

A flow takes what it needs in this order and never goes back up: a sale locks
its account, vouchers and cards at once before checking anything
(`purchases.locks.sale_lock`); a redemption locks the account then takes the
stock; its cancel locks the redemption, the account, the vouchers, the
reward's stock, then the cards; a till using a voucher or charging a card
locks only that row; a return locks the purchase, the account, the charges
and the cards; the points and tier jobs lock one account per transaction.
Two flows that follow the order cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable

from members.locks import account_lock
from members.models import PointsAccount
from rewards.models import GiftCard, Redemption, Reward, Voucher


def member_points_lock(*, member_id: int) -> PointsAccount:
    """The member's points account, locked: the row every debit of the member
    locks, so checking a per-member limit and paying for it are one step."""
    return account_lock(member_id=member_id)


def reward_lock(*, reward_id: int) -> Reward:
    return Reward.objects.select_for_update().get(pk=reward_id)


def redemption_lock(*, redemption_id: int) -> Redemption:
    return Redemption.objects.select_for_update().get(pk=redemption_id)


def vouchers_lock(*, codes: Iterable[str]) -> dict[str, Voucher]:
    """The vouchers of `codes` (normalised), locked in id order, by code.
    Codes that match no voucher are absent."""
    rows = Voucher.objects.select_for_update().filter(code__in=list(codes)).order_by("pk")
    return {voucher.code: voucher for voucher in rows}


def vouchers_lock_of_redemption(*, redemption_id: int) -> list[Voucher]:
    return list(
        Voucher.objects.select_for_update().filter(redemption_id=redemption_id).order_by("pk")
    )


def gift_card_lock(*, gift_card_id: int) -> GiftCard:
    return GiftCard.objects.select_for_update().get(pk=gift_card_id)


def gift_cards_lock(*, codes: Iterable[str]) -> dict[str, GiftCard]:
    """The gift cards of `codes` (normalised), locked in id order, by code."""
    rows = GiftCard.objects.select_for_update().filter(code__in=list(codes)).order_by("pk")
    return {card.code: card for card in rows}


def gift_cards_lock_by_id(*, ids: Iterable[int]) -> list[GiftCard]:
    return list(GiftCard.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk"))
