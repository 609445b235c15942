"""A sale as a till or the counter gives it: its input types, the fingerprint
a repeated receipt is compared by, and the checks that need nothing but the
input (the first phase of purchases.services.purchase_record).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from loyalty.errors import ValidationFailed
from loyalty.limits import MONEY_MAX
from loyalty.models import Store
from loyalty.money import money_format
from members.models import Member
from rewards.voucher_codes import normalise_code

# What a SKU may look like (the API's and the import's rule).
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"


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
    # Each line's own discount, when the source gives them line by line (an
    # imported history): then they are the lines' shares of `discount_total`
    # (their sum), instead of sharing it in proportion to the amounts.
    line_discounts: tuple[Decimal, ...] = ()
    # A sale of an imported history (purchases.imports): it earns base and
    # tier points only; no campaign, referral or message follows from it.
    imported: bool = False


@dataclass(frozen=True)
class Recorded:
    """A receipt (the API's response body) and whether it is a replay."""

    receipt: dict[str, Any]
    replayed: bool
    record_id: int


# json.dumps(value, sort_keys=True, default=str), built once (dumps builds
# an encoder per call for any option given).
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, default=str)


def body_fingerprint(value: Any) -> str:
    """What a repeated receipt (or return) is compared by: a hash of its content."""
    return hashlib.sha256(_FINGERPRINT_JSON.encode(value).encode()).hexdigest()


def sale_fingerprint(sale: SaleInput) -> str:
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
            **(
                {"line_discounts": [str(d) for d in sale.line_discounts]}
                if sale.line_discounts
                else {}
            ),
            # Only when given, so receipts recorded before vouchers existed still
            # replay; normalised, so "7kq4m2xh9tpa" retries "7KQ4-M2XH-9TPA".
            **({"vouchers": sale_voucher_codes(sale)} if sale.vouchers else {}),
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


def sale_voucher_codes(sale: SaleInput) -> list[str]:
    """The sale's voucher codes, normalised, in the till's order."""
    return [normalise_code(code) or code.strip().upper() for code in sale.vouchers]


def sale_gift_card_amounts(sale: SaleInput) -> dict[str, Decimal]:
    """What the sale asks of each gift card (normalised code), in the till's
    order: a card listed twice pays the sum."""
    asked: dict[str, Decimal] = {}
    for card_input in sale.gift_cards:
        code = normalise_code(card_input.code) or ""
        asked[code] = asked.get(code, Decimal("0.00")) + card_input.amount
    return asked


def sale_validate(*, sale: SaleInput, now: datetime) -> None:
    """What can be told wrong from the sale alone (no database): no items, a
    time in the future, points without a member, a sale above what its
    columns hold, a discount above the sale (or a line's above the line).
    Raises ValidationFailed naming every such field."""
    errors: dict[str, list[str]] = {}
    if not sale.items:
        errors["items"] = [_("A sale needs at least one item.")]
    if sale.occurred_at > now + timedelta(minutes=5):
        errors["occurred_at"] = [_("A sale cannot happen in the future.")]
    if sale.points_to_redeem and sale.member is None:
        errors["points_to_redeem"] = [_("Only a member can pay with points.")]
    subtotal = sum((item.unit_price * item.quantity for item in sale.items), Decimal("0.00"))
    if subtotal > MONEY_MAX:  # so that every sum of the sale fits its column
        errors["items"] = [
            _("A sale adds up to at most %(amount)s.") % {"amount": money_format(MONEY_MAX)}
        ]
    elif sale.discount_total > subtotal:
        errors["discount_total"] = [_("The discount is larger than the sale.")]
    if sale.line_discounts and (
        len(sale.line_discounts) != len(sale.items)
        or sum(sale.line_discounts, Decimal("0.00")) != sale.discount_total
        or any(
            not 0 <= discount <= item.unit_price * item.quantity
            for discount, item in zip(sale.line_discounts, sale.items, strict=False)
        )
    ):
        errors["discount_total"] = [_("A line's discount is larger than the line.")]
    if errors:
        raise ValidationFailed(fields=errors)
