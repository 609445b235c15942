"""Domain errors of members and the ledger (codes of API.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.errors import DomainError, NotFound, PermissionDenied, ValidationFailed


class MemberNotFound(NotFound):
    default_message = _("No such member.")


class MemberListNeedsAdmin(PermissionDenied):
    default_message = _(
        "Look members up by an exact card_number, email, phone or external_id; searching "
        "or listing members needs an API key with scope admin."
    )


class MemberInactive(DomainError):
    code = "member_inactive"
    status = 422
    default_message = _("This member is blocked or deleted.")


class MemberExists(ValidationFailed):
    default_message = _("A member with this email or phone already exists.")


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    status = 422
    default_message = _("The member does not have enough points.")


class AdjustmentLimit(DomainError):
    code = "permission_denied"
    status = 403
    default_message = _("This correction is above what your role may do; ask a manager.")


class TierInUse(ValidationFailed):
    """API.md has no code of its own for it: a tier that members hold, or that
    their tier history names, is `invalid` to delete; the sentence says why."""

    default_message = _("Members hold this tier; move them before deleting it.")


class SegmentNotFound(NotFound):
    default_message = _("No such segment.")


class SegmentInUse(ValidationFailed):
    """A segment that a reward (or a campaign) targets cannot be deleted."""

    default_message = _("This segment is in use; take it off what uses it before deleting it.")
