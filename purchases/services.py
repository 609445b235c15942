"""The sale flow: turn a receipt into points, voucher uses and gift-card
charges, all or nothing (returns are in purchases.returns).

A sale is unique per (store, reference). The same receipt again with the same
content returns the first receipt (`replayed`); with other content it is
refused with DuplicateReference. Two tills sending one receipt at the same
moment meet on the unique index: the second waits for the first to commit,
then replays it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.limits import MONEY_MAX
from loyalty.models import ProgramSettings, Store
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from members.errors import InsufficientPoints
from members.ledger import Source
from members.models import EntryKind, Member, PointsAccount
from members.selectors import points_spendable
from members.services import (
    member_ensure_active,
    member_record_activity,
    member_tier_review,
    points_earn,
    points_pay,
)
from purchases.earning import CENT, sale_awards, split_discount
from purchases.errors import DuplicateReference
from purchases.models import Purchase, PurchaseLine
from rewards import locks as reward_locks
from rewards.codes import normalise_code
from rewards.errors import (
    DuplicateChargeReference,
    GiftCardInsufficientBalance,
    GiftCardNotUsable,
    VoucherNotUsable,
)
from rewards.gift_cards import gift_card_charge
from rewards.models import GiftCard, Voucher
from rewards.pricing import SaleLine, voucher_discounts
from rewards.services import voucher_use


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    category: str = ""
    earns: bool = True


@dataclass(frozen=True)
class GiftCardInput:
    """A gift card paying `amount` of the sale."""

    code: str
    amount: Decimal


@dataclass(frozen=True)
class SaleInput:
    store: Store
    reference: str
    member: Member | None
    occurred_at: datetime
    items: list[LineInput]
    discount_total: Decimal = Decimal("0.00")
    points_to_redeem: int = 0
    vouchers: tuple[str, ...] = ()
    gift_cards: tuple[GiftCardInput, ...] = ()
    # False when the till did not say when (then "now"): a retry must still match.
    occurred_at_given: bool = True


@dataclass(frozen=True)
class Recorded:
    """A receipt (the API's response body) and whether it is a replay."""

    receipt: dict[str, Any]
    replayed: bool
    record_id: int


def body_fingerprint(value: Any) -> str:
    """What a repeated receipt (or return) is compared by: a hash of its content."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _sale_fingerprint(sale: SaleInput) -> str:
    return body_fingerprint(
        {
            "member": sale.member.pk if sale.member else None,
            "occurred_at": sale.occurred_at.isoformat() if sale.occurred_at_given else None,
            "items": [
                [i.sku, i.quantity, str(i.unit_price), i.name, i.category, i.earns]
                for i in sale.items
            ],
            "discount_total": str(sale.discount_total),
            "points_to_redeem": sale.points_to_redeem,
            # Only when given, so receipts recorded before vouchers existed still
            # replay; normalised, so "7kq4m2xh9tpa" retries "7KQ4-M2XH-9TPA".
            **({"vouchers": _voucher_codes(sale)} if sale.vouchers else {}),
            **(
                {
                    "gift_cards": [
                        [normalise_code(card.code) or card.code, str(card.amount)]
                        for card in sale.gift_cards
                    ]
                }
                if sale.gift_cards
                else {}
            ),
        }
    )


def _voucher_codes(sale: SaleInput) -> list[str]:
    return [normalise_code(code) or code.strip().upper() for code in sale.vouchers]


def _vouchers_check(sale: SaleInput, found: dict[str, Voucher], now: datetime) -> list[Voucher]:
    """The sale's vouchers in the till's order, each usable by this sale.

    Raises VoucherNotUsable for an unknown code, a code listed twice, a voucher
    used, expired or cancelled, or another member's: one bad voucher refuses
    the whole sale (API.md). An unknown code and another member's voucher get
    one message, so a till cannot tell which codes exist; staff look a code up
    at the counter's voucher desk."""
    vouchers: list[Voucher] = []
    for code in _voucher_codes(sale):
        voucher = found.get(code)
        not_usable = _("The voucher %(code)s cannot be used on this sale.") % {"code": code}
        if voucher is None:
            raise VoucherNotUsable(not_usable)
        if voucher in vouchers:
            raise VoucherNotUsable(_("The voucher %(code)s is listed twice.") % {"code": code})
        if not voucher.is_usable(now):
            raise VoucherNotUsable(
                _("The voucher %(code)s is used, expired or cancelled.") % {"code": code}
            )
        if sale.member is not None and voucher.member_id not in (None, sale.member.pk):
            raise VoucherNotUsable(not_usable)
        vouchers.append(voucher)
    return vouchers


def _gift_cards_check(sale: SaleInput, found: dict[str, GiftCard], now: datetime) -> None:
    """Raises ValidationFailed (`fields.gift_cards`) for a code no card has,
    GiftCardNotUsable or GiftCardInsufficientBalance for a card of the sale
    that cannot pay its part (read before any write). The messages never tell
    a card's balance: whoever guesses a code learns nothing of what it holds."""
    asked: dict[str, Decimal] = {}
    for card_input in sale.gift_cards:
        code = normalise_code(card_input.code) or ""
        asked[code] = asked.get(code, Decimal("0.00")) + card_input.amount
    for code, amount in asked.items():
        card = found.get(code)
        if card is None:
            raise ValidationFailed(
                fields={"gift_cards": [_("No gift card has the code %(code)s.") % {"code": code}]}
            )
        if not card.is_usable(now):
            raise GiftCardNotUsable()
        if amount > card.balance:
            raise GiftCardInsufficientBalance(
                _("The gift card %(code)s cannot pay %(amount)s.")
                % {"code": code, "amount": amount}
            )


@dataclass(frozen=True)
class SaleQuote:
    """The amounts and awards of a sale, computed without writing anything."""

    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    discount_shares: list[Decimal]
    eligible_amount: Decimal
    points_value: Decimal
    awards: list[Any]
    tier_code: str | None
    # What each of the sale's vouchers took off, in the till's order.
    voucher_amounts: tuple[Decimal, ...] = ()


def _voucher_shares(
    sale: SaleInput, gross: list[Decimal], till_shares: list[Decimal], vouchers: list[Voucher]
) -> tuple[list[Decimal], list[Decimal]]:
    """(each line's share of the till's and the vouchers' discounts, each
    voucher's amount). A free product's discount sits on its line (as far as
    the line has room); the rest is shared in proportion to what is left."""
    discounts = voucher_discounts(
        vouchers=[(v.kind, v.value, v.sku) for v in vouchers],
        lines=[SaleLine(i.sku, i.quantity, i.unit_price) for i in sale.items],
        total_before=sum(gross, Decimal("0.00")) - sale.discount_total,
    )
    shares = list(till_shares)
    shared = Decimal("0.00")
    for discount in discounts:
        if discount.line is None:
            shared += discount.amount
            continue
        take = min(discount.amount, gross[discount.line] - shares[discount.line])
        shares[discount.line] += take
        shared += discount.amount - take
    rooms = [g - s for g, s in zip(gross, shares, strict=True)]
    shares = [s + x for s, x in zip(shares, split_discount(rooms, shared), strict=True)]
    return shares, [d.amount for d in discounts]


def sale_quote(
    *,
    sale: SaleInput,
    now: datetime,
    program: ProgramSettings | None = None,
    vouchers: list[Voucher] | None = None,
) -> SaleQuote:
    """Validate a sale's amounts and compute what it earns. Raises ValidationFailed.

    `vouchers` are the sale's vouchers, already checked usable: their discounts
    lower the total and the eligible amount before points are computed.
    `program` lets a caller that already read the settings skip reading them again."""
    program = program or program_settings_get()
    errors: dict[str, list[str]] = {}
    if not sale.items:
        errors["items"] = [_("A sale needs at least one item.")]
    if sale.occurred_at > now + timedelta(minutes=5):
        errors["occurred_at"] = [_("A sale cannot happen in the future.")]
    if sale.points_to_redeem and sale.member is None:
        errors["points_to_redeem"] = [_("Only a member can pay with points.")]
    gross = [item.unit_price * item.quantity for item in sale.items]
    subtotal = sum(gross, Decimal("0.00"))
    if subtotal > MONEY_MAX:  # so that every sum of the sale fits its column
        errors["items"] = [_("A sale adds up to at most %(amount)s.") % {"amount": MONEY_MAX}]
        raise ValidationFailed(fields=errors)
    if sale.discount_total > subtotal:
        errors["discount_total"] = [_("The discount is larger than the sale.")]
        raise ValidationFailed(fields=errors)
    shares, voucher_amounts = _voucher_shares(
        sale, gross, split_discount(gross, sale.discount_total), vouchers or []
    )
    discount_total = sale.discount_total + sum(voucher_amounts, Decimal("0.00"))
    total = subtotal - discount_total
    points_value = (Decimal(sale.points_to_redeem) * program.point_value).quantize(CENT)
    if points_value > total:
        errors["points_to_redeem"] = [_("Points would pay more than the sale's total.")]
    gift_total = sum((card.amount for card in sale.gift_cards), Decimal("0.00"))
    if gift_total and points_value + gift_total > total:
        errors["gift_cards"] = [_("Gift cards would pay more than is left of the sale's total.")]
    if errors:
        raise ValidationFailed(fields=errors)
    earning_net = sum(
        (g - s for g, s, item in zip(gross, shares, sale.items, strict=True) if item.earns),
        Decimal("0.00"),
    )
    eligible = max(Decimal("0.00"), earning_net - points_value)
    tier = sale.member.tier if sale.member else None
    awards = (
        sale_awards(
            eligible_amount=eligible,
            earn_points=program.earn_points,
            earn_per_amount=program.earn_per_amount,
            tier_name=tier.name if tier else None,
            tier_multiplier=tier.multiplier if tier else Decimal("1"),
        )
        if sale.member
        else []
    )
    return SaleQuote(
        subtotal=subtotal,
        discount_total=discount_total,
        total=total,
        discount_shares=shares,
        eligible_amount=eligible,
        points_value=points_value,
        awards=awards,
        tier_code=tier.code if tier else None,
        voucher_amounts=tuple(voucher_amounts),
    )


def sale_preview(*, sale: SaleInput, now: datetime | None = None) -> dict[str, Any]:
    """What `purchase_record` would answer, without writing anything.

    Raises what `purchase_record` raises for the same sale, InsufficientPoints
    included when `points_to_redeem` is above what the member can spend (lots
    past their expiry do not count). The `balance` shown is after paying,
    earning (when not pending, nor already past its expiry) and paying off a
    clawback owed out of the points earned."""
    now = now or timezone.now()
    if sale.member is not None:
        member_ensure_active(sale.member)
    codes = _voucher_codes(sale)
    vouchers = _vouchers_check(
        sale, {v.code: v for v in Voucher.objects.filter(code__in=codes)}, now
    )
    program = program_settings_get()
    quote = sale_quote(sale=sale, now=now, program=program, vouchers=vouchers)
    balance = None
    if sale.member is not None:
        balance = points_spendable(member=sale.member, now=now)
        if sale.points_to_redeem > balance:
            raise InsufficientPoints()
    cards = {
        card.code: card
        for card in GiftCard.objects.filter(
            code__in=[normalise_code(c.code) or "" for c in sale.gift_cards]
        )
    }
    _gift_cards_check(sale, cards, now)
    earned = sum(award.points for award in quote.awards)
    available_at = sale.occurred_at + timedelta(days=program.pending_days)
    pending = available_at > now
    expired = (
        program.expiry_days is not None
        and available_at + timedelta(days=program.expiry_days) <= now
    )
    if balance is not None and sale.member is not None:
        balance -= sale.points_to_redeem
        if not pending and not expired:
            balance += earned - min(sale.member.account.clawback_owed, earned)
    return {
        "reference": sale.reference,
        "store": sale.store.code,
        "member_id": sale.member.public_id if sale.member else None,
        "total": str(quote.total),
        "eligible_amount": str(quote.eligible_amount),
        "points_earned": earned,
        "points_status": "pending" if pending else "available",
        "awards": [
            {"source": a.source, "points": a.points, "label": str(a.label)} for a in quote.awards
        ],
        "points_redeemed": sale.points_to_redeem,
        "balance": balance,
        "tier": quote.tier_code,
        "vouchers": _vouchers_receipt(vouchers, quote.voucher_amounts),
        "gift_cards": [
            {
                "code": cards[normalise_code(c.code) or ""].code,
                "charged": str(c.amount),
                "balance": str(cards[normalise_code(c.code) or ""].balance - c.amount),
            }
            for c in sale.gift_cards
        ],
    }


def _vouchers_receipt(vouchers: list[Voucher], amounts: tuple[Decimal, ...]) -> list[dict]:
    return [
        {"code": v.code, "kind": v.kind, "discount": str(amount)}
        for v, amount in zip(vouchers, amounts, strict=True)
    ]


@transaction.atomic
def purchase_record(*, sale: SaleInput, actor: Actor, now: datetime | None = None) -> Recorded:
    """Record a sale: use its vouchers, pay with points and gift cards, earn,
    count towards tiers — all or nothing.

    Rows are locked in rewards.locks' order: vouchers, the points account, gift
    cards. A replay answers the first receipt before touching any of them, so
    a voucher is used and a card charged once.

    A sale by a staff user writes an AuditEvent (the purchase, its receipt as
    `after`) in the same transaction.

    Raises ValidationFailed, MemberInactive, InsufficientPoints,
    VoucherNotUsable, GiftCardNotUsable, GiftCardInsufficientBalance or
    DuplicateReference; then nothing is written.
    """
    now = now or timezone.now()
    fingerprint = _sale_fingerprint(sale)
    try:
        with transaction.atomic():
            purchase = Purchase.objects.create(
                store=sale.store,
                reference=sale.reference,
                member=sale.member,
                occurred_at=sale.occurred_at,
                recorded_at=now,
                subtotal=0,
                total=0,
                eligible_amount=0,
                fingerprint=fingerprint,
                recorded_by=actor.user,
            )
    except IntegrityError:
        return _replay_purchase(sale, fingerprint)

    if sale.member is not None:
        member_ensure_active(sale.member)
    codes = _voucher_codes(sale)
    vouchers = _vouchers_check(sale, reward_locks.vouchers_lock(codes=codes), now) if codes else []
    # Read once per sale: the quote, the earn and the tier review all need it.
    program = program_settings_get()
    quote = sale_quote(sale=sale, now=now, program=program, vouchers=vouchers)
    source = Source("purchase", str(purchase.pk))
    member = sale.member
    for voucher, amount in zip(vouchers, quote.voucher_amounts, strict=True):
        # The conditional UPDATE: of two tills using one voucher, one wins.
        voucher_use(
            code=voucher.code,
            actor=actor,
            member=member,
            purchase_reference=sale.reference,
            purchase_id=purchase.pk,
            amount=amount,
            store=sale.store,
            now=now,
        )
    if member is not None and sale.points_to_redeem:
        with translation.override(member.language):
            paid = _("Paid at %(store)s, receipt %(reference)s") % {
                "store": sale.store.name,
                "reference": sale.reference,
            }
        points_pay(
            member=member,
            points=sale.points_to_redeem,
            description=paid,
            source=source,
            now=now,
        )
    points_status = "available"
    if member is not None:
        for award in quote.awards:
            # The history is the member's to read: written in their language.
            with translation.override(member.language):
                description = _("%(award)s at %(store)s, receipt %(reference)s") % {
                    "award": award.label,
                    "store": sale.store.name,
                    "reference": sale.reference,
                }
            entry = points_earn(
                member=member,
                points=award.points,
                kind=EntryKind(award.kind),
                description=description,
                source=source,
                occurred_at=sale.occurred_at,
                now=now,
                program=program,
                idempotency_key=f"purchase:{purchase.pk}:{award.source}",
            )
            if entry is not None and entry.status == "pending":
                points_status = "pending"
    earned = sum(award.points for award in quote.awards)
    gift_cards = _gift_cards_charge(sale, actor=actor, now=now)

    PurchaseLine.objects.bulk_create(
        PurchaseLine(
            purchase=purchase,
            sku=item.sku,
            name=item.name,
            category=item.category,
            quantity=item.quantity,
            unit_price=item.unit_price,
            earns=item.earns,
            discount_share=share,
        )
        for item, share in zip(sale.items, quote.discount_shares, strict=True)
    )
    balance = None
    if member is not None:
        member_record_activity(
            member=member,
            occurred_at=sale.occurred_at,
            spend=quote.total,
            points=earned,
            source=source,
        )
        member_tier_review(member=member, now=now, allow_downgrade=False, program=program)
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
    receipt = {
        "id": purchase.pk,
        "reference": sale.reference,
        "store": sale.store.code,
        "member_id": member.public_id if member else None,
        "occurred_at": sale.occurred_at.isoformat(),
        "total": str(quote.total),
        "eligible_amount": str(quote.eligible_amount),
        "points_earned": earned,
        "points_status": points_status,
        "awards": [
            {"source": a.source, "points": a.points, "label": str(a.label)} for a in quote.awards
        ],
        "points_redeemed": sale.points_to_redeem,
        "balance": balance,
        "tier": quote.tier_code,
        "vouchers": _vouchers_receipt(vouchers, quote.voucher_amounts),
        "gift_cards": gift_cards,
    }
    Purchase.objects.filter(pk=purchase.pk).update(
        subtotal=quote.subtotal,
        discount_total=quote.discount_total,
        total=quote.total,
        eligible_amount=quote.eligible_amount,
        points_earned=earned,
        points_redeemed=sale.points_to_redeem,
        points_status=points_status,
        tier_code=quote.tier_code or "",
        response=json.dumps(receipt),
    )
    if actor.user is not None:
        # A sale typed in by staff is a staff write (DESIGN.md §7). A till's
        # sales (API keys) are the hot path and get no audit row each, like the
        # voucher uses and gift-card charges inside them: the purchase row with
        # its store and receipt number is their record.
        audit_record(actor=actor, action="purchase.record", obj=purchase, after=receipt)
    return Recorded(receipt=receipt, replayed=False, record_id=purchase.pk)


def _gift_cards_charge(sale: SaleInput, *, actor: Actor, now: datetime) -> list[dict[str, str]]:
    """Charge the sale's gift cards under the receipt's reference (a card listed
    twice is charged once for the sum), locked in id order. Returns the
    receipt's `gift_cards`."""
    asked: dict[str, Decimal] = {}
    for card_input in sale.gift_cards:
        code = normalise_code(card_input.code) or ""
        asked[code] = asked.get(code, Decimal("0.00")) + card_input.amount
    if not asked:
        return []
    _gift_cards_check(sale, reward_locks.gift_cards_lock(codes=list(asked)), now)
    charges = []
    for code, amount in asked.items():
        charge = gift_card_charge(
            code=code, amount=amount, reference=sale.reference, actor=actor, now=now
        )
        if charge.replayed:
            # Another store's receipt with the same number charged this card:
            # this sale's own charge must not hide behind it.
            raise DuplicateChargeReference()
        charges.append(
            {"code": code, "charged": str(charge.charged), "balance": str(charge.balance)}
        )
    return charges


def _replay_purchase(sale: SaleInput, fingerprint: str) -> Recorded:
    existing = Purchase.objects.get(store=sale.store, reference=sale.reference)
    if existing.fingerprint != fingerprint:
        raise DuplicateReference()
    return Recorded(receipt=json.loads(existing.response), replayed=True, record_id=existing.pk)
