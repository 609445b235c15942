"""Domain errors of surveys and service recovery (codes of API.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.errors import DomainError, ValidationFailed


class SurveyClosed(ValidationFailed):
    """The invitation was answered already, or its time is over."""

    default_message = _("This survey is closed: it was answered already or its time is over.")


class FeedbackExists(ValidationFailed):
    """The purchase has an answer of this kind already, with another score or comment."""

    default_message = _("This purchase has an answer to this survey already.")


class FollowUpClosed(DomainError):
    default_message = _("This follow-up is closed: it cannot change any more.")
