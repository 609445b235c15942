"""Domain errors of rewards, vouchers and gift cards (codes of API.md).

`insufficient_points` comes from members.errors.InsufficientPoints and
`member_inactive` from members.errors.MemberInactive.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.errors import Conflict, DomainError, NotFound, ValidationFailed


class RewardNotFound(NotFound):
    default_message = _("No such reward.")


class RewardUnavailable(DomainError):
    """Inactive, archived, out of its window, out of stock, or not for the member's tier."""

    code = "reward_unavailable"
    status = 422
    default_message = _("This reward is not available.")


class OutOfStock(RewardUnavailable):
    """No stock left for the quantity asked. API.md has no code of its own for
    it: a till sees `reward_unavailable`, the sentence says why."""

    default_message = _("This reward is out of stock.")


class StockChanged(ValidationFailed):
    """A page's edit of the stock no longer fits the stock left: redemptions
    (or another edit) changed it since the page was shown."""

    default_message = _("The stock changed since you opened this page. Check it and save again.")


class LimitReached(DomainError):
    code = "limit_reached"
    status = 422
    default_message = _("This member has already redeemed this reward as often as allowed.")


class RedemptionNotFound(NotFound):
    default_message = _("No such redemption.")


class RedeemConfirmationExpired(ValidationFailed):
    """The portal's confirmation token is not valid: too old, tampered with,
    or for another member or reward. The member is asked to confirm again."""

    default_message = _("This confirmation has expired. Please confirm again.")


class RedeemConfirmationStale(Conflict):
    """Another redemption (of another reward) followed since the confirmation
    was drawn, so the balance it showed is not today's."""

    default_message = _("Your points have changed since this page opened. Please confirm again.")


class RedemptionNotCancellable(DomainError):
    """API.md has no code of its own for it: the reason is always a voucher (or
    gift card) of the redemption that was used or expired, so a till sees
    `voucher_not_usable` and the sentence says why."""

    code = "voucher_not_usable"
    status = 422
    default_message = _(
        "This redemption can no longer be cancelled: a voucher or gift card of it was used "
        "or has expired."
    )


class VoucherNotFound(NotFound):
    default_message = _("No such voucher.")


class VoucherNotUsable(DomainError):
    """Used, expired, cancelled, or another member's."""

    code = "voucher_not_usable"
    status = 422
    default_message = _("This voucher cannot be used.")


class GiftCardNotFound(NotFound):
    default_message = _("No such gift card.")


class GiftCardNotUsable(DomainError):
    """Void or expired: nothing on it can be spent. API.md's code for a charge
    the card cannot cover is `gift_card_insufficient_balance`; the sentence
    says why."""

    code = "gift_card_insufficient_balance"
    status = 422
    default_message = _("This gift card is void or expired.")


class GiftCardInsufficientBalance(DomainError):
    code = "gift_card_insufficient_balance"
    status = 422
    default_message = _("The gift card's balance is below the amount to charge.")


class DuplicateChargeReference(Conflict):
    code = "duplicate_reference"
    default_message = _("This gift card already has a different charge under this reference.")


class CodeLookupsExceeded(DomainError):
    """Too many unknown codes were tried from this key, user or address
    (rewards.throttling); the API answers DRF's own 429 `rate_limited`, the
    counter's pages show this sentence."""

    code = "rate_limited"
    status = 429
    default_message = _(
        "Too many unknown codes were tried from here. Wait a minute, then try again."
    )
