"""Reads of the rewards catalogue, redemptions, vouchers and gift cards, and
of a member's standing on each reward."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core import signing
from django.db.models import Count, Q, QuerySet, Sum
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.exports import EXPORT_CHUNK, export_time
from loyalty.models import Store
from loyalty.money import money_format
from members.models import Member
from members.segments import member_in_segments
from rewards.errors import (
    GiftCardNotFound,
    LimitReached,
    OutOfStock,
    RedeemConfirmationExpired,
    RedemptionNotFound,
    RewardNotFound,
    VoucherNotFound,
)
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


# --- A member's standing on rewards -----------------------------------------------------------

# A confirmation left open longer than this is shown again with today's numbers.
REDEEM_TOKEN_MAX_AGE = 60 * 60
REDEEM_SIGNING_NAMESPACE = "rewards.portal.redeem"


def reward_unavailable_reason(
    *,
    reward: Reward,
    member: Member,
    now: datetime,
    member_segments: Collection[int] | None = None,
) -> str | None:
    """Why `member` cannot redeem `reward` at `now` (inactive, archived, out of
    its window, not for the member's tier or outside its segment, no stock
    left), or None. `member_segments`: the ids of the segments the member is
    in, among those of the rewards being looked at (None: found here, two
    queries for a reward with a segment)."""
    if not reward.active or reward.archived_at is not None:
        return _("This reward is no longer offered.")
    if reward.available_from is not None and now < reward.available_from:
        return _("This reward is not available yet.")
    if reward.available_until is not None and now >= reward.available_until:
        return _("This reward is no longer available.")
    tier_ids = set(reward.tiers.values_list("pk", flat=True))
    if tier_ids and member.tier_id not in tier_ids:
        return _("This reward is for members of other tiers.")
    if reward.segment_id is not None:
        if member_segments is None:
            member_segments = member_in_segments(
                member=member, segment_ids=[reward.segment_id], now=now
            )
        if reward.segment_id not in member_segments:
            return _("This reward is offered to other members.")
    if reward.stock == 0:
        return str(OutOfStock.default_message)
    return None


def reward_value_label(*, kind: str, value: Decimal | None, cause: str = "") -> str:
    """What a reward (or a voucher of it) is worth, in words a member reads at
    a glance: the sentences and amounts of the catalogue's reward card
    (templates/partials/reward_card.html)."""
    if kind == RewardKind.DISCOUNT_FIXED and value is not None:
        return _("%(value)s off") % {"value": money_format(value)}
    if kind == RewardKind.DISCOUNT_PERCENT and value is not None:
        return _("%(value)s%% off") % {"value": floatformat(value, -2)}
    if kind == RewardKind.FREE_PRODUCT:
        return _("A free product")
    if kind == RewardKind.GIFT_CARD and value is not None:
        return _("A %(value)s gift card") % {"value": money_format(value)}
    if kind == RewardKind.EXPERIENCE:
        return _("An experience")
    if kind == RewardKind.DONATION:
        return _("A donation to %(cause)s") % {"cause": cause} if cause else _("A donation")
    return str(RewardKind(kind).label)


@dataclass(frozen=True)
class RewardOffer:
    """A reward as the member sees it: what it is worth, what is left for them,
    and why they cannot redeem it now (None: they can)."""

    reward: Reward
    value_label: str
    reason: str | None
    short_by: int
    redeemed: int
    left_for_member: int | None

    @property
    def can_redeem(self) -> bool:
        return self.reason is None


def _redeemed_units(member: Member, reward_ids: list[int]) -> dict[int, int]:
    """Units of each reward the member holds from redemptions not cancelled
    (what the per-member limit counts), in one query."""
    rows = (
        Redemption.objects.filter(
            member=member, reward_id__in=reward_ids, status=RedemptionStatus.COMPLETED
        )
        .values("reward_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["reward_id"]: row["units"] for row in rows}


def reward_offers(
    *, member: Member, rewards: list[Reward], balance: int, now: datetime
) -> list[RewardOffer]:
    """Each reward with the member's standing on it: first the reasons
    redemption_create would refuse it (reward_unavailable_reason), then the
    limit, then the points, so the message is the one that matters most."""
    counts = _redeemed_units(member, [reward.pk for reward in rewards])
    segments = member_in_segments(
        member=member,
        segment_ids={reward.segment_id for reward in rewards if reward.segment_id is not None},
        now=now,
    )
    offers = []
    for reward in rewards:
        redeemed = counts.get(reward.pk, 0)
        left = (
            None if reward.per_member_limit is None else max(reward.per_member_limit - redeemed, 0)
        )
        short_by = max(reward.points_cost - balance, 0)
        reason = reward_unavailable_reason(
            reward=reward, member=member, now=now, member_segments=segments
        )
        if reason is None and left == 0:
            reason = str(LimitReached.default_message)
        if reason is None and short_by:
            reason = ngettext(
                "You need %(points)s more point.", "You need %(points)s more points.", short_by
            ) % {"points": short_by}
        offers.append(
            RewardOffer(
                reward=reward,
                value_label=reward_value_label(
                    kind=reward.kind, value=reward.value, cause=reward.cause
                ),
                reason=reason,
                short_by=short_by,
                redeemed=redeemed,
                left_for_member=left,
            )
        )
    return offers


def redemption_token_get(*, member: Member, reward: Reward) -> str:
    """A signed one-time token for the portal's confirmation of `reward`. It
    records the member's latest redemption when the page was drawn: once any
    redemption follows, the token is spent (rewards.services.redemption_confirm),
    so a second click, a resent form or a reload of the POST cannot redeem again."""
    latest = (
        Redemption.objects.filter(member=member)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    payload = {"m": member.pk, "r": reward.pk, "after": latest or 0}
    return signing.dumps(payload, salt=REDEEM_SIGNING_NAMESPACE)


def redemption_token_read(*, token: str, member: Member, reward: Reward) -> int:
    """The latest redemption `token` (redemption_token_get) recorded, if it is
    genuine, at most REDEEM_TOKEN_MAX_AGE seconds old, and for this member and
    reward. Raises RedeemConfirmationExpired."""
    try:
        payload = signing.loads(token, salt=REDEEM_SIGNING_NAMESPACE, max_age=REDEEM_TOKEN_MAX_AGE)
    except signing.BadSignature as error:
        raise RedeemConfirmationExpired() from error
    if payload.get("m") != member.pk or payload.get("r") != reward.pk:
        raise RedeemConfirmationExpired()
    return payload["after"]


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


def redemption_list(*, store: Store | None) -> QuerySet[Redemption]:
    """The back-office list of redemptions, newest first: those made at
    `store`, or every one for None."""
    redemptions = Redemption.objects.select_related("member", "reward", "store")
    if store is not None:
        redemptions = redemptions.filter(store=store)
    return redemptions.order_by("-created_at", "-id")


REDEMPTION_EXPORT_COLUMNS = (
    "redemption_id",
    "created_at",
    "member_id",
    "card_number",
    "reward_id",
    "reward",
    "quantity",
    "points",
    "cause",
    "status",
    "store",
    "cancelled_at",
    "cancel_reason",
)


def redemption_export_rows(*, redemptions: QuerySet[Redemption]) -> Iterator[list[Any]]:
    """`redemptions` (in their order) as CSV rows: a header, then one row a
    redemption, read with values_list EXPORT_CHUNK at a time. Points and
    quantities as integers, times ISO 8601 in the program's time zone."""
    yield list(REDEMPTION_EXPORT_COLUMNS)
    rows = redemptions.values_list(
        "pk",
        "created_at",
        "member__public_id",
        "member__card_number",
        "reward_id",
        "reward__name",
        "quantity",
        "points",
        "cause",
        "status",
        "store__code",
        "cancelled_at",
        "cancel_reason",
    ).iterator(chunk_size=EXPORT_CHUNK)
    for pk, created, public_id, card, reward_id, reward, *rest in rows:
        quantity, points, cause, status, store, cancelled, reason = rest
        yield [
            pk,
            export_time(created),
            public_id,
            card,
            reward_id,
            reward,
            quantity,
            points,
            cause,
            status,
            store or "",
            export_time(cancelled),
            reason,
        ]
