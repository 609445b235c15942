"""The check phase of a sale (purchases.services): everything that could
refuse it, read from its rows (locked in a sale, read plainly in a preview),
before anything is written."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from loyalty.errors import ValidationFailed
from loyalty.money import money_format
from members.errors import InsufficientPoints
from members.services import member_ensure_active
from purchases.inputs import SaleInput, sale_gift_card_amounts, sale_voucher_codes
from purchases.locks import SaleRows
from rewards.errors import GiftCardInsufficientBalance, GiftCardNotUsable, VoucherNotUsable
from rewards.models import GiftCard, Voucher


def sale_check(
    *,
    sale: SaleInput,
    rows: SaleRows,
    spendable: int | None,
    now: datetime,
) -> list[Voucher]:
    """Everything that can refuse the sale, on its rows (locked in a sale):
    the member is active, each voucher usable by this sale, the points within
    `spendable`, each gift card usable and able to pay its part. Returns the
    sale's vouchers in the till's order.

    Raises MemberInactive, VoucherNotUsable, InsufficientPoints,
    ValidationFailed (an unknown gift card), GiftCardNotUsable,
    GiftCardInsufficientBalance."""
    if sale.member is not None:
        member_ensure_active(sale.member)
    vouchers = _vouchers_check(sale, rows.vouchers, now)
    if spendable is not None and sale.points_to_redeem > spendable:
        raise InsufficientPoints()
    _gift_cards_check(sale, rows.gift_cards, now)
    return vouchers


def _vouchers_check(sale: SaleInput, found: dict[str, Voucher], now: datetime) -> list[Voucher]:
    """The sale's vouchers in the till's order, each usable by this sale.

    Raises VoucherNotUsable for an unknown code, a code listed twice, a voucher
    used, expired or cancelled, or another member's: one bad voucher refuses
    the whole sale (API.md). An unknown code and another member's voucher get
    one message, so a till cannot tell which codes exist; staff look a code up
    at the counter's voucher desk."""
    vouchers: list[Voucher] = []
    for code in sale_voucher_codes(sale):
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
    that cannot pay its part. The messages never tell a card's balance:
    whoever guesses a code learns nothing of what it holds."""
    for code, amount in sale_gift_card_amounts(sale).items():
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
                % {"code": code, "amount": money_format(amount)}
            )
