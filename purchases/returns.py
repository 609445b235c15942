"""Returns: give back part or all of a sale, with its points reversed in
proportion, the points paid with refunded, and gift cards paid with refunded
their share.

Every share is derived from the cumulative amount returned so far, never
from per-return rounding: each return settles what is due for everything
returned up to it less what earlier returns settled, so the last one takes
exactly what is left and a sale returned in full, by any mix of items and
amounts in any number of parts, nets to zero of what it earned (DESIGN.md §4).

A return is unique per (purchase, reference): the same return again replays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.challenges import challenges_purchase_returned
from campaigns.referrals import referral_purchase_returned
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import WebhookEventType
from loyalty.money import CENT
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from loyalty.webhooks import webhook_emit
from members.history import Text
from members.ledger import Reversal, Source
from members.models import PointsAccount
from members.points import points_refund, points_reverse
from members.selectors import source_points
from members.tiers import member_record_activity
from purchases.earning import floor_points
from purchases.errors import DuplicateReference
from purchases.inputs import Recorded, body_fingerprint
from purchases.locks import purchase_gift_cards_lock
from purchases.models import Purchase, PurchaseLine, Return, ReturnLine
from rewards import locks as reward_locks
from rewards.gift_cards import gift_card_refund_locked
from rewards.models import GiftCardStatus


@dataclass(frozen=True)
class ReturnItem:
    sku: str
    quantity: int


def _line_value(line: PurchaseLine, quantity: int) -> Decimal:
    """What `quantity` more units of `line` give back: the line's net share up
    to the units returned after this less before it, each rounded to the cent,
    so returning a line bit by bit adds up to exactly its net."""
    before = line.returned_quantity
    after = before + quantity
    return (line.net * after / line.quantity).quantize(CENT) - (
        line.net * before / line.quantity
    ).quantize(CENT)


@dataclass(frozen=True)
class _SoFar:
    """What the sale's earlier returns gave back."""

    amount: Decimal
    eligible: Decimal
    settled: int  # points reversed, owed as clawback, or found expired
    expired: int

    @classmethod
    def of(cls, purchase: Purchase) -> _SoFar:
        sums = Return.objects.filter(purchase=purchase).aggregate(
            amount=Sum("amount"),
            eligible=Sum("eligible_amount"),
            reversed=Sum("points_reversed"),
            clawback=Sum("clawback"),
            expired=Sum("points_expired"),
        )
        return cls(
            amount=sums["amount"] or Decimal("0.00"),
            eligible=sums["eligible"] or Decimal("0.00"),
            settled=(sums["reversed"] or 0) + (sums["clawback"] or 0) + (sums["expired"] or 0),
            expired=sums["expired"] or 0,
        )


def _eligible_part(
    amount: Decimal, proposed: Decimal, *, left: Decimal, left_eligible: Decimal
) -> Decimal:
    """The part of `amount` that was on earning lines: `proposed`, kept within
    what is left of the eligible amount and of the rest, so the sale's returns
    reach its eligible amount exactly when they reach its total."""
    return min(left_eligible, max(amount - (left - left_eligible), proposed))


def _share(whole: int, part: Decimal, of: Decimal) -> int:
    """floor(whole × part / of): the points due once `part` of `of` is returned,
    exactly `whole` once all of it is."""
    if part >= of:
        return whole
    return floor_points(whole * part / of) if of > 0 else 0


def _return_amounts(
    purchase: Purchase,
    lines: list[PurchaseLine],
    items: list[ReturnItem] | None,
    amount: Decimal | None,
    so_far: _SoFar,
) -> tuple[Decimal, Decimal, list[tuple[PurchaseLine, int]]]:
    """(amount returned, of which on earning lines, [(line, quantity)]).

    Item quantities never exceed what is left of each line, and the money of
    all the sale's returns together — by amount or by items, in any order —
    never exceeds its total. The eligible part of items is their earning
    lines' value; of an amount, what is left of the eligible amount in
    proportion to what is left of the sale. Either way it stays within what is
    left of each, so the whole sale returned is its whole eligible amount
    returned, whatever the mix. Raises ValidationFailed otherwise (then nothing
    is written)."""
    earning_net = sum((line.net for line in lines if line.earns), Decimal("0.00"))
    left_to_return = purchase.total - so_far.amount
    left_eligible = earning_net - so_far.eligible
    if items is not None:
        taken: list[tuple[PurchaseLine, int]] = []
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(items):
            left = item.quantity
            for line in (line for line in lines if line.sku == item.sku):
                free = (
                    line.quantity - line.returned_quantity - sum(q for ln, q in taken if ln is line)
                )
                take = min(free, left)
                if take > 0:
                    taken.append((line, take))
                    left -= take
            if left > 0:
                errors[f"items[{index}].quantity"] = [
                    _("More than was bought (or already returned) of %(sku)s.") % {"sku": item.sku}
                ]
        if errors:
            raise ValidationFailed(fields=errors)
        per_line: dict[int, tuple[PurchaseLine, int]] = {}
        for line, quantity in taken:
            per_line[line.pk] = (line, per_line.get(line.pk, (line, 0))[1] + quantity)
        values = [(line, _line_value(line, quantity)) for line, quantity in per_line.values()]
        returned = sum((value for _line, value in values), Decimal("0.00"))
        returned_eligible = sum((value for line, value in values if line.earns), Decimal("0.00"))
        if returned > left_to_return:
            # An earlier return by amount gave money back without naming items.
            raise ValidationFailed(
                fields={
                    "items": [
                        _(
                            "These items are worth %(amount)s, more than is left of the sale "
                            "to return (%(left)s)."
                        )
                        % {"amount": returned, "left": left_to_return}
                    ]
                }
            )
        eligible = _eligible_part(
            returned, returned_eligible, left=left_to_return, left_eligible=left_eligible
        )
        return returned, eligible, taken
    assert amount is not None
    if amount <= 0 or amount > left_to_return:
        raise ValidationFailed(
            fields={
                "amount": [
                    _("A return cannot exceed what is left of the sale (%(left)s).")
                    % {"left": left_to_return}
                ]
            }
        )
    proposed = (left_eligible * amount / left_to_return).quantize(CENT)
    eligible = _eligible_part(amount, proposed, left=left_to_return, left_eligible=left_eligible)
    return amount, eligible, []


def _gift_cards_refund(
    purchase: Purchase, cum_amount: Decimal, *, actor: Actor, now: datetime
) -> dict[str, list[dict[str, str]]]:
    """Give back to each card that paid the sale (its PurchaseGiftCard rows,
    locked, then the cards, in the global lock order) its share of everything
    returned so far (`cum_amount`) less what earlier returns gave back: the
    shares floor to the cent and the last return brings back the rest.

    Only a usable card (active, not expired) takes its money back; a share
    that cannot go back on its card is named in `refund_to_till` with the
    reason, for the till to refund by its own means, and counts as given back.
    Returns the answer's `gift_cards_refunded` and `refund_to_till`."""
    charges = purchase_gift_cards_lock(purchase_id=purchase.pk)
    cards = {
        card.pk: card
        for card in reward_locks.gift_cards_lock_by_id(ids=[c.gift_card_id for c in charges])
    }
    refunded: list[dict[str, str]] = []
    to_till: list[dict[str, str]] = []
    for charge in charges:
        target = (
            min(
                charge.amount,
                (charge.amount * cum_amount / purchase.total).quantize(CENT, ROUND_DOWN),
            )
            if purchase.total
            else Decimal("0.00")
        )
        amount = target - charge.refunded
        if amount <= 0:
            continue
        card = cards[charge.gift_card_id]
        if card.is_usable(now):
            entry = gift_card_refund_locked(
                card,
                amount=amount,
                reference=purchase.reference,
                store=purchase.store,
                actor=actor,
                now=now,
            )
            refunded.append(
                {"code": card.code, "amount": str(amount), "balance": str(entry.balance_after)}
            )
        else:
            reason = "card_void" if card.status == GiftCardStatus.VOID else "card_expired"
            to_till.append({"code": card.code, "amount": str(amount), "reason": reason})
        charge.refunded = target
        charge.save(update_fields=["refunded"])
    return {"gift_cards_refunded": refunded, "refund_to_till": to_till}


@transaction.atomic
def purchase_return(
    *,
    purchase: Purchase,
    reference: str,
    actor: Actor,
    items: list[ReturnItem] | None = None,
    amount: Decimal | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Record a return of some items (or an amount) of a sale.

    Of everything the sale earned (all its earn and bonus entries), the
    return settles floor(earned × eligible returned so far / the sale's
    eligible amount) less what earlier returns settled: all of it once the
    whole sale is back. It is taken from what is still alive of the sale's
    points, pending first; what of them expired stays expired (nothing is
    taken for it); what the member spent comes off the balance, the rest a
    clawback owed. Points paid at the till come back the same way, in
    proportion to the amount returned so far (all of them with the whole
    sale), and so does what gift cards paid (back on each card while it is
    usable; otherwise the answer's `refund_to_till` names it). The return
    counts against the tier window of the sale it returns. A return by a
    staff user writes an AuditEvent (the return, its receipt as `after`) in
    the same transaction, as sales do. Raises ValidationFailed,
    DuplicateReference.
    """
    now = now or timezone.now()
    if (items is None) == (amount is None):
        raise ValidationFailed(fields={"items": [_("Give either items or an amount.")]})
    fingerprint = body_fingerprint(
        {
            "items": [[i.sku, i.quantity] for i in items] if items is not None else None,
            "amount": str(amount),
        }
    )
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    existing = Return.objects.filter(purchase=purchase, reference=reference).first()
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise DuplicateReference(
                _("This sale already has a different return under this reference.")
            )
        return Recorded(receipt=json.loads(existing.response), replayed=True, record_id=existing.pk)

    lines = list(purchase.lines.all())
    so_far = _SoFar.of(purchase)
    returned, returned_eligible, taken = _return_amounts(purchase, lines, items, amount, so_far)
    if returned <= 0:
        raise ValidationFailed(fields={"items": [_("Nothing to return.")]})
    earning_net = sum((line.net for line in lines if line.earns), Decimal("0.00"))
    cum_eligible = so_far.eligible + returned_eligible
    cum_amount = so_far.amount + returned

    record = Return.objects.create(
        purchase=purchase,
        reference=reference,
        amount=returned,
        eligible_amount=returned_eligible,
        fingerprint=fingerprint,
        created_at=now,
        recorded_by=actor.user,
    )
    for line, quantity in taken:
        ReturnLine.objects.create(return_record=record, line=line, quantity=quantity)
        PurchaseLine.objects.filter(pk=line.pk).update(
            returned_quantity=line.returned_quantity + quantity
        )
        line.returned_quantity += quantity

    member = purchase.member
    reversal = Reversal(0, 0, 0)
    to_refund = 0
    balance = None
    if member is not None:
        source = Source("purchase", str(purchase.pk))
        points = source_points(member_id=member.pk, source=source)
        # Every earning of the sale (base, tier, campaigns) in one: the share
        # due so far less what earlier returns settled, so the last return
        # settles exactly what is left.
        due = (
            _share(points.earned, cum_eligible, earning_net)
            if earning_net > 0
            else _share(points.earned, cum_amount, purchase.total)
        )
        to_refund = max(0, _share(points.paid, cum_amount, purchase.total) - points.refunded)
        description = Text("return", reference=reference, purchase=purchase.reference)
        reversal = points_reverse(
            member=member,
            points=max(0, due - so_far.settled),
            description=description,
            source=source,
            now=now,
            expired_counted=so_far.expired,
        )
        points_refund(
            member=member,
            points=to_refund,
            description=description,
            source=source,
            now=now,
            program=program_settings_get(),
        )
        # Counted in the period of the sale it returns, not today's: a year-old
        # sale returned now leaves the current tier window alone.
        member_record_activity(
            member=member,
            occurred_at=purchase.occurred_at,
            spend=-returned,
            points=-reversal.total,
            source=Source("return", str(record.pk)),
        )
        # What the sale added to the member's challenges goes back in the same
        # proportion (nothing to do for a sale that added nothing).
        challenges_purchase_returned(
            member=member,
            purchase_id=purchase.pk,
            added=purchase.challenges,
            total=purchase.total,
            returned_before=so_far.amount,
            returned_after=cum_amount,
            now=now,
        )
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
    gift_cards = _gift_cards_refund(purchase, cum_amount, actor=actor, now=now)
    if member is not None:
        # A referral this sale qualified is rejected when it comes back whole
        # (its row after the gift cards in the lock order; nothing to read for
        # a partial return).
        referral_purchase_returned(
            purchase_id=purchase.pk, fully_returned=cum_amount >= purchase.total, now=now
        )
    receipt = {
        "id": record.pk,
        "purchase_id": purchase.pk,
        "reference": reference,
        "amount": str(returned),
        "points_reversed": reversal.pending + reversal.available,
        "points_refunded": to_refund,
        "clawback": reversal.clawback,
        "points_expired": reversal.expired,
        "balance": balance,
        **gift_cards,
    }
    Return.objects.filter(pk=record.pk).update(
        points_reversed=reversal.pending + reversal.available,
        points_refunded=to_refund,
        clawback=reversal.clawback,
        points_expired=reversal.expired,
        response=json.dumps(receipt),
    )
    if actor.user is not None:
        audit_record(actor=actor, action="purchase.return", obj=record, after=receipt)
    webhook_emit(
        WebhookEventType.PURCHASE_RETURNED,
        lambda: {**receipt, "member_id": member.public_id if member is not None else None},
        now=now,
    )
    return Recorded(receipt=receipt, replayed=False, record_id=record.pk)
