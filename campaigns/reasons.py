"""The sentences people read for the engine's reasons (campaigns.engine), for
`POST /purchases/preview`'s `not_matched` and the pages."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from campaigns import engine

REASON_TEXTS: dict[str, Promise] = {
    engine.INACTIVE: _("The campaign is not running."),
    engine.WINDOW: _("Outside the campaign's dates."),
    engine.STORE: _("Not at one of the campaign's stores."),
    engine.TIER: _("The member's tier is not in the campaign's audience."),
    engine.SEGMENT: _("The member is not in the campaign's segment."),
    engine.HOLDOUT: _("The member is in the campaign's hold-out (control group)."),
    engine.DAYS: _("Not on one of the campaign's days."),
    engine.HOURS: _("Outside the campaign's hours."),
    engine.MIN_SPEND: _("Below the campaign's minimum spend."),
    engine.FIRST_PURCHASE: _("Only for the member's first purchase."),
    engine.NO_MATCHING_LINE: _("No line of the sale matches the campaign's products."),
    engine.OTHER_EVENT: _("The campaign rewards another event."),
    engine.NO_POINTS: _("The campaign comes to no points on this sale."),
    engine.BUDGET: _("The campaign's budget is used up."),
    engine.CAP: _("The member has reached the campaign's cap."),
    engine.SUPERSEDED: _("A larger award that does not stack counts instead."),
}


def reason_text(reason: str) -> str:
    return str(REASON_TEXTS.get(reason, reason))
