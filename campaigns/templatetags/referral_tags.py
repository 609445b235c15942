"""The referrals panel of a member's counter page (templates/staff/members/
member_detail.html): rendered by campaigns, so members (layer 2) names no
campaign code, only this template library."""

from __future__ import annotations

from typing import Any

from django import template

from campaigns.models import Referral
from campaigns.referrals import referral_reason_text, referrals_of_member
from members.models import Member

register = template.Library()

SHOWN = 20


@register.inclusion_tag("staff/campaigns/member_referrals.html")
def member_referrals(member: Member) -> dict[str, Any]:
    """Whom the member referred (with each status and, when rejected, its
    reason) and who referred them: two statements."""
    referrals = list(referrals_of_member(member=member)[:SHOWN])
    referred_by = Referral.objects.filter(friend=member).select_related("referrer").first()
    for referral in [*referrals, *([referred_by] if referred_by else [])]:
        referral.reason_text = referral_reason_text(referral.reason) if referral.reason else ""
    return {"member": member, "referrals": referrals, "referred_by": referred_by}
