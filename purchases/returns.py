"""Returns: give back part or all of a sale, with its points reversed in
proportion (pending first, then spendable, the rest a clawback owed), the
points paid with refunded, and gift cards paid with refunded their share.

A return is unique per (purchase, reference): the same return again replays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.money import CENT
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from members.ledger import Source
from members.models import PointsAccount
from members.services import (
    member_record_activity,
    points_refund,
    points_reverse,
)
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


def _return_amounts(
    purchase: Purchase,
    lines: list[PurchaseLine],
    items: list[ReturnItem] | None,
    amount: Decimal | None,
) -> tuple[Decimal, Decimal, list[tuple[PurchaseLine, int]]]:
    """(amount returned, of which on earning lines, [(line, quantity)]).

    Item quantities never exceed what is left of each line, and the money of
    all the sale's returns together — by amount or by items, in any order —
    never exceeds its total. Raises ValidationFailed otherwise (then nothing is
    written)."""
    earning_net = sum((line.net for line in lines if line.earns), Decimal("0.00"))
    already = Return.objects.filter(purchase=purchase).aggregate(total=Sum("amount"))["total"]
    left_to_return = purchase.total - (already or Decimal("0.00"))
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
        return returned, returned_eligible, taken
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
    share = earning_net / purchase.total if purchase.total else Decimal("0")
    return amount, (amount * share).quantize(CENT), []


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

    Earned points are reversed in proportion to the returned amount on earning
    lines (never more than was earned), pending first; what the member already
    spent becomes a clawback. Points paid at the till come back in proportion
    to the returned amount, and so does what gift cards paid (back on each
    card while it is usable; otherwise the answer's `refund_to_till` names
    it). A return by a staff user writes an AuditEvent (the return, its
    receipt as `after`) in the same transaction, as sales do. Raises
    ValidationFailed, DuplicateReference.
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
    returned, returned_eligible, taken = _return_amounts(purchase, lines, items, amount)
    if returned <= 0:
        raise ValidationFailed(fields={"items": [_("Nothing to return.")]})
    previous = Return.objects.filter(purchase=purchase).aggregate(
        amount=Sum("amount"),
        eligible=Sum("eligible_amount"),
        reversed=Sum("points_reversed"),
        clawback=Sum("clawback"),
        refunded=Sum("points_refunded"),
    )
    earning_net = sum((line.net for line in lines if line.earns), Decimal("0.00"))
    cum_eligible = (previous["eligible"] or 0) + returned_eligible
    cum_amount = (previous["amount"] or 0) + returned
    reverse_target = (
        min(purchase.points_earned, int(purchase.points_earned * cum_eligible / earning_net))
        if earning_net
        else 0
    )
    to_reverse = max(0, reverse_target - (previous["reversed"] or 0) - (previous["clawback"] or 0))
    refund_target = (
        min(purchase.points_redeemed, int(purchase.points_redeemed * cum_amount / purchase.total))
        if purchase.total
        else 0
    )
    to_refund = max(0, refund_target - (previous["refunded"] or 0))

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
    reversal_available = reversal_clawback = reversal_pending = 0
    balance = None
    if member is not None:
        source = Source("purchase", str(purchase.pk))
        with translation.override(member.language):
            description = _("Return %(reference)s of receipt %(purchase)s") % {
                "reference": reference,
                "purchase": purchase.reference,
            }
        reversal = points_reverse(
            member=member, points=to_reverse, description=description, source=source, now=now
        )
        reversal_pending, reversal_available, reversal_clawback = (
            reversal.pending,
            reversal.available,
            reversal.clawback,
        )
        points_refund(
            member=member,
            points=to_refund,
            description=description,
            source=source,
            now=now,
            program=program_settings_get(),
        )
        member_record_activity(
            member=member,
            occurred_at=now,
            spend=-returned,
            points=-to_reverse,
            source=Source("return", str(record.pk)),
        )
        balance = PointsAccount.objects.values_list("balance", flat=True).get(member=member)
    gift_cards = _gift_cards_refund(purchase, cum_amount, actor=actor, now=now)
    receipt = {
        "id": record.pk,
        "purchase_id": purchase.pk,
        "reference": reference,
        "amount": str(returned),
        "points_reversed": reversal_pending + reversal_available,
        "points_refunded": to_refund,
        "clawback": reversal_clawback,
        "balance": balance,
        **gift_cards,
    }
    Return.objects.filter(pk=record.pk).update(
        points_reversed=reversal_pending + reversal_available,
        points_refunded=to_refund,
        clawback=reversal_clawback,
        response=json.dumps(receipt),
    )
    if actor.user is not None:
        audit_record(actor=actor, action="purchase.return", obj=record, after=receipt)
    return Recorded(receipt=receipt, replayed=False, record_id=record.pk)
