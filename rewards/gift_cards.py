"""Gift cards: stored value with its own append-only ledger (issue, charge,
refund, void), sold at the counter or through the API, or issued by a
gift-card reward; and the branded designs managers give them.

A card's balance moves only with an entry in the same transaction, the card
row is locked first (rewards.locks, in its global order), and a CHECK keeps it
at zero or above. Every charge and refund carries the store it was made at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty import limits
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import Store, WebhookEventType
from loyalty.money import CENT, money_format
from loyalty.services import audit_record, snapshot
from loyalty.webhooks import webhook_emit
from members.models import Member
from rewards import locks
from rewards.errors import (
    DuplicateChargeReference,
    GiftCardInsufficientBalance,
    GiftCardNotFound,
    GiftCardNotUsable,
)
from rewards.models import (
    GiftCard,
    GiftCardDesign,
    GiftCardEntry,
    GiftCardEntryKind,
    GiftCardStatus,
    Redemption,
)
from rewards.voucher_codes import new_gift_card_code, normalise_code, unique_code

# --- Gift cards -------------------------------------------------------------------------------


def _money(value: Decimal, field: str) -> Decimal:
    if value <= 0 or value != value.quantize(CENT):
        raise ValidationFailed(fields={field: [_("Give a positive amount with 2 decimals.")]})
    if value > limits.MONEY_MAX:
        raise ValidationFailed(
            fields={field: [_("At most %(amount)s.") % {"amount": money_format(limits.MONEY_MAX)}]}
        )
    return value


def gift_card_new(
    *,
    amount: Decimal,
    member: Member | None,
    design: GiftCardDesign | None,
    store: Store | None,
    expires_at: datetime | None,
    redemption: Redemption | None,
    created_by: Any,
    now: datetime,
) -> GiftCard:
    card = GiftCard.objects.create(
        code=unique_code(new_gift_card_code, lambda c: GiftCard.objects.filter(code=c).exists()),
        initial_amount=amount,
        balance=amount,
        member=member,
        design=design,
        redemption=redemption,
        issued_store=store,
        issued_at=now,
        expires_at=expires_at,
        created_by=created_by,
    )
    GiftCardEntry.objects.create(
        gift_card=card,
        kind=GiftCardEntryKind.ISSUE,
        amount=amount,
        balance_after=amount,
        source_type="redemption" if redemption else "",
        source_id=str(redemption.pk) if redemption else "",
        store=store,
        created_by=created_by,
        created_at=now,
    )
    return card


def gift_card_void(card: GiftCard, *, reference: str, created_by: Any, now: datetime) -> None:
    """Void a locked card: what is left on it goes with a `void` entry."""
    GiftCardEntry.objects.create(
        gift_card=card,
        kind=GiftCardEntryKind.VOID,
        amount=-card.balance,
        balance_after=Decimal("0.00"),
        reference=reference[:100],
        created_by=created_by,
        created_at=now,
    )
    card.balance = Decimal("0.00")
    card.status = GiftCardStatus.VOID
    card.save(update_fields=["balance", "status"])


@transaction.atomic
def gift_card_issue(
    *,
    actor: Actor,
    amount: Decimal,
    member: Member | None = None,
    design: GiftCardDesign | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> GiftCard:
    """Sell or give a gift card of `amount` (its ledger starts with an `issue`
    entry). Raises ValidationFailed."""
    now = now or timezone.now()
    _money(amount, "amount")
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(fields={"expires_at": [_("The expiry must be in the future.")]})
    if expires_at is not None and expires_at > now + timedelta(days=limits.DAYS_MAX):
        raise ValidationFailed(
            fields={"expires_at": [_("At most %(days)s days ahead.") % {"days": limits.DAYS_MAX}]}
        )
    store = actor.api_key.store if actor.api_key is not None else None
    card = gift_card_new(
        amount=amount,
        member=member,
        design=design,
        store=store,
        expires_at=expires_at,
        redemption=None,
        created_by=actor.user,
        now=now,
    )
    audit_record(
        actor=actor,
        action="gift_card.issue",
        obj=card,
        after={
            "amount": str(amount),
            "member": member.public_id if member else None,
            "design": design.pk if design else None,
        },
    )
    return card


@dataclass(frozen=True)
class GiftCardCharge:
    """A charge's outcome: `charged` may be below what was asked (allow_partial);
    `replayed` when the reference had been charged before."""

    entry: GiftCardEntry
    charged: Decimal
    balance: Decimal
    replayed: bool = False


def _gift_card_locked(code: str) -> GiftCard:
    normalised = normalise_code(code)
    card = locks.gift_cards_lock(codes=[normalised]).get(normalised) if normalised else None
    if card is None:
        raise GiftCardNotFound()
    return card


@transaction.atomic
def gift_card_charge(
    *,
    code: str,
    amount: Decimal,
    reference: str,
    store: Store,
    actor: Actor,
    allow_partial: bool = False,
    now: datetime | None = None,
) -> GiftCardCharge:
    """Lock the card of `code` and charge it (`gift_card_charge_locked`).

    Raises GiftCardNotFound and what `gift_card_charge_locked` raises.
    """
    now = now or timezone.now()
    _money(amount, "amount")
    reference = _charge_reference(reference)
    card = _gift_card_locked(code)
    return gift_card_charge_locked(
        card,
        amount=amount,
        reference=reference,
        store=store,
        actor=actor,
        allow_partial=allow_partial,
        now=now,
    )


def _charge_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference or len(reference) > 100:
        raise ValidationFailed(fields={"reference": [_("Give the receipt's reference.")]})
    return reference


def gift_card_charge_locked(
    card: GiftCard,
    *,
    amount: Decimal,
    reference: str,
    store: Store,
    actor: Actor,
    allow_partial: bool = False,
    now: datetime,
) -> GiftCardCharge:
    """Take `amount` off a card the caller locked (rewards.locks), in the
    caller's transaction; never below zero. With `allow_partial` an amount
    above the balance takes the whole balance (the rest is paid another way),
    without it the charge is refused.

    A charge belongs to its store and is made once per (card, store,
    reference): a retry with the same amount returns the first charge, a
    different amount is refused; the same receipt number at another store is
    another charge. The store is never left out, so the unique index
    (NULLs never clash) always holds.

    Raises GiftCardNotUsable (void, expired), GiftCardInsufficientBalance,
    DuplicateChargeReference, ValidationFailed.
    """
    _money(amount, "amount")
    reference = _charge_reference(reference)
    earlier = card.entries.filter(
        kind=GiftCardEntryKind.CHARGE, store=store, reference=reference
    ).first()
    if earlier is not None:
        if earlier.requested_amount != amount:
            raise DuplicateChargeReference()
        return GiftCardCharge(
            entry=earlier, charged=-earlier.amount, balance=card.balance, replayed=True
        )
    if not card.is_usable(now):
        raise GiftCardNotUsable()
    charged = amount
    if amount > card.balance:
        if not allow_partial or card.balance == 0:
            raise GiftCardInsufficientBalance()
        charged = card.balance
    card.balance -= charged
    card.save(update_fields=["balance"])
    entry = GiftCardEntry.objects.create(
        gift_card=card,
        kind=GiftCardEntryKind.CHARGE,
        amount=-charged,
        balance_after=card.balance,
        requested_amount=amount,
        reference=reference,
        store=store,
        created_by=actor.user,
        created_at=now,
    )
    if actor.user is not None:
        audit_record(
            actor=actor,
            action="gift_card.charge",
            obj=card,
            after={"charged": str(charged), "reference": reference, "balance": str(card.balance)},
        )
    webhook_emit(
        WebhookEventType.GIFTCARD_CHARGED,
        lambda: {
            "code": card.code,
            "charged": charged,
            "balance": card.balance,
            "reference": reference,
            "store": store.code,
            "member_id": card.member.public_id if card.member_id else None,
        },
        now=now,
    )
    return GiftCardCharge(entry=entry, charged=charged, balance=card.balance)


@transaction.atomic
def gift_card_refund(
    *,
    code: str,
    amount: Decimal,
    reference: str,
    store: Store,
    actor: Actor,
    now: datetime | None = None,
) -> GiftCardEntry:
    """Put back on the card part or all of its charge at `store` under
    `reference` (a returned sale). Refunds of one charge never add up to more
    than it took.

    Raises GiftCardNotFound, GiftCardNotUsable (void or expired: the money goes
    back another way), ValidationFailed.
    """
    now = now or timezone.now()
    _money(amount, "amount")
    card = _gift_card_locked(code)
    entries = card.entries.filter(store=store, reference=reference.strip())
    charged = -(entries.filter(kind=GiftCardEntryKind.CHARGE).aggregate(t=Sum("amount"))["t"] or 0)
    refunded = entries.filter(kind=GiftCardEntryKind.REFUND).aggregate(t=Sum("amount"))["t"] or 0
    if amount > charged - refunded:
        raise ValidationFailed(
            fields={"amount": [_("This is more than is left to refund of that charge.")]}
        )
    return gift_card_refund_locked(
        card, amount=amount, reference=reference, store=store, actor=actor, now=now
    )


def gift_card_refund_locked(
    card: GiftCard,
    *,
    amount: Decimal,
    reference: str,
    store: Store,
    actor: Actor,
    now: datetime,
) -> GiftCardEntry:
    """Put `amount` back on a card the caller locked (rewards.locks), as a
    refund of its charge at `store` under `reference`. The caller keeps the
    refunds of that charge within it (a return counts them on the sale's
    PurchaseGiftCard row, whose CHECK is the last guard).

    Raises GiftCardNotUsable (void or expired), ValidationFailed.
    """
    _money(amount, "amount")
    if not card.is_usable(now):
        raise GiftCardNotUsable()
    card.balance += amount
    card.save(update_fields=["balance"])
    entry = GiftCardEntry.objects.create(
        gift_card=card,
        kind=GiftCardEntryKind.REFUND,
        amount=amount,
        balance_after=card.balance,
        reference=reference.strip(),
        store=store,
        created_by=actor.user,
        created_at=now,
    )
    if actor.user is not None:
        audit_record(
            actor=actor,
            action="gift_card.refund",
            obj=card,
            after={"refunded": str(amount), "reference": reference, "balance": str(card.balance)},
        )
    return entry


# --- Designs (back-office) ---------------------------------------------------------------------


DESIGN_FIELDS = ("name", "merchant_name", "image", "background_color", "text_color", "active")


def _design_check(design: GiftCardDesign) -> None:
    """The model's validation (colours, picture). Raises ValidationFailed."""
    try:
        design.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(
            fields={k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        ) from exc


def _design_picture(design: GiftCardDesign) -> dict[str, Any]:
    picture = snapshot(design, [name for name in DESIGN_FIELDS if name != "image"])
    picture["image"] = design.image.name or ""
    return picture


@transaction.atomic
def gift_card_design_create(*, actor: Actor, **fields: Any) -> GiftCardDesign:
    """Add a look for gift cards. Raises ValidationFailed."""
    unknown = set(fields) - set(DESIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown design fields: {sorted(unknown)}")
    design = GiftCardDesign(**fields)
    _design_check(design)
    design.save()
    audit_record(
        actor=actor, action="gift_card_design.create", obj=design, after=_design_picture(design)
    )
    return design


@transaction.atomic
def gift_card_design_update(
    *, actor: Actor, design: GiftCardDesign, **changes: Any
) -> GiftCardDesign:
    """Change a design; cards already issued with it show the new look. Raises ValidationFailed."""
    unknown = set(changes) - set(DESIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown design fields: {sorted(unknown)}")
    # Not locked (rewards.locks has no design lock): two managers saving one
    # design at once is last-write-wins, and both writes are audited.
    design = GiftCardDesign.objects.get(pk=design.pk)
    before = _design_picture(design)
    for name, value in changes.items():
        setattr(design, name, value)
    _design_check(design)
    design.save()
    audit_record(
        actor=actor,
        action="gift_card_design.update",
        obj=design,
        before=before,
        after=_design_picture(design),
    )
    return design
