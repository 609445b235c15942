"""Reads of the rewards catalogue, redemptions, vouchers and gift cards."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum

from rewards.errors import GiftCardNotFound, RedemptionNotFound, RewardNotFound, VoucherNotFound
from rewards.models import (
    GiftCard,
    GiftCardStatus,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
    Voucher,
    VoucherStatus,
)
from rewards.voucher_codes import normalise_code


def reward_list(*, include_archived: bool = False) -> QuerySet[Reward]:
    """The catalogue in its display order (position, then age)."""
    rewards = Reward.objects.select_related("category").prefetch_related("tiers")
    return rewards if include_archived else rewards.filter(archived_at__isnull=True)


def reward_list_available(*, now: datetime) -> QuerySet[Reward]:
    """Rewards offered at `now` (active, in their window, with stock), before
    the audience: whether a member's tier may redeem it is checked on redeeming."""
    return (
        reward_list()
        .filter(active=True)
        .filter(Q(available_from__isnull=True) | Q(available_from__lte=now))
        .filter(Q(available_until__isnull=True) | Q(available_until__gt=now))
        .exclude(stock=0)
    )


def reward_get(*, reward_id: int) -> Reward:
    """Raises RewardNotFound."""
    reward = reward_list(include_archived=True).filter(pk=reward_id).first()
    if reward is None:
        raise RewardNotFound()
    return reward


def redemption_get(*, redemption_id: int) -> Redemption:
    """Raises RedemptionNotFound."""
    redemption = (
        Redemption.objects.select_related("reward", "member").filter(pk=redemption_id).first()
    )
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


def voucher_get(*, code: str) -> Voucher:
    """The voucher of a typed code (any case, dashes optional). Raises VoucherNotFound."""
    normalised = normalise_code(code)
    voucher = (
        Voucher.objects.select_related("reward", "member").filter(code=normalised).first()
        if normalised
        else None
    )
    if voucher is None:
        raise VoucherNotFound()
    return voucher


def voucher_status(*, voucher: Voucher, now: datetime) -> str:
    """The status a till should see: an issued voucher past its expiry is
    `expired` even before the nightly job has marked it."""
    if voucher.status == VoucherStatus.ISSUED and not voucher.is_usable(now):
        return VoucherStatus.EXPIRED
    return voucher.status


def gift_card_get(*, code: str) -> GiftCard:
    """The gift card of a typed code. Raises GiftCardNotFound."""
    normalised = normalise_code(code)
    card = (
        GiftCard.objects.select_related("member", "design").filter(code=normalised).first()
        if normalised
        else None
    )
    if card is None:
        raise GiftCardNotFound()
    return card


def gift_card_status(*, card: GiftCard, now: datetime) -> str:
    """The status a till should see: an active card past its expiry is
    `expired` (the model keeps `active`: nothing marks cards expired)."""
    if card.status == GiftCardStatus.ACTIVE and not card.is_usable(now):
        return "expired"
    return card.status


def codes_unknown_count(*, voucher_codes: Collection[str], gift_card_codes: Collection[str]) -> int:
    """How many of the (normalised) codes match no voucher, and no gift card."""
    known_vouchers = Voucher.objects.filter(code__in=list(voucher_codes)).count()
    known_cards = GiftCard.objects.filter(code__in=list(gift_card_codes)).count()
    return len(voucher_codes) - known_vouchers + len(gift_card_codes) - known_cards


@dataclass(frozen=True)
class CauseTotal:
    cause: str
    points: int
    donors: int


def donation_totals() -> list[CauseTotal]:
    """Points given to each cause by redemptions not cancelled, and by how
    many members, in the causes' alphabetical order."""
    rows = (
        Redemption.objects.filter(
            reward__kind=RewardKind.DONATION, status=RedemptionStatus.COMPLETED
        )
        .values("cause")
        .annotate(points=Sum("points"), donors=Count("member", distinct=True))
        .order_by("cause")
    )
    return [CauseTotal(row["cause"], row["points"], row["donors"]) for row in rows]
