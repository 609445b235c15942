"""Domain errors of campaigns (codes of API.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.errors import Conflict, NotFound, ValidationFailed


class CampaignNotFound(NotFound):
    default_message = _("No such campaign.")


class CampaignStatusRefused(ValidationFailed):
    """A status change that cannot work (ending twice, resuming a campaign
    whose window is over, activating one that has not started...)."""

    default_message = _("This campaign cannot change to that status.")


class EventReferenceTaken(Conflict):
    """The member already has an event of another name under this reference."""

    code = "duplicate_reference"
    default_message = _("This member already has a different event under this reference.")
