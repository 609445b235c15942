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


class ChallengeNotFound(NotFound):
    default_message = _("No such challenge.")


class BadgeNotFound(NotFound):
    default_message = _("No such badge.")


class ChallengeStatusRefused(ValidationFailed):
    """A status change of a challenge that cannot work."""

    default_message = _("This challenge cannot change to that status.")


class ChallengeNotJoinable(ValidationFailed):
    """The member cannot join this challenge (not running, not opt-in, not in
    its audience): `invalid`, the contract's code for a refused request."""

    default_message = _("You cannot join this challenge.")


class NicknameRefused(ValidationFailed):
    """A leaderboard nickname that is taken, badly formed, or shows who the member is."""

    default_message = _("Choose another nickname.")
