"""Member pages. Every query is scoped to `self.member` (MemberRequiredMixin):
no portal URL carries a member id, so a member can only ever reach their own data."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import FormView, TemplateView

from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.forms import form_errors_from
from loyalty.selectors import program_settings_get
from members.access import MemberRequiredMixin
from members.card_images import card_number_grouped, code128_svg, qr_svg
from members.filters import LedgerFilter
from members.models import EntryStatus
from members.portal_forms import PortalProfileForm
from members.portal_panels import portal_home_panels_for
from members.selectors import ledger_list, member_status, points_by_day, tier_list
from members.services import member_update
from members.views import language_cookie_set

RECENT_ENTRIES = 5
HISTORY_PAGE_SIZE = 20


class PortalHomeView(MemberRequiredMixin, TemplateView):
    """The member card, balance, pending and expiring points, tier progress and
    the latest entries, in a fixed number of queries (a test counts them)."""

    template_name = "portal/members/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        member = self.member
        label = _("Card number %(number)s") % {"number": member.card_number}
        return super().get_context_data(
            member=member,
            account=member.account,
            program=program_settings_get(),
            status=member_status(member=member),
            pending=points_by_day(
                member_id=member.pk, status=EntryStatus.PENDING, column="available_at"
            ),
            expiring=points_by_day(
                member_id=member.pk,
                status=EntryStatus.AVAILABLE,
                column="expires_at",
                after=timezone.now(),
            ),
            recent=list(ledger_list(member=member)[:RECENT_ENTRIES]),
            card_number=card_number_grouped(member.card_number),
            qr=qr_svg(member.card_number, label=label),
            barcode=code128_svg(member.card_number, label=label),
            # What the apps above add (members.portal_panels): campaigns' ways to earn.
            panels=portal_home_panels_for(member=member, now=timezone.now()),
            **kwargs,
        )


class PortalHistoryView(MemberRequiredMixin, TemplateView):
    """The member's ledger, filtered by kind, status and dates, newest first."""

    template_name = "portal/members/history.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        history = LedgerFilter(self.request.GET or None, queryset=ledger_list(member=self.member))
        page_obj = Paginator(history.qs, HISTORY_PAGE_SIZE).get_page(self.request.GET.get("page"))
        filtered = any(self.request.GET.get(name) for name in history.form.fields if name != "page")
        return super().get_context_data(
            member=self.member,
            history=history,
            filtered=filtered,
            page_obj=page_obj,
            entries=page_obj.object_list,
            **kwargs,
        )


class PortalTiersView(MemberRequiredMixin, TemplateView):
    """Every tier, the member's own highlighted, and what the next one takes."""

    template_name = "portal/members/tiers.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            member=self.member,
            program=program_settings_get(),
            tiers=tier_list(),
            status=member_status(member=self.member),
            **kwargs,
        )


class PortalProfileView(MemberRequiredMixin, FormView):
    """The member's own details, saved through `member_update` (audited, checks
    that the phone is nobody else's). The email is the login: allauth changes it."""

    template_name = "portal/members/profile.html"
    form_class = PortalProfileForm

    def get_initial(self) -> dict[str, Any]:
        member = self.member
        return {
            "first_name": member.first_name,
            "last_name": member.last_name,
            "phone": member.phone,
            "birth_date": member.birth_date,
            "language": member.language,
            "marketing_consent": member.marketing_consent,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(member=self.member, **kwargs)

    def form_valid(self, form: PortalProfileForm) -> HttpResponse:
        try:
            member = member_update(
                actor=Actor.from_request(self.request), member=self.member, **form.cleaned_data
            )
        except DomainError as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("Your details are saved."))
        response = redirect("portal:profile")
        # The pages follow the language just chosen, as the language switch does.
        language_cookie_set(response, member.language)
        return response
