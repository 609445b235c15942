"""Member pages of campaigns: the share link's landing (`/join?ref=CODE`,
public), the member's referral page (code, share buttons, their friends),
and the home page's panels "Ways to earn" and "Your offers now" (registered
in members.portal_panels by CampaignsConfig.ready).

The join page keeps a valid code in the session through allauth's sign-up
(members.adapters reads it when the member is made); an unknown code is a
friendly message and the sign-up goes on without it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from campaigns.engine import (
    CategoryBonusParams,
    MultiplierParams,
    SpendBonusParams,
)
from campaigns.models import ReferralStatus
from campaigns.referrals import referral_reason_text, referrals_of_member
from campaigns.selectors import SaleOffer, campaigns_to_earn, sale_offers_for_member
from loyalty.money import money_format
from members.access import MemberRequiredMixin
from members.adapters import REFERRAL_SESSION_KEY
from members.identifiers import REFERRAL_CODE_MAX_LENGTH
from members.models import Member
from members.portal_panels import PortalPanel
from members.selectors import member_by_referral_code

SESSION_KEY = REFERRAL_SESSION_KEY


class JoinView(View):
    """The share link: remember the friend's code, then sign up."""

    def get(self, request: HttpRequest) -> HttpResponse:
        code = (request.GET.get("ref") or "")[: REFERRAL_CODE_MAX_LENGTH * 2]
        if request.user.is_authenticated:
            messages.info(request, _("You are already a member: invite your own friends here."))
            return redirect("portal:referrals")
        referrer = member_by_referral_code(code=code)
        if referrer is None:
            request.session.pop(SESSION_KEY, None)
            if code.strip():
                messages.warning(
                    request,
                    _(
                        "We do not know this invitation code. You can still join; ask your "
                        "friend for their link again to get the welcome points."
                    ),
                )
        else:
            request.session[SESSION_KEY] = referrer.referral_code
            messages.success(
                request,
                _("%(name)s invited you: join, and your first purchase earns you both points.")
                % {"name": referrer.first_name or _("A friend")},
            )
        return redirect("account_signup")


def share_links(*, url: str, text: str, subject: str) -> dict[str, str]:
    """Plain links of the share buttons (they work without JavaScript)."""
    return {
        "whatsapp": "https://wa.me/?" + urlencode({"text": f"{text} {url}"}, quote_via=quote),
        "facebook": "https://www.facebook.com/sharer/sharer.php?"
        + urlencode({"u": url}, quote_via=quote),
        "x": "https://twitter.com/intent/tweet?"
        + urlencode({"text": text, "url": url}, quote_via=quote),
        "email": "mailto:?"
        + urlencode({"subject": subject, "body": f"{text}\n\n{url}"}, quote_via=quote),
    }


class PortalReferralsView(MemberRequiredMixin, TemplateView):
    """The member's code and share link, share buttons, and their referrals
    with status."""

    template_name = "portal/campaigns/referrals.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        member = self.member
        url = self.request.build_absolute_uri(
            reverse("join") + "?" + urlencode({"ref": member.referral_code})
        )
        text = _("Join me at Setia with my code %(code)s and we both earn points:") % {
            "code": member.referral_code
        }
        referrals = list(referrals_of_member(member=member))
        for referral in referrals:
            referral.reason_text = referral_reason_text(referral.reason) if referral.reason else ""
        return super().get_context_data(
            member=member,
            share_url=url,
            links=share_links(url=url, text=text, subject=_("Join me at Setia")),
            referrals=referrals,
            rewarded=sum(1 for r in referrals if r.status == ReferralStatus.REWARDED),
            **kwargs,
        )


def ways_to_earn_panel(member: Member, now: datetime) -> PortalPanel | None:
    """The live campaigns the member can still earn from, or None when there is none."""
    ways = campaigns_to_earn(member=member, now=now)
    if not ways:
        return None
    return PortalPanel(template="portal/campaigns/ways_to_earn.html", context={"ways": ways})


WEEKEND = frozenset({5, 6})
WEEKDAYS = frozenset({0, 1, 2, 3, 4})


def _day_names() -> list[str]:
    return [
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    ]


def _factor_text(factor: Decimal) -> str:
    # "2.00" reads "2", "1.50" reads "1.5" (in the reader's number format).
    return formats.number_format(Decimal(f"{factor:f}".rstrip("0").rstrip(".")))


def offer_headline(offer: SaleOffer) -> str:
    """What the offer gives, in the reader's language: "×2 points",
    "+5 points per RM 1.00 on Snacks", "+50 points on a basket of RM 100.00"."""
    params = offer.params
    lines = [*offer.rule.get("categories", []), *offer.rule.get("skus", [])]
    on_lines = get_text_list(lines, _("or")) if lines else ""
    if isinstance(params, MultiplierParams):
        if on_lines:
            return _("×%(factor)s points on %(lines)s") % {
                "factor": _factor_text(params.factor),
                "lines": on_lines,
            }
        return _("×%(factor)s points") % {"factor": _factor_text(params.factor)}
    if isinstance(params, CategoryBonusParams):
        values = {
            "points": params.points,
            "amount": money_format(params.per_amount),
            "lines": on_lines,
        }
        if on_lines:
            return _("+%(points)s points per %(amount)s on %(lines)s") % values
        return _("+%(points)s points per %(amount)s spent") % values
    assert isinstance(params, SpendBonusParams)
    values = {"points": params.points, "amount": money_format(params.min_spend)}
    if params.first_purchase_only:
        return _("+%(points)s points on your first basket of %(amount)s or more") % values
    return _("+%(points)s points on a basket of %(amount)s or more") % values


def offer_conditions(offer: SaleOffer) -> list[str]:
    """When and where the offer applies, each as a short phrase."""
    params = offer.params
    phrases = []
    if isinstance(params, MultiplierParams):
        days = params.days_of_week
        if days is not None and days != frozenset(range(7)):
            if days == WEEKEND:
                phrases.append(_("at the weekend"))
            elif days == WEEKDAYS:
                phrases.append(_("on weekdays"))
            else:
                names = _day_names()
                phrases.append(
                    _("on %(days)s")
                    % {"days": get_text_list([names[d] for d in sorted(days)], _("and"))}
                )
        if params.hours is not None:
            phrases.append(
                _("from %(start)s to %(end)s")
                % {
                    "start": params.hours.start.strftime("%H:%M"),
                    "end": params.hours.end.strftime("%H:%M"),
                }
            )
        if params.min_spend > 0:
            phrases.append(
                _("on a basket of %(amount)s or more") % {"amount": money_format(params.min_spend)}
            )
    if offer.store_names:
        phrases.append(
            _("at %(stores)s") % {"stores": get_text_list(list(offer.store_names), _("or"))}
        )
    if offer.ends_at is not None:
        phrases.append(
            _("until %(date)s")
            % {"date": formats.date_format(timezone.localtime(offer.ends_at), "j M Y")}
        )
    return phrases


def sale_offers_panel(member: Member, now: datetime) -> PortalPanel | None:
    """The live sale campaigns the member is in now (never one they are held
    out of), in words, or None when there is none."""
    offers = sale_offers_for_member(member=member, now=now)
    if not offers:
        return None
    return PortalPanel(
        template="portal/campaigns/offers.html",
        context={
            "offers": [
                {
                    "name": offer.name,
                    "headline": offer_headline(offer),
                    "conditions": offer_conditions(offer),
                }
                for offer in offers
            ]
        },
    )
