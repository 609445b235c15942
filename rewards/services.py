"""Every write about rewards, redemptions and vouchers (DESIGN.md §6); gift
cards and their designs are in rewards.gift_cards.

Points move only through members.points (points_pay, points_refund), so the
ledger's invariants hold here too. Rows are locked only through
`rewards.locks`, in the global order written there: redemption, the member's
points account, vouchers, the reward, gift cards.

Staff writes (a signed-in user) are audited. The high-volume till operations
(using a voucher, charging a gift card) are audited only when a person does
them from the back-office; a till's own record of them is the voucher's and
the gift card ledger's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import Store, WebhookEventType
from loyalty.notifications import notify
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record, snapshot
from loyalty.webhooks import webhook_emit
from members.ledger import Source
from members.models import Member, Tier
from members.points import points_pay, points_refund
from members.services import member_ensure_active
from rewards import locks
from rewards.errors import (
    LimitReached,
    OutOfStock,
    RedeemConfirmationStale,
    RedemptionNotCancellable,
    RewardUnavailable,
    StockChanged,
    VoucherNotFound,
    VoucherNotUsable,
)
from rewards.gift_cards import gift_card_new, gift_card_void
from rewards.models import (
    GiftCardStatus,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardCategory,
    RewardKind,
    Voucher,
    VoucherStatus,
)
from rewards.selectors import redemption_token_read, reward_unavailable_reason
from rewards.voucher_codes import new_voucher_code, normalise_code, unique_code

REWARD_FIELDS = (
    "name",
    "description",
    "kind",
    "category",
    "image",
    "points_cost",
    "value",
    "sku",
    "cause",
    "design",
    "stock",
    "per_member_limit",
    "segment",
    "available_from",
    "available_until",
    "voucher_valid_days",
    "featured",
    "active",
    "position",
)
# Kinds whose `value` is an amount of money (or a percentage) that must be given.
VALUE_KINDS = (
    RewardKind.DISCOUNT_FIXED,
    RewardKind.DISCOUNT_PERCENT,
    RewardKind.GIFT_CARD,
)
# At most this many units in one redemption: each unit is a voucher row.
MAX_QUANTITY = 50


# --- Catalogue --------------------------------------------------------------------------------


def _reward_check(reward: Reward) -> None:
    """The model's own validation, then the rules across fields that it
    cannot see. Raises ValidationFailed."""
    try:
        reward.full_clean(exclude=["tiers"])
    except ValidationError as exc:
        raise ValidationFailed(
            fields={k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        ) from exc
    errors: dict[str, list[str]] = {}
    if reward.kind in VALUE_KINDS and (reward.value is None or reward.value <= 0):
        errors["value"] = [_("This kind of reward needs a value above zero.")]
    if reward.kind == RewardKind.DISCOUNT_PERCENT and reward.value and reward.value > 100:
        errors["value"] = [_("A percentage cannot be above 100.")]
    if reward.kind == RewardKind.FREE_PRODUCT and not reward.sku:
        errors["sku"] = [_("A free product needs the SKU of the product.")]
    if reward.kind == RewardKind.DONATION and not reward.cause.strip():
        errors["cause"] = [_("Name the cause the points go to.")]
    if errors:
        raise ValidationFailed(fields=errors)


def _reward_picture(reward: Reward) -> dict[str, Any]:
    picture = snapshot(reward, [name for name in REWARD_FIELDS if name != "image"])
    picture["image"] = reward.image.name or ""
    picture["tiers"] = sorted(reward.tiers.values_list("code", flat=True)) if reward.pk else []
    return picture


@transaction.atomic
def reward_create(*, actor: Actor, tiers: list[Tier] | None = None, **fields: Any) -> Reward:
    """Add a reward to the catalogue. `tiers` empty: every member may redeem it.
    Raises ValidationFailed."""
    unknown = set(fields) - set(REWARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown reward fields: {sorted(unknown)}")
    reward = Reward(**fields)
    _reward_check(reward)
    reward.save()
    reward.tiers.set(tiers or [])
    audit_record(actor=actor, action="reward.create", obj=reward, after=_reward_picture(reward))
    return reward


@dataclass(frozen=True)
class StockEdit:
    """The stock a page showed (`seen`) and the one typed over it (`to`);
    None is unlimited."""

    seen: int | None
    to: int | None


def _stock_after(current: int | None, edit: StockEdit) -> int | None:
    """The stock left once `edit` (a change) is applied to the `current`
    (locked) one. Between two numbers, the difference typed is added to what
    is left, so units redeemed since the page was shown stay taken. Switching
    to or from unlimited is made only if nothing changed meanwhile.
    Raises StockChanged."""
    if edit.seen is not None and edit.to is not None and current is not None:
        after = current + edit.to - edit.seen
        if after < 0:
            raise StockChanged(
                fields={
                    "stock": [
                        _(
                            "Only %(left)s are left now (members redeemed some since you opened "
                            "this page), fewer than you are taking off. Check the stock and "
                            "save again."
                        )
                        % {"left": current}
                    ]
                }
            )
        return after
    if current != edit.seen:
        raise StockChanged(fields={"stock": [str(StockChanged.default_message)]})
    return edit.to


@transaction.atomic
def reward_update(
    *,
    actor: Actor,
    reward: Reward,
    tiers: list[Tier] | None = None,
    stock_edit: StockEdit | None = None,
    **changes: Any,
) -> Reward:
    """Change a reward; `tiers` None leaves the audience alone. Redemptions
    already made keep what they got. Only the fields named are written: the
    stock, which redemptions change all the time, is untouched unless `stock`
    (set as given, the API's explicit set) or `stock_edit` (a page's edit,
    applied to the stock left now, see `_stock_after`) is given.
    Raises ValidationFailed, StockChanged."""
    unknown = set(changes) - set(REWARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown reward fields: {sorted(unknown)}")
    if stock_edit is not None and "stock" in changes:
        raise TypeError("give stock or stock_edit, not both")
    reward = locks.reward_lock(reward_id=reward.pk)
    before = _reward_picture(reward)
    for name, value in changes.items():
        setattr(reward, name, value)
    written = list(changes)
    if stock_edit is not None and stock_edit.seen != stock_edit.to:
        reward.stock = _stock_after(reward.stock, stock_edit)
        written.append("stock")
    _reward_check(reward)
    reward.save(update_fields=[*written, "updated_at"])
    if tiers is not None:
        reward.tiers.set(tiers)
    audit_record(
        actor=actor,
        action="reward.update",
        obj=reward,
        before=before,
        after=_reward_picture(reward),
    )
    return reward


@transaction.atomic
def reward_archive(*, actor: Actor, reward: Reward, now: datetime | None = None) -> Reward:
    """Take a reward out of the catalogue for good (it cannot be deleted: its
    redemptions and vouchers point at it). Vouchers already issued stay usable."""
    now = now or timezone.now()
    reward = locks.reward_lock(reward_id=reward.pk)
    if reward.archived_at is None:
        reward.archived_at = now
        reward.active = False
        reward.save(update_fields=["archived_at", "active", "updated_at"])
        audit_record(
            actor=actor, action="reward.archive", obj=reward, after={"archived_at": now.isoformat()}
        )
    return reward


@transaction.atomic
def reward_category_create(
    *, actor: Actor, name: str, slug: str, position: int = 0
) -> RewardCategory:
    """Add a category to group rewards by. Raises ValidationFailed if the code is taken."""
    if RewardCategory.objects.filter(slug=slug).exists():
        raise ValidationFailed(fields={"slug": [_("A category with this code already exists.")]})
    category = RewardCategory.objects.create(name=name, slug=slug, position=position)
    audit_record(
        actor=actor,
        action="reward_category.create",
        obj=category,
        after=snapshot(category, ("name", "slug", "position")),
    )
    return category


# --- Redemptions ------------------------------------------------------------------------------


def _voucher_expiry(reward: Reward, now: datetime) -> datetime | None:
    if reward.voucher_valid_days is None:
        return None
    return now + timedelta(days=reward.voucher_valid_days)


@transaction.atomic
def redemption_create(
    *,
    member: Member,
    reward: Reward,
    quantity: int = 1,
    actor: Actor,
    now: datetime | None = None,
) -> Redemption:
    """Spend the member's points on `quantity` units of `reward`, all or nothing:
    the points are debited once (one `redeem` entry with source
    ("redemption", id)), the stock goes down, and each unit issues a voucher (a
    gift card for a gift_card reward; a donation issues nothing and is tallied
    under its cause).

    The member's points account is locked first, so the per-member limit and
    the balance are checked and paid in one step; the stock goes down with one
    conditional UPDATE, so it never goes below zero however many redeem at once.

    Raises MemberInactive, RewardUnavailable (inactive, archived, out of the
    window, not for the member's tier), OutOfStock, LimitReached,
    InsufficientPoints, ValidationFailed (quantity).
    """
    now = now or timezone.now()
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(
            fields={"quantity": [_("Redeem 1 to %(max)s at once.") % {"max": MAX_QUANTITY}]}
        )
    member_ensure_active(member)
    locks.member_points_lock(member_id=member.pk)
    member.refresh_from_db(fields=["tier", "status"])
    member_ensure_active(member)
    reward = Reward.objects.get(pk=reward.pk)
    reason = reward_unavailable_reason(reward=reward, member=member, now=now)
    if reason is not None:
        raise (OutOfStock if reward.stock == 0 else RewardUnavailable)(reason)

    if reward.per_member_limit is not None:
        taken = (
            Redemption.objects.filter(
                member=member, reward=reward, status=RedemptionStatus.COMPLETED
            ).aggregate(total=Sum("quantity"))["total"]
            or 0
        )
        if taken + quantity > reward.per_member_limit:
            raise LimitReached()

    if reward.stock is not None:
        taken_stock = Reward.objects.filter(pk=reward.pk, stock__gte=quantity).update(
            stock=F("stock") - quantity
        )
        if not taken_stock:
            raise OutOfStock()

    points = reward.points_cost * quantity
    redemption = Redemption.objects.create(
        member=member,
        reward=reward,
        quantity=quantity,
        points=points,
        cause=reward.cause if reward.kind == RewardKind.DONATION else "",
        store=actor.api_key.store if actor.api_key is not None else None,
        created_at=now,
        created_by=actor.user,
    )
    points_pay(
        member=member,
        points=points,
        description=str(reward.name),
        source=Source("redemption", str(redemption.pk)),
        now=now,
    )

    if reward.kind == RewardKind.GIFT_CARD:
        for _unit in range(quantity):
            gift_card_new(
                amount=reward.value or Decimal("0"),
                member=member,
                design=reward.design,
                store=redemption.store,
                expires_at=_voucher_expiry(reward, now),
                redemption=redemption,
                created_by=actor.user,
                now=now,
            )
    elif reward.issues_vouchers:
        exists = Voucher.objects.filter
        Voucher.objects.bulk_create(
            Voucher(
                code=unique_code(new_voucher_code, lambda c: exists(code=c).exists()),
                reward=reward,
                redemption=redemption,
                member=member,
                kind=reward.kind,
                value=reward.value,
                sku=reward.sku,
                issued_at=now,
                expires_at=_voucher_expiry(reward, now),
            )
            for _unit in range(quantity)
        )

    audit_record(
        actor=actor,
        action="reward.redeem",
        obj=redemption,
        after={
            "member": member.public_id,
            "reward": reward.pk,
            "quantity": quantity,
            "points": points,
        },
    )
    notify(
        member,
        "reward_redeemed",
        {"reward": str(reward.name), "points": points, "quantity": quantity},
        event_key=f"redemption:{redemption.pk}",
        at=now,
    )
    webhook_emit(
        WebhookEventType.REWARD_REDEEMED, lambda: _redemption_data(redemption, member), now=now
    )
    return redemption


def reward_grant(*, member: Member, reward: Reward, now: datetime | None = None) -> Voucher | None:
    """Give the member one voucher of `reward` for nothing (a challenge's
    prize): a redemption of 0 points, its voucher, one unit of stock taken as
    a redemption takes it. The caller holds the member's points account and
    makes the grant once (campaigns.challenges keeps the voucher's id).
    Returns None, granting nothing, for a reward that issues no voucher, is
    archived or inactive, or is out of stock."""
    now = now or timezone.now()
    reward = locks.reward_lock(reward_id=reward.pk)
    if not reward.issues_vouchers or not reward.active or reward.is_archived:
        return None
    taken = Reward.objects.filter(pk=reward.pk, stock__gte=1).update(stock=F("stock") - 1)
    if reward.stock is not None and not taken:
        return None
    redemption = Redemption.objects.create(
        member=member, reward=reward, quantity=1, points=0, created_at=now
    )
    exists = Voucher.objects.filter
    return Voucher.objects.create(
        code=unique_code(new_voucher_code, lambda c: exists(code=c).exists()),
        reward=reward,
        redemption=redemption,
        member=member,
        kind=reward.kind,
        value=reward.value,
        sku=reward.sku,
        issued_at=now,
        expires_at=_voucher_expiry(reward, now),
    )


def _redemption_data(redemption: Redemption, member: Member) -> dict[str, Any]:
    """The answer of POST /members/{id}/redemptions, with the member's id."""
    # Imported here: the API module imports these services.
    from rewards.api import RedemptionSerializer

    return {**RedemptionSerializer(redemption).data, "member_id": member.public_id}


@dataclass(frozen=True)
class ConfirmedRedemption:
    """What a portal confirmation led to: the redemption it made, or, its token
    already spent on this reward (a double click, a resent form), the
    redemption that spent it (`replayed`: nothing was redeemed again)."""

    redemption: Redemption
    replayed: bool


@transaction.atomic
def redemption_confirm(
    *,
    member: Member,
    reward: Reward,
    token: str,
    actor: Actor,
    now: datetime | None = None,
) -> ConfirmedRedemption:
    """Redeem one unit of `reward` from the portal's confirmation, at most once
    per confirmation.

    The token (rewards.selectors.redemption_token_get) records the member's
    latest redemption when the page was drawn; any redemption since spends
    it. The check runs under the member's points lock, the row
    redemption_create locks too, so of two submissions at once the second
    sees the first's redemption: of this reward, it is answered with it
    (`replayed`); of another reward, the confirmation is stale.

    Raises RedeemConfirmationExpired (a token too old, forged, or for another
    member or reward), RedeemConfirmationStale, and what redemption_create
    raises.
    """
    after = redemption_token_read(token=token, member=member, reward=reward)
    locks.member_points_lock(member_id=member.pk)
    latest = (
        Redemption.objects.filter(member=member, pk__gt=after)
        .select_related("reward")
        .order_by("pk")
        .first()
    )
    if latest is not None:
        if latest.reward_id != reward.pk:
            raise RedeemConfirmationStale()
        return ConfirmedRedemption(redemption=latest, replayed=True)
    redemption = redemption_create(member=member, reward=reward, actor=actor, now=now)
    return ConfirmedRedemption(redemption=redemption, replayed=False)


@transaction.atomic
def redemption_cancel(
    *, redemption: Redemption, actor: Actor, reason: str = "", now: datetime | None = None
) -> Redemption:
    """Undo a redemption none of whose vouchers was used or has expired, and
    none of whose gift cards was charged: the points come back as a `refund`
    entry (source ("redemption", id)), the stock goes back up, the vouchers are
    cancelled and the gift cards voided.

    Raises RedemptionNotCancellable (already cancelled, or a voucher used or
    expired, or a gift card charged).
    """
    now = now or timezone.now()
    redemption = locks.redemption_lock(redemption_id=redemption.pk)
    if redemption.status != RedemptionStatus.COMPLETED:
        raise RedemptionNotCancellable(_("This redemption is already cancelled."))
    # The global order (rewards.locks): the account before the vouchers, as a
    # sale of the same member paying with them takes them.
    locks.member_points_lock(member_id=redemption.member_id)
    vouchers = locks.vouchers_lock_of_redemption(redemption_id=redemption.pk)
    if any(not voucher.is_usable(now) for voucher in vouchers):
        raise RedemptionNotCancellable()
    Reward.objects.filter(pk=redemption.reward_id, stock__isnull=False).update(
        stock=F("stock") + redemption.quantity
    )
    cards = locks.gift_cards_lock_by_id(ids=redemption.gift_cards.values_list("pk", flat=True))
    if any(
        card.status != GiftCardStatus.ACTIVE or card.balance != card.initial_amount
        for card in cards
    ):
        raise RedemptionNotCancellable()

    Voucher.objects.filter(pk__in=[v.pk for v in vouchers]).update(
        status=VoucherStatus.CANCELLED, cancelled_at=now
    )
    for card in cards:
        gift_card_void(
            card, reference=f"redemption-{redemption.pk}", created_by=actor.user, now=now
        )
    points_refund(
        member=redemption.member,
        points=redemption.points,
        description=str(redemption.reward.name),
        source=Source("redemption", str(redemption.pk)),
        now=now,
        program=program_settings_get(),
    )
    redemption.status = RedemptionStatus.CANCELLED
    redemption.cancelled_at = now
    redemption.cancel_reason = reason.strip()[:255]
    redemption.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    audit_record(
        actor=actor,
        action="reward.redemption_cancel",
        obj=redemption,
        after={"points_refunded": redemption.points, "reason": redemption.cancel_reason},
    )
    return redemption


# --- Vouchers ---------------------------------------------------------------------------------


@transaction.atomic
def voucher_use(
    *,
    code: str,
    actor: Actor,
    member: Member | None = None,
    purchase_reference: str = "",
    purchase_id: int | None = None,
    amount: Decimal | None = None,
    store: Store | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Mark a voucher used, exactly once: one conditional UPDATE from `issued`
    (and not expired) to `used`, so of any number of tills using it at once one
    succeeds. With `member`, a voucher of another member is refused.

    Raises VoucherNotFound, VoucherNotUsable (used, expired, cancelled, or
    another member's).
    """
    now = now or timezone.now()
    normalised = normalise_code(code)
    voucher = Voucher.objects.filter(code=normalised).first() if normalised else None
    if voucher is None:
        raise VoucherNotFound()
    if member is not None and voucher.member_id not in (None, member.pk):
        raise VoucherNotUsable(_("This voucher belongs to another member."))
    if store is None and actor.api_key is not None:
        store = actor.api_key.store
    return voucher_mark_used(
        voucher,
        actor=actor,
        purchase_reference=purchase_reference,
        purchase_id=purchase_id,
        amount=amount,
        store=store,
        now=now,
    )


def voucher_mark_used(
    voucher: Voucher,
    *,
    actor: Actor,
    purchase_reference: str,
    purchase_id: int | None,
    amount: Decimal | None,
    store: Store | None,
    now: datetime,
) -> Voucher:
    """Mark `voucher` (found, and in a sale locked and checked, by the caller)
    used, in the caller's transaction: the conditional UPDATE from `issued`
    (and not expired) is the guard, so of two uses one wins. `voucher` is
    updated in memory. Raises VoucherNotUsable."""
    fields = {
        "status": VoucherStatus.USED,
        "used_at": now,
        "used_store": store,
        "used_reference": purchase_reference[:100],
        "used_purchase_id": purchase_id,
        "used_amount": amount,
        "used_by": actor.user,
    }
    used = (
        Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.ISSUED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(**fields)
    )
    if not used:
        raise VoucherNotUsable()
    for name, value in fields.items():
        setattr(voucher, name, value)
    if actor.user is not None:
        audit_record(
            actor=actor,
            action="voucher.use",
            obj=voucher,
            after={"reference": voucher.used_reference},
        )
    webhook_emit(WebhookEventType.VOUCHER_USED, lambda: _voucher_used_data(voucher), now=now)
    return voucher


def voucher_expiry_remind(*, as_of: datetime) -> int:
    """The job `voucher_reminders`: tell each member of their issued vouchers
    that expire within the program's `expiry_warning_days` of `as_of`, once
    per voucher (event `voucher_expiring:<id>`) however often it runs.
    Returns how many reminders were written."""
    days = program_settings_get().expiry_warning_days
    if days is None:
        return 0
    due = (
        Voucher.objects.filter(
            status=VoucherStatus.ISSUED,
            member__isnull=False,
            expires_at__gt=as_of,
            expires_at__lte=as_of + timedelta(days=days),
        )
        .select_related("member", "reward")
        .order_by("pk")
    )
    written = 0
    for voucher in due.iterator(chunk_size=500):
        member = voucher.member
        assert member is not None
        with translation.override(member.language):
            expires = formats.date_format(timezone.localtime(voucher.expires_at), "DATE_FORMAT")
        with transaction.atomic():
            written += (
                notify(
                    member,
                    "voucher_expiring",
                    {"reward": str(voucher.reward.name), "code": voucher.code, "expires": expires},
                    event_key=f"voucher_expiring:{voucher.pk}",
                    at=as_of,
                )
                is not None
            )
    return written


def _voucher_used_data(voucher: Voucher) -> dict[str, Any]:
    """The voucher as GET /vouchers/{code} gives it, with where it was used."""
    # Imported here: the API module imports these services.
    from rewards.api import VoucherSerializer

    return {
        **VoucherSerializer(voucher).data,
        "store": voucher.used_store.code if voucher.used_store else None,
        "purchase_reference": voucher.used_reference,
        "purchase_id": voucher.used_purchase_id,
        "amount": voucher.used_amount,
    }


def vouchers_expire_due(*, as_of: datetime) -> int:
    """Mark issued vouchers whose time ran out by `as_of` expired. Running it
    again for the same `as_of` changes nothing."""
    return Voucher.objects.filter(status=VoucherStatus.ISSUED, expires_at__lte=as_of).update(
        status=VoucherStatus.EXPIRED
    )


# --- Catalogue order (back-office) ---------------------------------------------------------------


@transaction.atomic
def reward_move(*, actor: Actor, reward: Reward, direction: str) -> Reward:
    """Move a reward one place up or down the catalogue (rewards not archived,
    in display order). The catalogue is renumbered 0, 1, 2, … on the way, so
    rewards that shared a position (the default 0) get a distinct one and a
    swap always shows. Moving the first up or the last down changes nothing.
    Raises ValidationFailed for an archived reward or an unknown direction."""
    if direction not in ("up", "down"):
        raise ValidationFailed(fields={"direction": [_("Move a reward up or down.")]})
    reward = locks.reward_lock(reward_id=reward.pk)
    if reward.archived_at is not None:
        raise ValidationFailed(_("An archived reward has no place in the catalogue."))
    ordered = list(Reward.objects.filter(archived_at__isnull=True).order_by("position", "id"))
    index = next(i for i, row in enumerate(ordered) if row.pk == reward.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return reward
    before = reward.position
    ordered[index], ordered[other] = ordered[other], ordered[index]
    changed = []
    for position, row in enumerate(ordered):
        if row.position != position:
            row.position = position
            changed.append(row)
    Reward.objects.bulk_update(changed, ["position"])
    reward.position = other
    audit_record(
        actor=actor,
        action="reward.move",
        obj=reward,
        before={"position": before},
        after={"position": other, "direction": direction},
    )
    return reward
