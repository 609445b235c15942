"""What campaigns show members on the portal: the "Ways to earn" panel of
the home page (registered in members.portal_panels by CampaignsConfig.ready)."""

from __future__ import annotations

from datetime import datetime

from campaigns.selectors import campaigns_to_earn
from members.models import Member
from members.portal_panels import PortalPanel


def ways_to_earn_panel(member: Member, now: datetime) -> PortalPanel | None:
    """The live campaigns the member can still earn from, or None when there is none."""
    ways = campaigns_to_earn(member=member, now=now)
    if not ways:
        return None
    return PortalPanel(template="portal/campaigns/ways_to_earn.html", context={"ways": ways})
